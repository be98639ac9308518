//! `[evaluation]`: how analyzer verdicts are scored against what the market did next — when a
//! sample of verdicts is taken, the horizons it is scored at, how late a forward price may be,
//! and the bound on what is kept.

use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

/// A duration written as people write one (`90s`, `5m`, `1h`), from 1 s to a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Span(pub Duration);

impl TryFrom<String> for Span {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let span = humantime::parse_duration(text.trim()).map_err(|e| format!("{text:?} is not a duration ({e})"))?;
        if span < Duration::from_secs(1) || span > Duration::from_secs(24 * 3600) || span.subsec_nanos() != 0 {
            return Err(format!("{text:?} must be whole seconds from 1s to 24h"));
        }
        Ok(Self(span))
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.as_secs();
        match s {
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

/// How verdicts are sampled and scored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// Whether verdicts are scored at all.
    pub enabled: bool,
    /// How far ahead each sample is scored: the forward return runs from the sample to the first
    /// fresh snapshot at least this much later.
    pub horizons: Vec<Span>,
    /// One sample per period of this length: the first fresh snapshot in it (with `1m`, each
    /// closed one-minute candle).
    pub sample_every: Span,
    /// How much later than its horizon a forward price may come; a sample with none by then is
    /// counted as expired at that horizon, not scored over a longer one.
    pub tolerance: Span,
    /// The most symbols of a sample kept, the first in the snapshot's order (largest 24 h
    /// turnover first): what bounds the memory per version.
    pub max_symbols: usize,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        let minutes = |m: u64| Span(Duration::from_secs(60 * m));
        Self {
            enabled: true,
            horizons: vec![minutes(1), minutes(5), minutes(15), minutes(60)],
            sample_every: minutes(1),
            tolerance: Span(Duration::from_secs(10)),
            max_symbols: 10_000,
        }
    }
}

/// The most horizons scored.
pub const MAX_HORIZONS: usize = 8;
/// The most symbol prices kept pending at once (samples × symbols per sample). Each costs 8
/// bytes of price in memory and 9 per version, plus its symbol's name where the symbols change
/// from sample to sample; saved for a warm restart, some 20 bytes of JSON plus 20 per version.
/// At this bound that is at most about 200 MB either way, well within the state file's limit.
pub const MAX_SYMBOL_SAMPLES: usize = 4_000_000;

impl EvaluationConfig {
    /// Checks the horizons: one at least, at most [`MAX_HORIZONS`], no two alike; and the bound
    /// on symbols.
    pub fn check(&self) -> Result<()> {
        if self.horizons.is_empty() || self.horizons.len() > MAX_HORIZONS {
            bail!(
                "evaluation.horizons must list 1 to {MAX_HORIZONS} durations, not {}",
                self.horizons.len()
            );
        }
        let mut sorted = self.horizons.clone();
        sorted.sort();
        if let Some(twice) = sorted.windows(2).find(|w| w[0] == w[1]) {
            bail!("evaluation.horizons lists {} twice", twice[0]);
        }
        if !(5..=100_000).contains(&self.max_symbols) {
            bail!(
                "evaluation.max_symbols must be from 5 to 100000, not {}",
                self.max_symbols
            );
        }
        let kept = self.max_pending().saturating_mul(self.max_symbols);
        if kept > MAX_SYMBOL_SAMPLES {
            bail!(
                "[evaluation] would keep up to {} samples of {} symbols pending ({kept} prices, more than {MAX_SYMBOL_SAMPLES}): \
                 sample less often (sample_every), shorten the longest horizon or lower max_symbols",
                self.max_pending(),
                self.max_symbols
            );
        }
        Ok(())
    }

    /// The most samples pending at once: one per `sample_every` over the longest horizon and its
    /// tolerance, and the one being taken.
    pub fn max_pending(&self) -> usize {
        let longest = self.horizons.iter().max().map_or(Duration::ZERO, |h| h.0) + self.tolerance.0;
        (longest.as_secs() / self.sample_every.0.as_secs()) as usize + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons_read_as_durations_and_are_checked() {
        let config: crate::config::Config =
            toml::from_str("[evaluation]\nhorizons = [\"30s\", \"5m\", \"2h\"]\nsample_every = \"30s\"\n").unwrap();
        let labels: Vec<String> = config.evaluation.horizons.iter().map(|h| h.to_string()).collect();
        assert_eq!(labels, ["30s", "5m", "2h"]);
        assert!(config.evaluation.check().is_ok());
        assert_eq!(config.evaluation.max_pending(), 7200 / 30 + 2);
        let greedy = EvaluationConfig {
            sample_every: Span(Duration::from_secs(1)),
            horizons: vec![Span(Duration::from_secs(24 * 3600))],
            ..EvaluationConfig::default()
        };
        let why = greedy.check().unwrap_err().to_string();
        assert!(
            why.starts_with("[evaluation] would keep up to 86412 samples of 10000 symbols"),
            "{why}"
        );
        let twice = EvaluationConfig {
            horizons: vec![Span(Duration::from_secs(60)); 2],
            ..EvaluationConfig::default()
        };
        assert_eq!(
            twice.check().unwrap_err().to_string(),
            "evaluation.horizons lists 1m twice"
        );
        let bad = toml::from_str::<crate::config::Config>("[evaluation]\nhorizons = [\"1.5s\"]\n").unwrap_err();
        assert!(
            bad.to_string().contains("must be whole seconds from 1s to 24h"),
            "{bad}"
        );
    }
}
