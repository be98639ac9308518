//! Which staged plugin versions may serve beside the ones already serving.
//!
//! Two plugins clash when they have the same identity or when their key prefixes overlap (one
//! is a prefix of the other): two writers must never share a key. The rule, decided on sets and
//! never on file order:
//! - a newcomer that clashes with a serving plugin is refused, and the serving one keeps serving;
//! - newcomers that clash with each other are all refused, with one reason naming all of them
//!   (at start-up every plugin is a newcomer, so a clash there loads none of those involved).
//!
//! A refused version is not remembered as bad: the clash may go away when another file does.

use std::collections::BTreeMap;
use std::path::Path;

use crate::shared::identity::PluginId;
use crate::shared::text::quoted_path;

/// What a plugin claims: the facts the clash rule looks at.
pub trait Claims {
    /// Its identity.
    fn id(&self) -> &PluginId;
    /// The key prefixes it writes under (none for analyzers).
    fn key_prefixes(&self) -> &[String];
    /// Its file, for reasons.
    fn path(&self) -> &Path;
}

/// Why `a` and `b` cannot serve together, if they cannot.
pub fn clash(a: &impl Claims, b: &impl Claims) -> Option<String> {
    if a.id() == b.id() {
        return Some(format!("both are named {:?}", a.id().as_str()));
    }
    a.key_prefixes().iter().find_map(|mine| {
        b.key_prefixes()
            .iter()
            .find(|theirs| theirs.starts_with(mine.as_str()) || mine.starts_with(theirs.as_str()))
            .map(|theirs| format!("key prefix {mine:?} overlaps {theirs:?}: two writers may not share keys"))
    })
}

/// A staged version and the version of the same file it would replace.
pub struct Candidate<P> {
    /// The staged version.
    pub new: P,
    /// The version of the same file serving now, if any.
    pub old: Option<P>,
}

/// Candidates refused together, and why.
pub struct Refusal<P> {
    /// The refused candidates (more than one when newcomers clash with each other).
    pub candidates: Vec<Candidate<P>>,
    /// One reason naming every plugin involved.
    pub reason: String,
}

/// The outcome of admission.
pub struct Decision<P> {
    /// Everything that serves next: the kept plugins, the admitted candidates, and the old
    /// versions of refused candidates.
    pub serving: Vec<P>,
    /// Candidates admitted, with the version each replaces.
    pub admitted: Vec<Candidate<P>>,
    /// Candidates refused.
    pub refused: Vec<Refusal<P>>,
}

/// Admits `candidates` beside `kept` (plugins that serve on unchanged) by the rule above.
/// The result does not depend on the order of either list.
pub fn decide<P: Claims + Clone>(kept: Vec<P>, mut candidates: Vec<Candidate<P>>) -> Decision<P> {
    candidates.sort_by(|a, b| a.new.path().cmp(b.new.path()));
    let mut reasons: Vec<Option<String>> = vec![None; candidates.len()];
    loop {
        // Serving plugins win: refuse every newcomer that clashes with one.
        let incumbents: Vec<&P> = kept
            .iter()
            .chain(
                candidates
                    .iter()
                    .zip(&reasons)
                    .filter(|(_, r)| r.is_some())
                    .filter_map(|(c, _)| c.old.as_ref()),
            )
            .collect();
        let mut refused_any = false;
        for (candidate, reason) in candidates.iter().zip(reasons.iter_mut()) {
            if reason.is_some() {
                continue;
            }
            if let Some((other, why)) = incumbents
                .iter()
                .find_map(|p| clash(&candidate.new, *p).map(|w| (p, w)))
            {
                *reason = Some(format!(
                    "{} ({}) clashes with {} ({}), which keeps serving: {why}",
                    candidate.new.id(),
                    quoted_path(candidate.new.path()),
                    other.id(),
                    quoted_path(other.path())
                ));
                refused_any = true;
            }
        }
        if refused_any {
            continue;
        }
        // Then newcomers that clash with each other: all of a clashing group are refused.
        let live: Vec<usize> = (0..candidates.len()).filter(|&i| reasons[i].is_none()).collect();
        let groups = clash_groups(&candidates, &live);
        if groups.is_empty() {
            break;
        }
        for (members, why) in groups {
            let names: Vec<String> = members
                .iter()
                .map(|&i| format!("{} ({})", candidates[i].new.id(), quoted_path(candidates[i].new.path())))
                .collect();
            let reason = format!(
                "new plugins {} clash with each other ({}); none of them is loaded until the clash is resolved",
                names.join(", "),
                why.join("; ")
            );
            for i in members {
                reasons[i] = Some(reason.clone());
            }
        }
    }
    split(kept, candidates, reasons)
}

/// Groups of live candidates connected by clashes, each with the clashes' reasons.
fn clash_groups<P: Claims>(candidates: &[Candidate<P>], live: &[usize]) -> Vec<(Vec<usize>, Vec<String>)> {
    let mut group_of: BTreeMap<usize, usize> = live.iter().map(|&i| (i, i)).collect();
    let mut why: Vec<(usize, usize, String)> = Vec::new();
    for (n, &i) in live.iter().enumerate() {
        for &j in &live[n + 1..] {
            if let Some(reason) = clash(&candidates[i].new, &candidates[j].new) {
                let (gi, gj) = (group_of[&i], group_of[&j]);
                for g in group_of.values_mut() {
                    if *g == gj {
                        *g = gi;
                    }
                }
                why.push((i, j, reason));
            }
        }
    }
    let mut groups: BTreeMap<usize, (Vec<usize>, Vec<String>)> = BTreeMap::new();
    for (i, j, reason) in why {
        let entry = groups.entry(group_of[&i]).or_default();
        for k in [i, j] {
            if !entry.0.contains(&k) {
                entry.0.push(k);
            }
        }
        entry.1.push(format!(
            "{} and {}: {reason}",
            quoted_path(candidates[i].new.path()),
            quoted_path(candidates[j].new.path())
        ));
    }
    groups
        .into_values()
        .map(|(mut members, reasons)| {
            members.sort_unstable();
            (members, reasons)
        })
        .collect()
}

/// Sorts candidates into admitted and refused by their reasons.
fn split<P: Clone>(kept: Vec<P>, candidates: Vec<Candidate<P>>, reasons: Vec<Option<String>>) -> Decision<P> {
    let mut serving = kept;
    let mut admitted = Vec::new();
    let mut refused: Vec<Refusal<P>> = Vec::new();
    for (candidate, reason) in candidates.into_iter().zip(reasons) {
        match reason {
            None => {
                serving.push(candidate.new.clone());
                admitted.push(candidate);
            }
            Some(reason) => {
                serving.extend(candidate.old.clone());
                match refused.iter_mut().find(|r| r.reason == reason) {
                    Some(group) => group.candidates.push(candidate),
                    None => refused.push(Refusal {
                        candidates: vec![candidate],
                        reason,
                    }),
                }
            }
        }
    }
    Decision {
        serving,
        admitted,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Fake {
        id: PluginId,
        prefixes: Vec<String>,
        path: PathBuf,
        version: u32,
    }

    impl Claims for Fake {
        fn id(&self) -> &PluginId {
            &self.id
        }
        fn key_prefixes(&self) -> &[String] {
            &self.prefixes
        }
        fn path(&self) -> &Path {
            &self.path
        }
    }

    fn fake(file: &str, prefixes: &[&str], version: u32) -> Fake {
        let path = PathBuf::from(file);
        Fake {
            id: PluginId::of_file(&path).unwrap(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            path,
            version,
        }
    }

    fn new(p: Fake) -> Candidate<Fake> {
        Candidate { new: p, old: None }
    }

    fn files(plugins: &[Fake]) -> Vec<String> {
        let mut files: Vec<String> = plugins.iter().map(|p| p.path.display().to_string()).collect();
        files.sort();
        files
    }

    #[test]
    fn a_newcomer_never_displaces_a_serving_plugin_whatever_the_file_names() {
        let dashboard = fake("dashboard.wasm", &["market:", "analysis:"], 1);
        for intruder in ["aaa.wasm", "zzz.wasm"] {
            let d = decide(vec![dashboard.clone()], vec![new(fake(intruder, &["market:tick"], 1))]);
            assert_eq!(files(&d.serving), ["dashboard.wasm"], "{intruder}");
            assert!(d.admitted.is_empty());
            assert!(d.refused[0].reason.contains("keeps serving"), "{}", d.refused[0].reason);
        }
        let twin = decide(vec![fake("a_b.wasm", &[], 1)], vec![new(fake("a-b.wasm", &[], 1))]);
        assert_eq!(files(&twin.serving), ["a_b.wasm"]);
        assert!(twin.refused[0].reason.contains("both are named \"a-b\""));
    }

    #[test]
    fn newcomers_that_clash_are_all_refused_in_one_reason_in_any_order() {
        let a = fake("aaa.wasm", &["market:"], 1);
        let d = fake("dashboard.wasm", &["market:", "analysis:"], 1);
        let t = fake("trend.wasm", &[], 1);
        for order in [
            vec![a.clone(), d.clone(), t.clone()],
            vec![t.clone(), d.clone(), a.clone()],
        ] {
            let decision = decide(Vec::new(), order.into_iter().map(new).collect());
            assert_eq!(files(&decision.serving), ["trend.wasm"]);
            assert_eq!(decision.refused.len(), 1);
            let reason = &decision.refused[0].reason;
            assert!(
                reason.contains("aaa.wasm") && reason.contains("dashboard.wasm"),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_refused_replacement_leaves_its_old_version_serving() {
        let writer = fake("writer.wasm", &["w:"], 1);
        let dashboard = fake("dashboard.wasm", &["market:"], 1);
        let greedy = Candidate {
            new: fake("writer.wasm", &["market:x"], 2),
            old: Some(writer.clone()),
        };
        let d = decide(vec![dashboard.clone()], vec![greedy]);
        assert!(d.serving.contains(&writer) && d.serving.contains(&dashboard));
        assert_eq!(d.serving.len(), 2);
    }

    #[test]
    fn a_prefix_freed_by_a_replacement_can_be_taken_in_the_same_change() {
        let old = fake("moving.wasm", &["x:"], 1);
        let moved = Candidate {
            new: fake("moving.wasm", &["y:"], 2),
            old: Some(old),
        };
        let taker = new(fake("taker.wasm", &["x:"], 1));
        let d = decide(Vec::new(), vec![taker, moved]);
        assert_eq!(
            d.admitted.len(),
            2,
            "{:?}",
            d.refused.iter().map(|r| &r.reason).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_newcomer_refused_by_a_serving_plugin_does_not_take_others_down() {
        let dashboard = fake("dashboard.wasm", &["market:"], 1);
        let greedy = fake("greedy.wasm", &["market:", "x:"], 1);
        let modest = fake("modest.wasm", &["x:"], 1);
        let d = decide(vec![dashboard], vec![new(greedy), new(modest)]);
        assert_eq!(files(&d.serving), ["dashboard.wasm", "modest.wasm"]);
    }
}
