//! Signals held between calls: hysteresis, the first thing most strategies with state want.
//! A score that wavers around a threshold flips a plain [`verdict`]'s signal every cycle; a
//! held signal moves only once the score is a margin past the threshold it crosses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{verdict, Signal, Verdict};

/// Each symbol's signal as last given, by symbol name: a plugin's state, or part of it. It
/// encodes as `{"BTCUSDT": "BUY", ...}`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HeldSignals(BTreeMap<String, String>);

impl HeldSignals {
    /// The verdict on `symbol` for `score`, its signal held as given last time unless the score
    /// is at least `margin` points past the threshold it would cross; remembers the signal
    /// given in `next`, the state for the next call (so symbols gone from the market are
    /// forgotten and the state stays bounded by the market).
    pub fn verdict(&self, symbol: &str, score: f64, margin: f64, next: &mut HeldSignals) -> Verdict {
        let held = self.0.get(symbol).and_then(|name| signal_named(name));
        let given = held_verdict(score, held, margin);
        next.0.insert(symbol.to_string(), given.signal.as_str().to_string());
        given
    }

    /// The signal last given to `symbol`, if any.
    pub fn get(&self, symbol: &str) -> Option<Signal> {
        self.0.get(symbol).and_then(|name| signal_named(name))
    }

    /// How many symbols it holds a signal for.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// [`verdict`] with hysteresis: keeps `held` (the signal last given) while the score is within
/// `margin` points of the thresholds around it; otherwise the plain verdict's signal.
pub fn held_verdict(score: f64, held: Option<Signal>, margin: f64) -> Verdict {
    let plain = verdict(score);
    let Some(held) = held else {
        return plain;
    };
    let (low, high) = (
        rank(verdict(score - margin).signal),
        rank(verdict(score + margin).signal),
    );
    match (low..=high).contains(&rank(held)) {
        true => Verdict { signal: held, ..plain },
        false => plain,
    }
}

/// Strong sell 0 to strong buy 4.
fn rank(signal: Signal) -> u8 {
    match signal {
        Signal::StrongSell => 0,
        Signal::Sell => 1,
        Signal::Neutral => 2,
        Signal::Buy => 3,
        Signal::StrongBuy => 4,
    }
}

/// The signal named as [`Signal::as_str`] names it.
fn signal_named(name: &str) -> Option<Signal> {
    [
        Signal::StrongBuy,
        Signal::Buy,
        Signal::Neutral,
        Signal::Sell,
        Signal::StrongSell,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_moves_only_a_margin_past_its_threshold() {
        // Buy from 60: a held neutral stays neutral until 65, a held buy stays buy down to 55.
        assert_eq!(held_verdict(62.0, Some(Signal::Neutral), 5.0).signal, Signal::Neutral);
        assert_eq!(held_verdict(65.0, Some(Signal::Neutral), 5.0).signal, Signal::Buy);
        assert_eq!(held_verdict(56.0, Some(Signal::Buy), 5.0).signal, Signal::Buy);
        assert_eq!(held_verdict(54.0, Some(Signal::Buy), 5.0).signal, Signal::Neutral);
        // The score itself is never held, and nothing held gives the plain verdict.
        assert_eq!(held_verdict(56.0, Some(Signal::Buy), 5.0).score, 56.0);
        assert_eq!(held_verdict(62.0, None, 5.0).signal, Signal::Buy);
        // A jump across two thresholds is taken at once.
        assert_eq!(held_verdict(90.0, Some(Signal::Sell), 5.0).signal, Signal::StrongBuy);
    }

    #[test]
    fn held_signals_round_trip_and_forget_symbols_gone() {
        let mut first = HeldSignals::default();
        let before = HeldSignals::default();
        before.verdict("AUSDT", 70.0, 5.0, &mut first);
        before.verdict("BUSDT", 30.0, 5.0, &mut first);
        let json = serde_json::to_string(&first).unwrap();
        assert_eq!(json, r#"{"AUSDT":"BUY","BUSDT":"SELL"}"#);
        let read: HeldSignals = serde_json::from_str(&json).unwrap();
        let mut second = HeldSignals::default();
        assert_eq!(read.verdict("AUSDT", 58.0, 5.0, &mut second).signal, Signal::Buy);
        assert_eq!((second.len(), second.get("BUSDT")), (1, None));
    }
}
