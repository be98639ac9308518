//! One plugin, compiled and checked: what it is, what it says about itself, and how to call it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Trap;

use super::artifacts::ArtifactCache;
use super::bindings::aggregator::{Aggregator, AggregatorPre};
use super::bindings::analyzer::{Analyzer, AnalyzerPre};
use super::bindings::{Analyses, AnalyzerOutput, CacheEntry, Market, PluginInfo, Value};
use super::engine::PluginEngine;
use crate::config::{PluginPolicy, Sandbox};

/// Deepest history a plugin may ask for, in samples.
pub const MAX_HISTORY_DEPTH: u32 = 10_000;

/// How long past its deadline a call stuck in a blocking host call (which epoch interruption
/// cannot stop) is waited for, in cycles and while staging alike.
pub const BLOCKED_CALL_GRACE: Duration = Duration::from_millis(100);

/// Which world a plugin exports, with the pre-instantiated component for it.
#[derive(Clone)]
pub enum PluginKind {
    /// Scores symbols.
    Analyzer(AnalyzerPre<super::state::HostState>),
    /// Writes cache entries.
    Aggregator(AggregatorPre<super::state::HostState>),
}

impl PluginKind {
    /// `analyzer` or `aggregator`, for logs and status.
    pub fn label(&self) -> &'static str {
        match self {
            PluginKind::Analyzer(_) => "analyzer",
            PluginKind::Aggregator(_) => "aggregator",
        }
    }
}

/// A plugin file as found on disk, before staging.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// Its contents.
    pub bytes: Arc<[u8]>,
    /// What tells one version from another: content hash and side config.
    pub identity: Identity,
}

/// A plugin version's identity: a change to either part restages the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// SHA-256 of the wasm file, in hex.
    pub hash: String,
    /// Contents of `NAME.toml` beside `NAME.wasm`, if there is one.
    pub side_config: Option<String>,
}

impl PluginSource {
    /// Reads `path` and its side config `<stem>.toml`, if any.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes: Arc<[u8]> = std::fs::read(path).context("cannot read the file")?.into();
        let side = path.with_extension("toml");
        let side_config = match std::fs::read_to_string(&side) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(anyhow!("cannot read its config {}: {e}", side.display())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            identity: Identity {
                hash: format!("{:x}", Sha256::digest(&bytes)),
                side_config,
            },
            bytes,
        })
    }
}

/// Why staging a plugin failed, and at which stage.
#[derive(Debug)]
pub struct StageError {
    /// `read`, `compile`, `world`, `describe`, `config`, `init` or `trial`.
    pub stage: &'static str,
    /// The reason.
    pub error: anyhow::Error,
}

impl std::fmt::Display for StageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {:#}", self.stage, self.error)
    }
}

trait Stage<T> {
    fn stage(self, stage: &'static str) -> Result<T, StageError>;
}

impl<T> Stage<T> for Result<T> {
    fn stage(self, stage: &'static str) -> Result<T, StageError> {
        self.map_err(|error| StageError { stage, error })
    }
}

/// What a trial call is made on: the last cycle's market and analyzer outputs.
#[derive(Clone)]
pub struct TrialInput {
    /// The last market, with the deepest history any plugin had.
    pub market: Arc<Market>,
    /// The last cycle's analyzer outputs, for aggregators.
    pub outputs: Arc<Vec<AnalyzerOutput>>,
}

/// A compiled plugin that has described itself, accepted its config and passed its trial.
pub struct LoadedPlugin {
    /// The plugin's name from `describe()`.
    pub name: Arc<str>,
    /// The plugin's metadata from `describe()`.
    pub info: PluginInfo,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The version's content hash and side config.
    pub identity: Identity,
    /// Its world and pre-instantiated component.
    pub kind: PluginKind,
    /// Its limits and grants.
    pub policy: PluginPolicy,
    /// When this version was staged, ms since the Unix epoch.
    pub loaded_at_ms: i64,
    /// Peak linear memory of its last call, in bytes.
    last_peak_memory: std::sync::atomic::AtomicUsize,
    config_json: String,
    engine: Arc<PluginEngine>,
}

impl LoadedPlugin {
    /// Stages `source`: compiles it (or loads it from `artifacts`), tells its world, calls
    /// `describe()`, `init` with the config `config_for(name)` returns, and, given a `trial`
    /// input, one real call. Returns the plugin and whether compilation was skipped. Each call
    /// into the plugin is bounded by its deadline, even one stuck in a blocking host call.
    pub fn stage(
        engine: &Arc<PluginEngine>,
        artifacts: &ArtifactCache,
        source: &PluginSource,
        sandbox: &Sandbox,
        config_for: impl Fn(&str) -> Result<String>,
        trial: Option<&TrialInput>,
    ) -> Result<(Arc<Self>, bool), StageError> {
        check_header(&source.bytes).stage("compile")?;
        let (component, cached) = artifacts
            .component(engine.engine(), &source.bytes, &source.identity.hash)
            .context("not a valid WebAssembly component")
            .stage("compile")?;
        let kind = classify(engine, &component).stage("world")?;
        let probe = Arc::<str>::from(source.path.display().to_string());
        let anonymous = sandbox.policy("");
        let info = {
            let (engine, kind) = (engine.clone(), kind.clone());
            bounded(anonymous.call_timeout, move || {
                describe(&engine, &kind, probe, &anonymous)
            })
        }
        .stage("describe")?;
        let policy = sandbox.policy(&info.name);
        check_info(&info, &kind, &policy).stage("describe")?;
        let plugin = Arc::new(Self {
            name: Arc::from(info.name.as_str()),
            config_json: config_for(&info.name).stage("config")?,
            policy,
            loaded_at_ms: crate::source::now_ms(),
            last_peak_memory: Default::default(),
            info,
            path: source.path.clone(),
            identity: source.identity.clone(),
            kind,
            engine: engine.clone(),
        });
        let deadline = plugin.policy.call_timeout;
        let p = plugin.clone();
        bounded(deadline, move || p.trial_init()).stage("init")?;
        if let Some(input) = trial {
            let (p, input) = (plugin.clone(), input.clone());
            bounded(deadline, move || p.trial(&input)).stage("trial")?;
        }
        Ok((plugin, cached))
    }

    /// One real call on the last cycle's data; its result is checked and discarded.
    fn trial(&self, input: &TrialInput) -> Result<()> {
        let market = with_history_depth(&input.market, self.info.history_depth as usize);
        match self.kind {
            PluginKind::Analyzer(_) => self.analyze(&market).map(drop),
            PluginKind::Aggregator(_) => self.aggregate(&market, &input.outputs).map(drop),
        }
    }

    /// Peak linear memory of the last call, in bytes.
    pub fn last_peak_memory(&self) -> usize {
        self.last_peak_memory.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The first 12 hex digits of the content hash, for logs.
    pub fn short_hash(&self) -> &str {
        &self.identity.hash[..12]
    }

    /// Calls `init` on a fresh instance, so a bad config is reported while staging.
    fn trial_init(&self) -> Result<()> {
        let mut store = self.engine.store(self.name.clone(), &self.policy);
        let result = match &self.kind {
            PluginKind::Analyzer(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.call_init(&mut store, &self.config_json)),
            PluginKind::Aggregator(pre) => pre
                .instantiate(&mut store)
                .and_then(|i| i.call_init(&mut store, &self.config_json)),
        };
        store.data().flush_output();
        result
            .map_err(|e| explain_trap(e.into()))
            .context("init trapped")?
            .map_err(|e| anyhow!("init rejected its config: {e}"))
    }

    /// Runs the analyzer on a fresh instance. The result must be aligned with the market;
    /// verdicts whose score is not a finite number in 0..100 are dropped (set to no opinion)
    /// and counted in the second value.
    pub fn analyze(&self, market: &Market) -> Result<(Analyses, usize)> {
        let PluginKind::Analyzer(pre) = &self.kind else {
            bail!("{} is not an analyzer", self.name);
        };
        let analyses = self.call(pre, |instance: &Analyzer, store| {
            instance
                .call_init(&mut *store, &self.config_json)?
                .map_err(|e| anyhow!("init failed: {e}"))?;
            instance
                .call_analyze(&mut *store, market)?
                .map_err(|e| anyhow!("analyze failed: {e}"))
        })?;
        let mut analyses = analyses;
        let dropped = check_analyses(&mut analyses, market.symbols.len())?;
        Ok((analyses, dropped))
    }

    /// Runs the aggregator on a fresh instance. Output beyond the entry or byte caps is
    /// refused whole; each entry is then validated on its own before it is written.
    pub fn aggregate(&self, market: &Market, results: &[AnalyzerOutput]) -> Result<Vec<CacheEntry>> {
        let PluginKind::Aggregator(pre) = &self.kind else {
            bail!("{} is not an aggregator", self.name);
        };
        let entries = self.call(pre, |instance: &Aggregator, store| {
            instance
                .call_init(&mut *store, &self.config_json)?
                .map_err(|e| anyhow!("init failed: {e}"))?;
            instance
                .call_aggregate(&mut *store, market, results)?
                .map_err(|e| anyhow!("aggregate failed: {e}"))
        })?;
        if entries.len() > self.policy.max_entries {
            bail!(
                "returned {} cache entries, above the limit of {}",
                entries.len(),
                self.policy.max_entries
            );
        }
        let bytes: usize = entries.iter().map(|e| e.key.len() + value_len(&e.value)).sum();
        if bytes > self.policy.max_output_bytes {
            bail!(
                "returned {bytes} bytes of cache entries, above the limit of {}",
                self.policy.max_output_bytes
            );
        }
        Ok(entries)
    }

    /// Instantiates, runs `body`, and logs what the plugin printed, whatever the outcome.
    fn call<P: Instantiate, R>(
        &self,
        pre: &P,
        body: impl FnOnce(&P::Instance, &mut wasmtime::Store<super::state::HostState>) -> Result<R>,
    ) -> Result<R> {
        let mut store = self.engine.store(self.name.clone(), &self.policy);
        let result = pre
            .instantiate_in(&mut store)
            .map_err(anyhow::Error::from)
            .and_then(|instance| body(&instance, &mut store));
        store.data().flush_output();
        self.last_peak_memory
            .store(store.data().peak_memory(), std::sync::atomic::Ordering::Relaxed);
        result.map_err(explain_trap)
    }
}

/// Runs a staging call on a thread of its own and waits at most `deadline` plus a grace for it.
/// Epoch interruption stops wasm code, not a blocking host call (a plugin sleeping through
/// WASI's clocks), and the reload thread must not wait on such a plugin: past the grace the
/// call is abandoned and left to finish on its own.
fn bounded<R: Send + 'static>(deadline: Duration, call: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    let give_up = deadline + BLOCKED_CALL_GRACE;
    let (done, result) = sync_channel(1);
    std::thread::Builder::new()
        .name("pulse-staging".into())
        .spawn(move || {
            let _ = done.send(call());
        })
        .context("cannot start a staging thread")?;
    match result.recv_timeout(give_up) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(anyhow!(
            "exceeded its call deadline inside a blocking host call; abandoned after {give_up:?}"
        )),
        Err(RecvTimeoutError::Disconnected) => Err(anyhow!("the call panicked in the host")),
    }
}

/// Pre-instantiated worlds that can be instantiated into a store.
trait Instantiate {
    type Instance;
    fn instantiate_in(&self, store: &mut wasmtime::Store<super::state::HostState>) -> wasmtime::Result<Self::Instance>;
}

impl Instantiate for AnalyzerPre<super::state::HostState> {
    type Instance = Analyzer;
    fn instantiate_in(&self, store: &mut wasmtime::Store<super::state::HostState>) -> wasmtime::Result<Analyzer> {
        self.instantiate(store)
    }
}

impl Instantiate for AggregatorPre<super::state::HostState> {
    type Instance = Aggregator;
    fn instantiate_in(&self, store: &mut wasmtime::Store<super::state::HostState>) -> wasmtime::Result<Aggregator> {
        self.instantiate(store)
    }
}

/// `market` with at most the last `depth` samples of each symbol's history.
fn with_history_depth(market: &Market, depth: usize) -> Market {
    let history = &market.history;
    let mut trimmed = super::bindings::History {
        lengths: Vec::with_capacity(history.lengths.len()),
        price: Vec::new(),
        volume_24h: Vec::new(),
        timestamp_ms: Vec::new(),
    };
    let mut start = 0usize;
    for &len in &history.lengths {
        let len = len as usize;
        let keep = len.min(depth);
        let range = start + len - keep..start + len;
        trimmed.lengths.push(keep as u32);
        trimmed.price.extend_from_slice(&history.price[range.clone()]);
        trimmed.volume_24h.extend_from_slice(&history.volume_24h[range.clone()]);
        trimmed.timestamp_ms.extend_from_slice(&history.timestamp_ms[range]);
        start += len;
    }
    Market {
        history: trimmed,
        ..market.clone()
    }
}

/// Rejects files that are not WebAssembly components before handing them to the compiler,
/// with a reason an author can act on.
fn check_header(bytes: &[u8]) -> Result<()> {
    match bytes {
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => {
            bail!("a core WebAssembly module, not a component: build it with `--target wasm32-wasip2`")
        }
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', ..] => bail!("truncated WebAssembly header"),
        _ => bail!("not a WebAssembly file (no `\\0asm` header)"),
    }
}

/// Tells an analyzer from an aggregator by its exports, and checks them against the host's
/// WIT (`pulse:plugin@0.1.0`).
fn classify(engine: &PluginEngine, component: &Component) -> Result<PluginKind> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine.engine()).map(|(name, _)| name).collect();
    let pre = engine
        .linker()
        .instantiate_pre(component)
        .map_err(anyhow::Error::from)
        .context("imports something the host does not provide (only WASI and pulse:plugin/host@0.1.0 are offered)")?;
    if exports.contains(&"analyze") {
        let pre = AnalyzerPre::new(pre)
            .map_err(anyhow::Error::from)
            .context("exports `analyze` but does not match the analyzer world of pulse:plugin@0.1.0")?;
        Ok(PluginKind::Analyzer(pre))
    } else if exports.contains(&"aggregate") {
        let pre = AggregatorPre::new(pre)
            .map_err(anyhow::Error::from)
            .context("exports `aggregate` but does not match the aggregator world of pulse:plugin@0.1.0")?;
        Ok(PluginKind::Aggregator(pre))
    } else {
        bail!(
            "exports neither the analyzer nor the aggregator world of pulse:plugin@0.1.0 (its exports: {})",
            if exports.is_empty() {
                "none".to_string()
            } else {
                exports.join(", ")
            }
        )
    }
}

fn describe(engine: &PluginEngine, kind: &PluginKind, label: Arc<str>, policy: &PluginPolicy) -> Result<PluginInfo> {
    let mut store = engine.store(label, policy);
    let result = match kind {
        PluginKind::Analyzer(pre) => pre.instantiate(&mut store).and_then(|i| i.call_describe(&mut store)),
        PluginKind::Aggregator(pre) => pre.instantiate(&mut store).and_then(|i| i.call_describe(&mut store)),
    };
    store.data().flush_output();
    result.map_err(|e| explain_trap(e.into())).context("describe() trapped")
}

fn check_info(info: &PluginInfo, kind: &PluginKind, policy: &PluginPolicy) -> Result<()> {
    let name_ok = (1..=64).contains(&info.name.len())
        && info
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !name_ok {
        bail!(
            "describe(): name {:?} must be 1-64 characters of a-z, 0-9, '-' or '_'",
            info.name
        );
    }
    if info.version.is_empty() || info.version.len() > 64 {
        bail!("describe(): version of {} must be 1-64 characters", info.name);
    }
    if info.history_depth > MAX_HISTORY_DEPTH {
        bail!(
            "describe(): history-depth {} of {} is above the limit of {MAX_HISTORY_DEPTH}",
            info.history_depth,
            info.name
        );
    }
    match kind {
        PluginKind::Analyzer(_) if !info.key_prefixes.is_empty() => {
            bail!(
                "describe(): analyzer {} declares key-prefixes, but only aggregators write keys",
                info.name
            )
        }
        PluginKind::Aggregator(_) if info.key_prefixes.is_empty() => {
            bail!(
                "describe(): aggregator {} declares no key-prefixes, so it could write nothing",
                info.name
            )
        }
        _ => {}
    }
    for prefix in &info.key_prefixes {
        crate::cache::check_key_prefix(prefix).with_context(|| format!("describe(): key prefix {prefix:?}"))?;
        if !policy
            .key_prefixes
            .iter()
            .any(|granted| prefix.starts_with(granted.as_str()))
        {
            bail!(
                "{} wants to write under {prefix:?} but is granted only {:?}; an operator grants it with \
                 `[sandbox.plugin.{}] key_prefixes = [{prefix:?}]` in the daemon's config",
                info.name,
                policy.key_prefixes,
                info.name
            );
        }
    }
    Ok(())
}

/// Checks that an analyzer's result is aligned with the market (one verdict per input symbol,
/// a full row of components each), and drops verdicts whose score is not a finite number in
/// 0..100. Returns how many were dropped.
fn check_analyses(analyses: &mut Analyses, symbols: usize) -> Result<usize> {
    if analyses.verdicts.len() != symbols {
        bail!("returned {} verdicts for {symbols} symbols", analyses.verdicts.len());
    }
    let expected = symbols * analyses.component_names.len();
    if analyses.components.len() != expected {
        bail!(
            "returned {} component values; {symbols} symbols x {} names needs {expected}",
            analyses.components.len(),
            analyses.component_names.len()
        );
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

fn value_len(value: &Value) -> usize {
    match value {
        Value::Json(s) | Value::Text(s) => s.len(),
    }
}

/// Turns wasmtime's traps into reasons an operator can read.
fn explain_trap(error: anyhow::Error) -> anyhow::Error {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => error.context("exceeded its call deadline"),
        Some(Trap::UnreachableCodeReached) => error.context("trapped: unreachable (a panic or abort in the plugin)"),
        Some(_) => error.context("trapped"),
        None if format!("{error:#}").contains("forcing trap when growing memory") => {
            error.context("exceeded its memory cap")
        }
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_names_the_problem() {
        let msg = |b: &[u8]| check_header(b).unwrap_err().to_string();
        assert!(msg(b"hello world").contains("not a WebAssembly file"));
        assert!(msg(b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
        assert!(msg(b"\0asm").contains("truncated"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
