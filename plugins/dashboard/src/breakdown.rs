//! `analysis:breakdown:<SYMBOL>` serialised straight from the analyzers' results: the very JSON
//! of a `pulse_keys::Breakdown` (its maps in key order), without building three maps per
//! symbol. At 10,000 symbols, building those maps was most of the dashboard's time.

use pulse_sdk::{Analyses, AnalyzerOutput};
use serde::ser::{Serialize, Serializer};

/// What every symbol's breakdown shares: the analyzers' results, in the order of their names,
/// and each one's components in the order of theirs.
pub struct Breakdowns<'a> {
    results: &'a [AnalyzerOutput],
    /// Indices into `results`, sorted by plugin name.
    analyzers: Vec<usize>,
    /// Per result, indices into its component names, sorted by name.
    components: Vec<Vec<usize>>,
}

/// One symbol's breakdown, serialised as `pulse_keys::Breakdown` is.
#[derive(serde::Serialize)]
pub struct Breakdown<'a> {
    /// The symbol.
    pub symbol: &'a str,
    /// The blended score; `None` when no analyzer had an opinion.
    pub score: Option<f64>,
    /// The blended signal.
    pub signal: &'a str,
    /// Each analyzer's verdict.
    pub analyzers: Analyzers<'a>,
    /// The cycle that wrote it.
    pub cycle: u64,
    /// The snapshot's time, Unix seconds.
    pub timestamp: i64,
}

/// Each analyzer's verdict on one symbol, as a map by plugin name.
pub struct Analyzers<'a> {
    all: &'a Breakdowns<'a>,
    row: usize,
}

/// One analyzer's verdict on one symbol, serialised as `pulse_keys::AnalyzerVerdict` is.
#[derive(serde::Serialize)]
struct Verdict<'a> {
    version: &'a str,
    score: Option<f64>,
    signal: Option<&'a str>,
    components: Components<'a>,
}

/// One analyzer's defined components for one symbol, as a map by name.
struct Components<'a> {
    analyses: &'a Analyses,
    /// Indices into the component names, sorted by name.
    order: &'a [usize],
    row: usize,
}

impl<'a> Breakdowns<'a> {
    /// Sorts the names once for every symbol's breakdown.
    pub fn new(results: &'a [AnalyzerOutput]) -> Self {
        let mut analyzers: Vec<usize> = (0..results.len()).collect();
        analyzers.sort_by(|&a, &b| results[a].plugin.cmp(&results[b].plugin));
        let components = results
            .iter()
            .map(|r| {
                let names = &r.analyses.component_names;
                let mut order: Vec<usize> = (0..names.len()).collect();
                order.sort_by(|&a, &b| names[a].cmp(&names[b]));
                order
            })
            .collect();
        Self {
            results,
            analyzers,
            components,
        }
    }

    /// The analyzers' verdicts on symbol `row`.
    pub fn analyzers(&'a self, row: usize) -> Analyzers<'a> {
        Analyzers { all: self, row }
    }
}

impl Serialize for Analyzers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let all = self.all;
        let verdicts = all.analyzers.iter().map(|&r| {
            let result = &all.results[r];
            let v = result.analyses.verdicts.get(self.row).copied().flatten();
            let verdict = Verdict {
                version: result.version.as_str(),
                score: v.map(|v| v.score),
                signal: v.map(|v| v.signal.as_str()),
                components: Components {
                    analyses: &result.analyses,
                    order: &all.components[r],
                    row: self.row,
                },
            };
            (result.plugin.as_str(), verdict)
        });
        serializer.collect_map(last_of_each_name(verdicts))
    }
}

impl Serialize for Components<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = &self.analyses.component_names;
        let k = names.len();
        let start = self.row * k;
        let values = self.analyses.components.get(start..start + k).unwrap_or(&[]);
        let defined = self
            .order
            .iter()
            .filter_map(|&c| values.get(c).filter(|v| v.is_finite()).map(|&v| (names[c].as_str(), v)));
        serializer.collect_map(last_of_each_name(defined))
    }
}

/// `pairs`, sorted by name, with only the last of each name: what collecting them into a map
/// keeps.
fn last_of_each_name<'n, V>(pairs: impl Iterator<Item = (&'n str, V)>) -> impl Iterator<Item = (&'n str, V)> {
    let mut pairs = pairs.peekable();
    std::iter::from_fn(move || loop {
        let (name, value) = pairs.next()?;
        if pairs.peek().is_none_or(|(next, _)| *next != name) {
            return Some((name, value));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_sdk::{verdict, AnalysesBuilder, ComponentsView};

    /// An analyzer's output for three symbols: the second without an opinion, NaN components,
    /// and a component name given twice.
    fn output(plugin: &str, names: &[&str]) -> AnalyzerOutput {
        let mut out = AnalysesBuilder::new(names, 3);
        let values = |i: usize| -> Vec<f64> {
            (0..names.len())
                .map(|k| if k == 2 { f64::NAN } else { (i * 10 + k) as f64 + 0.125 })
                .collect()
        };
        out.push(verdict(72.5), &values(0));
        out.abstain(&values(1));
        out.push(verdict(12.0), &values(2));
        AnalyzerOutput {
            plugin: plugin.into(),
            version: "1.2.3".into(),
            analyses: out.finish(),
        }
    }

    #[test]
    fn writes_the_very_json_of_a_pulse_keys_breakdown() {
        let results = vec![
            output("volatility", &["zeta", "alpha", "mid", "alpha"]),
            output("trend", &["rsi", "ema_fast", "candles_1m"]),
        ];
        let breakdowns = Breakdowns::new(&results);
        for row in 0..3 {
            let written = serde_json::to_string(&Breakdown {
                symbol: "BTCUSDT",
                score: Some(42.0),
                signal: "NEUTRAL",
                analyzers: breakdowns.analyzers(row),
                cycle: 7,
                timestamp: 1_700_000_000,
            })
            .unwrap();
            let analyzers = results
                .iter()
                .map(|r| {
                    let v = r.analyses.verdicts[row];
                    let verdict = pulse_keys::AnalyzerVerdict {
                        version: r.version.as_str(),
                        score: v.map(|v| v.score),
                        signal: v.map(|v| v.signal.as_str()),
                        components: ComponentsView::new(&r.analyses, row).iter().collect(),
                    };
                    (r.plugin.as_str(), verdict)
                })
                .collect();
            let reference = serde_json::to_string(&pulse_keys::Breakdown {
                symbol: "BTCUSDT",
                score: Some(42.0),
                signal: "NEUTRAL",
                analyzers,
                cycle: 7,
                timestamp: 1_700_000_000,
            })
            .unwrap();
            assert_eq!(written, reference, "row {row}");
        }
    }
}
