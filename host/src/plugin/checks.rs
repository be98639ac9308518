//! What the host checks in everything a plugin hands back, before it is kept or passed on:
//! the file's header, what `describe()` says, an analyzer's results and an aggregator's
//! entries. Every bound is stated here and in `docs/plugin-contract.md`.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::failure::CallError;
use crate::config::PluginPolicy;
use crate::shared::call::Failure;
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry, PluginInfo, Value};
use crate::shared::identity::PluginId;
use crate::shared::text::quote;
use crate::shared::timeframe::{self, TIMEFRAMES};

/// Deepest history a plugin may ask for, in samples.
pub const MAX_HISTORY_DEPTH: u32 = 10_000;
/// Most closed candles a plugin may ask for per time frame.
pub const MAX_CANDLE_DEPTH: u32 = 1_000;
/// Longest version string, in bytes.
pub const MAX_VERSION_BYTES: usize = 64;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 512;
/// Most key prefixes an aggregator may declare.
pub const MAX_KEY_PREFIXES: usize = 16;
/// Longest state format name, in bytes.
pub const MAX_STATE_FORMAT_BYTES: usize = 64;
/// Most component names one analyzer result may carry.
pub const MAX_COMPONENT_NAMES: usize = 32;
/// Longest component name, in bytes.
pub const MAX_COMPONENT_NAME_BYTES: usize = 64;
/// What `describe` and `init` may hand the host in one call (the plugin's info, or the
/// error `init` returns), in bytes as the host holds them.
pub const DESCRIBE_FUEL: usize = 64 << 10;

/// Rejects files that are not WebAssembly components before handing them to the compiler,
/// with a reason an author can act on.
pub fn check_header(bytes: &[u8]) -> Result<()> {
    match bytes {
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => {
            bail!("a core WebAssembly module, not a component: build it with `--target wasm32-wasip2`")
        }
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', ..] => bail!("truncated WebAssembly header"),
        _ => bail!("not a WebAssembly file (no `\\0asm` header)"),
    }
}

/// Checks what `describe()` returned against the plugin's identity, the bounds, its world
/// (`writes_keys` for aggregators) and the operator's grants.
pub fn check_info(
    info: &PluginInfo,
    id: &PluginId,
    path: &Path,
    writes_keys: bool,
    policy: &PluginPolicy,
) -> Result<()> {
    id.check_described(&info.name, path)?;
    let printable = |s: &str| s.chars().all(|c| !c.is_control());
    if info.version.is_empty() || info.version.len() > MAX_VERSION_BYTES || !printable(&info.version) {
        bail!(
            "describe(): version {} of {id} must be 1-{MAX_VERSION_BYTES} bytes without control characters",
            quote(&info.version)
        );
    }
    if info.description.len() > MAX_DESCRIPTION_BYTES {
        bail!(
            "describe(): description of {id} is {} bytes, above the limit of {MAX_DESCRIPTION_BYTES}",
            info.description.len()
        );
    }
    if info.history_depth > MAX_HISTORY_DEPTH {
        bail!(
            "describe(): history-depth {} of {id} is above the limit of {MAX_HISTORY_DEPTH}",
            info.history_depth
        );
    }
    check_candle_requests(info, id)?;
    check_state_declaration(info, id, policy)?;
    match (writes_keys, info.key_prefixes.is_empty()) {
        (false, false) => bail!("describe(): analyzer {id} declares key-prefixes, but only aggregators write keys"),
        (true, true) => bail!("describe(): aggregator {id} declares no key-prefixes, so it could write nothing"),
        _ => {}
    }
    if info.key_prefixes.len() > MAX_KEY_PREFIXES {
        bail!(
            "describe(): {id} declares {} key prefixes, above the limit of {MAX_KEY_PREFIXES}",
            info.key_prefixes.len()
        );
    }
    for prefix in &info.key_prefixes {
        crate::shared::entry::check_key_prefix(prefix)
            .with_context(|| format!("describe(): key prefix {}", quote(prefix)))?;
        if !policy
            .key_prefixes
            .iter()
            .any(|granted| prefix.starts_with(granted.as_str()))
        {
            bail!(
                "{id} wants to write under {prefix:?} but is granted only {:?}; an operator grants it with \
                 `[sandbox.plugin.{id}] key_prefixes = [{prefix:?}]` in the daemon's config",
                policy.key_prefixes,
            );
        }
    }
    Ok(())
}

/// The state a plugin declares: no more than the daemon allows it, and a format name only
/// with room to keep something.
fn check_state_declaration(info: &PluginInfo, id: &PluginId, policy: &PluginPolicy) -> Result<()> {
    let declared = info.max_state_bytes as usize;
    if declared > policy.max_state_bytes {
        bail!(
            "describe(): {id} keeps up to {declared} bytes of state (max-state-bytes), more than the {} this daemon \
             allows; an operator allows more with `[sandbox.plugin.{id}] max_state_bytes = {declared}`",
            policy.max_state_bytes
        );
    }
    let format = &info.state_format;
    if format.len() > MAX_STATE_FORMAT_BYTES || format.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!(
            "describe(): state-format {} of {id} must be at most {MAX_STATE_FORMAT_BYTES} bytes without spaces or \
             control characters",
            quote(format)
        );
    }
    if declared == 0 && !format.is_empty() {
        bail!(
            "describe(): {id} names a state format ({}) but keeps no state (max-state-bytes is 0)",
            quote(format)
        );
    }
    Ok(())
}

/// The state a call returned: within what the plugin declared, or the call fails as `state`
/// (its previous state is kept).
pub fn check_state(state: &[u8], info: &PluginInfo) -> Result<(), CallError> {
    if state.len() > info.max_state_bytes as usize {
        return Err(CallError::new(
            Failure::StateBound,
            format!(
                "returned {} bytes of state, more than the {} it declared (max-state-bytes); its previous state is kept",
                state.len(),
                info.max_state_bytes
            ),
        ));
    }
    Ok(())
}

/// At most one request per time frame, none deeper than [`MAX_CANDLE_DEPTH`].
fn check_candle_requests(info: &PluginInfo, id: &PluginId) -> Result<()> {
    let mut seen = [false; TIMEFRAMES.len()];
    for request in &info.candles {
        let name = timeframe::label(request.timeframe);
        if request.depth > MAX_CANDLE_DEPTH {
            bail!(
                "describe(): {id} asks for {} candles of {name}, above the limit of {MAX_CANDLE_DEPTH}",
                request.depth
            );
        }
        if std::mem::replace(&mut seen[timeframe::index(request.timeframe)], true) {
            bail!("describe(): {id} asks for candles of {name} twice; one request per time frame");
        }
    }
    Ok(())
}

/// Checks an analyzer's result: aligned with the market (one verdict per input symbol, a full
/// row of components each; else an error) and within the bounds on component names (else over
/// a limit). Drops verdicts whose score is not a finite number in 0..100 and returns how many.
pub fn check_analyses(analyses: &mut Analyses, symbols: usize) -> Result<usize, CallError> {
    let names = &analyses.component_names;
    if names.len() > MAX_COMPONENT_NAMES {
        return Err(CallError::over_limit(format!(
            "returned {} component names, above the limit of {MAX_COMPONENT_NAMES}",
            names.len()
        )));
    }
    if let Some(name) = names
        .iter()
        .find(|n| n.is_empty() || n.len() > MAX_COMPONENT_NAME_BYTES || n.chars().any(char::is_control))
    {
        return Err(CallError::over_limit(format!(
            "component name {} must be 1-{MAX_COMPONENT_NAME_BYTES} bytes without control characters",
            quote(name)
        )));
    }
    if analyses.verdicts.len() != symbols {
        return Err(CallError::new(
            Failure::Error,
            format!("returned {} verdicts for {symbols} symbols", analyses.verdicts.len()),
        ));
    }
    let expected = symbols * names.len();
    if analyses.components.len() != expected {
        return Err(CallError::new(
            Failure::Error,
            format!(
                "returned {} component values; {symbols} symbols x {} names needs {expected}",
                analyses.components.len(),
                names.len()
            ),
        ));
    }
    let mut dropped = 0;
    for verdict in &mut analyses.verdicts {
        if verdict.is_some_and(|v| !(0.0..=100.0).contains(&v.score)) {
            *verdict = None;
            dropped += 1;
        }
    }
    Ok(dropped)
}

/// Checks an aggregator's output against the entry and byte caps of its policy; over either,
/// the whole output is refused.
pub fn check_entries(entries: &[CacheEntry], policy: &PluginPolicy) -> Result<(), CallError> {
    if entries.len() > policy.max_entries {
        return Err(CallError::over_limit(format!(
            "returned {} cache entries, above the limit of {}",
            entries.len(),
            policy.max_entries
        )));
    }
    let bytes: usize = entries.iter().map(|e| e.key.len() + value_len(&e.value)).sum();
    if bytes > policy.max_output_bytes {
        return Err(CallError::over_limit(format!(
            "returned {bytes} bytes of cache entries, above the limit of {}",
            policy.max_output_bytes
        )));
    }
    Ok(())
}

/// The host memory an aggregator call's output may take while it is lifted: the byte cap plus
/// the entries' own records.
pub fn aggregate_fuel(policy: &PluginPolicy) -> usize {
    policy
        .max_output_bytes
        .saturating_add(policy.max_entries.saturating_mul(std::mem::size_of::<CacheEntry>()))
}

/// Bytes an analyzer's output takes in an aggregator's linear memory once handed over: what
/// the host checks against the aggregator's input budget.
pub fn handed_over_bytes(output: &AnalyzerOutput) -> usize {
    // As the canonical ABI lays them out: option<verdict> is 24 bytes, a string 8 plus its
    // bytes, a component value 8.
    let a = &output.analyses;
    let strings = |s: &[String]| s.iter().map(|n| 8 + n.len()).sum::<usize>();
    16 + output.plugin.len()
        + output.version.len()
        + 24 * a.verdicts.len()
        + strings(&a.component_names)
        + 8 * a.components.len()
}

fn value_len(value: &Value) -> usize {
    match value {
        Value::Json(s) | Value::Text(s) => s.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::contract::{Signal, Verdict};

    #[test]
    fn header_check_names_the_problem() {
        let msg = |b: &[u8]| check_header(b).unwrap_err().to_string();
        assert!(msg(b"hello world").contains("not a WebAssembly file"));
        assert!(msg(b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
        assert!(msg(b"\0asm").contains("truncated"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    fn analyses(symbols: usize, names: Vec<String>) -> Analyses {
        let k = names.len();
        Analyses {
            verdicts: vec![
                Some(Verdict {
                    score: 50.0,
                    signal: Signal::Neutral
                });
                symbols
            ],
            component_names: names,
            components: vec![1.0; symbols * k],
        }
    }

    #[test]
    fn analyzer_results_over_a_bound_fail_as_over_limit() {
        let many: Vec<String> = (0..=MAX_COMPONENT_NAMES).map(|i| format!("c{i}")).collect();
        let err = check_analyses(&mut analyses(3, many), 3).unwrap_err();
        assert_eq!(err.failure, Failure::OverLimit);
        assert!(err.to_string().contains("33 component names"), "{err}");
        let err = check_analyses(&mut analyses(3, vec!["x".repeat(65)]), 3).unwrap_err();
        assert_eq!(err.failure, Failure::OverLimit);
        let err = check_analyses(&mut analyses(3, vec!["a\nb".into()]), 3).unwrap_err();
        assert!(err.to_string().contains("\"a\\nb\""), "{err}");
        let err = check_analyses(&mut analyses(4, vec![]), 3).unwrap_err();
        assert_eq!(
            (err.failure, err.to_string().as_str()),
            (Failure::Error, "returned 4 verdicts for 3 symbols")
        );
        assert_eq!(check_analyses(&mut analyses(3, vec!["rsi".into()]), 3).unwrap(), 0);
    }

    #[test]
    fn handed_over_bytes_follow_the_canonical_layout() {
        let output = AnalyzerOutput {
            plugin: "trend".into(),
            version: "1.0.0".into(),
            analyses: analyses(10, vec!["rsi".into(), "ema".into()]),
        };
        assert_eq!(handed_over_bytes(&output), 16 + 5 + 5 + 240 + 22 + 160);
    }

    #[test]
    fn candle_requests_are_one_per_time_frame_and_bounded() {
        use crate::shared::contract::{CandleColumns, CandleRequest, Timeframe};
        let id = PluginId::parse("trend").unwrap();
        let info = |candles: Vec<(Timeframe, u32)>| PluginInfo {
            name: "trend".into(),
            version: "1.0.0".into(),
            description: String::new(),
            history_depth: 0,
            candles: candles
                .into_iter()
                .map(|(timeframe, depth)| CandleRequest {
                    timeframe,
                    depth,
                    top: 0,
                    columns: CandleColumns::all(),
                })
                .collect(),
            key_prefixes: Vec::new(),
            max_state_bytes: 0,
            state_format: String::new(),
        };
        check_candle_requests(&info(vec![(Timeframe::M1, 60), (Timeframe::H1, MAX_CANDLE_DEPTH)]), &id).unwrap();
        let twice = check_candle_requests(&info(vec![(Timeframe::M5, 1), (Timeframe::M5, 2)]), &id).unwrap_err();
        assert!(twice.to_string().contains("candles of 5m twice"), "{twice}");
        let deep = check_candle_requests(&info(vec![(Timeframe::D1, MAX_CANDLE_DEPTH + 1)]), &id).unwrap_err();
        assert!(deep.to_string().contains("1001 candles of 1d"), "{deep}");
    }

    #[test]
    fn state_is_declared_within_the_daemons_bound_and_kept_within_the_declaration() {
        let id = PluginId::parse("counter").unwrap();
        let policy = crate::config::Config::default().policy("counter");
        let info = |max_state_bytes: u32, format: &str| PluginInfo {
            name: "counter".into(),
            version: "1.0.0".into(),
            description: String::new(),
            history_depth: 0,
            candles: Vec::new(),
            key_prefixes: Vec::new(),
            max_state_bytes,
            state_format: format.into(),
        };
        check_state_declaration(&info(1 << 20, "counter/1"), &id, &policy).unwrap();
        check_state_declaration(&info(0, ""), &id, &policy).unwrap();
        let over = check_state_declaration(&info((1 << 20) + 1, ""), &id, &policy).unwrap_err();
        assert!(
            over.to_string()
                .contains("keeps up to 1048577 bytes of state (max-state-bytes), more than the 1048576"),
            "{over}"
        );
        let spaced = check_state_declaration(&info(8, "a b"), &id, &policy).unwrap_err();
        assert!(spaced.to_string().contains("state-format \"a b\""), "{spaced}");
        let idle = check_state_declaration(&info(0, "counter/1"), &id, &policy).unwrap_err();
        assert!(idle.to_string().contains("keeps no state"), "{idle}");

        check_state(&[0; 8], &info(8, "")).unwrap();
        let err = check_state(&[0; 9], &info(8, "")).unwrap_err();
        assert_eq!(err.failure, Failure::StateBound);
        assert!(
            err.to_string()
                .starts_with("returned 9 bytes of state, more than the 8"),
            "{err}"
        );
    }
}
