//! Building an analyzer's column-wise result.

use crate::{Analyses, Signal, Verdict};

/// Score thresholds for signals: at or above 80 strong-buy, 60 buy; at or below 20
/// strong-sell, 40 sell; neutral in between.
pub fn verdict(score: f64) -> Verdict {
    let score = score.clamp(0.0, 100.0);
    let signal = if score >= 80.0 {
        Signal::StrongBuy
    } else if score >= 60.0 {
        Signal::Buy
    } else if score <= 20.0 {
        Signal::StrongSell
    } else if score <= 40.0 {
        Signal::Sell
    } else {
        Signal::Neutral
    };
    Verdict { score, signal }
}

/// Collects one row per symbol, in the market's order, into [`Analyses`].
pub struct AnalysesBuilder {
    names: Vec<String>,
    verdicts: Vec<Option<Verdict>>,
    components: Vec<f64>,
}

impl AnalysesBuilder {
    /// Starts a result whose rows carry the named components, for `symbols` symbols.
    pub fn new(component_names: &[&str], symbols: usize) -> Self {
        Self {
            names: component_names.iter().map(|n| n.to_string()).collect(),
            verdicts: Vec::with_capacity(symbols),
            components: Vec::with_capacity(symbols * component_names.len()),
        }
    }

    /// Adds the next symbol's verdict and components (one value per component name).
    pub fn push(&mut self, verdict: Verdict, components: &[f64]) {
        self.verdicts.push(Some(verdict));
        self.push_components(components);
    }

    /// Adds the next symbol with no opinion; its components may be partly known (NaN otherwise).
    pub fn abstain(&mut self, components: &[f64]) {
        self.verdicts.push(None);
        self.push_components(components);
    }

    fn push_components(&mut self, components: &[f64]) {
        let k = self.names.len();
        self.components
            .extend((0..k).map(|j| components.get(j).copied().unwrap_or(f64::NAN)));
    }

    /// The finished result.
    pub fn finish(self) -> Analyses {
        Analyses {
            verdicts: self.verdicts,
            component_names: self.names,
            components: self.components,
        }
    }
}

impl Signal {
    /// The signal's name in cache values: `STRONG_BUY`, `BUY`, `NEUTRAL`, `SELL`, `STRONG_SELL`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Signal::StrongBuy => "STRONG_BUY",
            Signal::Buy => "BUY",
            Signal::Neutral => "NEUTRAL",
            Signal::Sell => "SELL",
            Signal::StrongSell => "STRONG_SELL",
        }
    }

    /// True for buy and strong-buy.
    pub fn is_buy(&self) -> bool {
        matches!(self, Signal::StrongBuy | Signal::Buy)
    }

    /// True for sell and strong-sell.
    pub fn is_sell(&self) -> bool {
        matches!(self, Signal::StrongSell | Signal::Sell)
    }
}
