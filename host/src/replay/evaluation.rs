//! `pulse replay --evaluate`: each analyzer's verdicts scored against what the recorded market
//! did next, once the replay is over, as a table for people and as JSON; with `--compare`, the
//! two versions side by side on the same samples, with the difference and its uncertainty.

use std::fmt::Write;

use serde::Serialize;

use crate::evaluation::Evaluation;
use crate::plugin::Generation;
use crate::shared::evidence::{Estimate, Figures, PairedFigures};

/// One analyzer version's figures, as the JSON gives them.
#[derive(Debug, Serialize)]
pub(super) struct Scored {
    /// The plugin's identity.
    plugin: String,
    /// The version it describes itself with.
    version: String,
    /// Its figures per horizon.
    evaluation: Vec<Figures>,
}

/// Every serving analyzer of `generation`, scored.
pub(super) fn scored(evaluation: &Evaluation, generation: &Generation) -> Vec<Scored> {
    generation
        .analyzers
        .iter()
        .filter_map(|p| {
            Some(Scored {
                plugin: p.id.to_string(),
                version: p.info.version.clone(),
                evaluation: evaluation.figures(p.id.as_str(), &p.fingerprint, false)?,
            })
        })
        .collect()
}

/// The table of `scored`: a block per plugin, a row per horizon.
pub(super) fn table(scored: &[Scored]) -> String {
    let mut out = String::new();
    for plugin in scored {
        let _ = writeln!(out, "{} {}", plugin.plugin, plugin.version);
        let _ = writeln!(
            out,
            "  {:<8} {:>7} {:>7}  {:<20} {:>8}  {:<20} {:>8}",
            "horizon", "samples", "expired", "rank IC ± se", "hit rate", "top-bottom bps ± se", "coverage"
        );
        for f in &plugin.evaluation {
            let _ = writeln!(out, "{}", row(f));
        }
    }
    out
}

/// The side-by-side table of a shadow (`new`) and the serving version (`old`) on the same
/// samples, per horizon.
pub fn side_by_side(name: &str, old: &str, new: &str, pairs: &[PairedFigures]) -> String {
    let mut out = format!("{name}: {old} (old, serving) against {new} (new, shadow), on the same samples\n");
    let _ = writeln!(
        out,
        "  {:<8} {:>7}  {:<20} {:<20} {:<22} {:>8} {:>8}",
        "horizon", "samples", "rank IC old ± se", "rank IC new ± se", "new - old ± se", "hit old", "hit new"
    );
    for pair in pairs {
        let _ = writeln!(
            out,
            "  {:<8} {:>7}  {:<20} {:<20} {:<22} {:>8} {:>8}",
            pair.horizon,
            pair.shadow.samples,
            estimate(&pair.serving.rank_ic, 4),
            estimate(&pair.shadow.rank_ic, 4),
            estimate(&pair.rank_ic_difference, 4),
            percent(pair.serving.hit_rate),
            percent(pair.shadow.hit_rate),
        );
    }
    out
}

fn row(f: &Figures) -> String {
    format!(
        "  {:<8} {:>7} {:>7}  {:<20} {:>8}  {:<20} {:>8}",
        f.horizon,
        f.samples,
        f.expired,
        estimate(&f.rank_ic, 4),
        percent(f.hit_rate),
        estimate(&f.top_minus_bottom_bps, 1),
        percent(f.coverage),
    )
}

/// `mean ± stderr` with `digits` decimals; `-` without a mean.
fn estimate(e: &Estimate, digits: usize) -> String {
    match (e.mean, e.stderr) {
        (Some(mean), Some(se)) => format!("{mean:.digits$} ± {se:.digits$}"),
        (Some(mean), None) => format!("{mean:.digits$}"),
        _ => "-".to_string(),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_string(), |s| format!("{:.1} %", s * 100.0))
}
