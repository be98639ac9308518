//! One plugin, compiled and checked: what it is, what it says about itself, and how to call it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};

use super::admission::Claims;
use super::artifacts::ArtifactCache;
use super::checks::{aggregate_fuel, check_analyses, check_entries, check_header, check_info, DESCRIBE_FUEL};
use super::engine::PluginEngine;
use super::failure::CallError;
use super::log_budget::{Dropped, LogBudget};
use super::state::HostState;
use super::world::{Instantiate, PluginKind};
use crate::config::{PluginPolicy, Sandbox};
use crate::shared::call::{Fingerprint, PluginFacts};
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry, Market, PluginInfo};
use crate::shared::identity::PluginId;

/// How long past its deadline a call stuck in a blocking host call (which epoch interruption
/// cannot stop) is waited for, in cycles and while staging alike.
pub const BLOCKED_CALL_GRACE: Duration = Duration::from_millis(100);

/// A plugin file as found on disk, before staging.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// Its contents.
    pub bytes: Arc<[u8]>,
    /// What tells one version from another: content hash and side config.
    pub fingerprint: Fingerprint,
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
            fingerprint: Fingerprint {
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
    /// `read`, `name`, `compile`, `world`, `describe`, `config`, `init` or `trial`.
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
    /// Who it is: its file name, which its `describe()` name matched.
    pub id: PluginId,
    /// The plugin's metadata from `describe()`, checked against every bound.
    pub info: PluginInfo,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The version's content hash and side config.
    pub fingerprint: Fingerprint,
    /// Its world and pre-instantiated component.
    pub kind: PluginKind,
    /// Its limits and grants.
    pub policy: PluginPolicy,
    /// When this version was staged, ms since the Unix epoch.
    pub loaded_at_ms: i64,
    /// Peak linear memory of its last call, in bytes.
    last_peak_memory: std::sync::atomic::AtomicUsize,
    /// What its calls may write to the log, and what they had dropped.
    log: Arc<LogBudget>,
    /// The JSON handed to `init` on every call.
    config_json: String,
    /// The engine its stores are made by.
    engine: Arc<PluginEngine>,
}

impl Claims for Arc<LoadedPlugin> {
    fn id(&self) -> &PluginId {
        &self.id
    }
    fn key_prefixes(&self) -> &[String] {
        &self.info.key_prefixes
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

impl LoadedPlugin {
    /// Stages `source`: takes its identity from the file name, compiles it (or loads it from
    /// `artifacts`), tells its world, calls `describe()` (whose name must match the identity),
    /// `init` with the config `config_for(identity)` returns, and, given a `trial` input, one
    /// real call. Returns the plugin and whether compilation was skipped. Each call into the
    /// plugin runs under the plugin's own policy and is bounded by its deadline, even one stuck
    /// in a blocking host call.
    pub fn stage(
        engine: &Arc<PluginEngine>,
        artifacts: &ArtifactCache,
        source: &PluginSource,
        sandbox: &Sandbox,
        config_for: impl Fn(&str) -> Result<String>,
        trial: Option<&TrialInput>,
    ) -> Result<(Arc<Self>, bool), StageError> {
        let id = PluginId::of_file(&source.path).stage("name")?;
        check_header(&source.bytes).stage("compile")?;
        let (component, cached) = artifacts
            .component(engine.engine(), &source.bytes, &source.fingerprint.hash)
            .context("not a valid WebAssembly component")
            .stage("compile")?;
        let kind = PluginKind::of(engine, &component).stage("world")?;
        let policy = sandbox.policy(id.as_str());
        let log = Arc::new(LogBudget::default());
        let info = {
            let (engine, kind, label, policy, log) =
                (engine.clone(), kind.clone(), id.shared(), policy.clone(), log.clone());
            bounded(policy.call_timeout, move || {
                describe(&engine, &kind, label, &policy, log)
            })
        }
        .stage("describe")?;
        id.check_described(&info.name, &source.path).stage("name")?;
        check_info(&info, &id, &source.path, kind.writes_keys(), &policy).stage("describe")?;
        let plugin = Arc::new(Self {
            config_json: config_for(id.as_str()).stage("config")?,
            id,
            policy,
            loaded_at_ms: crate::shared::clock::now_ms(),
            last_peak_memory: Default::default(),
            log,
            info,
            path: source.path.clone(),
            fingerprint: source.fingerprint.clone(),
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
            PluginKind::Analyzer(_) => self.analyze(&market).map(drop)?,
            PluginKind::Aggregator(_) => self.aggregate(&market, &input.outputs).map(drop)?,
        }
        Ok(())
    }

    /// Peak linear memory of the last call, in bytes.
    pub fn last_peak_memory(&self) -> usize {
        self.last_peak_memory.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Log lines and bytes its calls dropped over their budget since the last take, for the
    /// metrics.
    pub fn take_log_dropped(&self) -> Dropped {
        self.log.take_dropped()
    }

    /// What status and metrics show of this version.
    pub fn facts(&self) -> PluginFacts {
        PluginFacts {
            name: self.id.to_string(),
            kind: self.kind.label(),
            version: self.info.version.clone(),
            fingerprint: self.fingerprint.clone(),
            file: self.path.display().to_string(),
            loaded_at_ms: self.loaded_at_ms,
            peak_memory_bytes: self.last_peak_memory(),
        }
    }

    /// The first 12 hex digits of the content hash, for logs.
    pub fn short_hash(&self) -> &str {
        &self.fingerprint.hash[..12]
    }

    /// Calls `init` on a fresh instance, so a bad config is reported while staging.
    fn trial_init(&self) -> Result<()> {
        let result = match &self.kind {
            PluginKind::Analyzer(pre) => self.call(pre, 0, "init", |_, _| Ok(Ok(()))),
            PluginKind::Aggregator(pre) => self.call(pre, 0, "init", |_, _| Ok(Ok(()))),
        };
        result.map_err(|e| anyhow!("init rejected its config or trapped: {e}"))
    }

    /// Runs the analyzer on a fresh instance. The result must be aligned with the market and
    /// within the bounds on what an analyzer returns; verdicts whose score is not a finite
    /// number in 0..100 are dropped (set to no opinion) and counted in the second value.
    pub fn analyze(&self, market: &Market) -> Result<(Analyses, usize), CallError> {
        let PluginKind::Analyzer(pre) = &self.kind else {
            return Err(CallError::new(
                crate::shared::call::Failure::Error,
                format!("{} is not an analyzer", self.id),
            ));
        };
        let mut analyses = self.call(pre, self.policy.max_result_bytes, "analyze", |instance, store| {
            instance.call_analyze(store, market)
        })?;
        let dropped = check_analyses(&mut analyses, market.symbols.len())?;
        Ok((analyses, dropped))
    }

    /// Runs the aggregator on a fresh instance. Output beyond the entry or byte caps is
    /// refused whole; each entry is then validated on its own before it is written.
    pub fn aggregate(&self, market: &Market, results: &[AnalyzerOutput]) -> Result<Vec<CacheEntry>, CallError> {
        let PluginKind::Aggregator(pre) = &self.kind else {
            return Err(CallError::new(
                crate::shared::call::Failure::Error,
                format!("{} is not an aggregator", self.id),
            ));
        };
        let entries = self.call(pre, aggregate_fuel(&self.policy), "aggregate", |instance, store| {
            instance.call_aggregate(store, market, results)
        })?;
        check_entries(&entries, &self.policy)?;
        Ok(entries)
    }

    /// Instantiates, calls `init` (which may hand back at most [`DESCRIBE_FUEL`] bytes), then
    /// `body`, which may hand back at most `fuel` bytes (never less than `init` may); logs what
    /// the plugin printed, whatever the outcome.
    fn call<P: Instantiate, R>(
        &self,
        pre: &P,
        fuel: usize,
        what: &str,
        body: impl FnOnce(&P::Instance, &mut wasmtime::Store<HostState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallError>
    where
        P::Instance: InitCall,
    {
        let mut store = self.engine.store(self.id.shared(), &self.policy, self.log.clone());
        let mut lift_bound = DESCRIBE_FUEL;
        let result = (|| {
            let instance = pre.instantiate_in(&mut store)?;
            if let Err(e) = instance.init(&mut store, &self.config_json)? {
                return Ok(Err(CallError::returned("init", &e)));
            }
            lift_bound = fuel.max(DESCRIBE_FUEL);
            store.set_hostcall_fuel(lift_bound);
            Ok(body(&instance, &mut store)?.map_err(|e| CallError::returned(what, &e)))
        })();
        let last_words = store.data_mut().finish_log();
        self.last_peak_memory
            .store(store.data().peak_memory(), std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(outcome) => outcome,
            Err(e) => Err(CallError::from_wasmtime(
                &e,
                store.data().memory_capped(),
                lift_bound,
                last_words.as_deref(),
            )),
        }
    }
}

/// The `init` export both worlds share.
pub trait InitCall {
    /// Calls `init(config)`.
    fn init(&self, store: &mut wasmtime::Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>>;
}

impl InitCall for crate::shared::contract::analyzer::Analyzer {
    fn init(&self, store: &mut wasmtime::Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.call_init(store, config)
    }
}

impl InitCall for crate::shared::contract::aggregator::Aggregator {
    fn init(&self, store: &mut wasmtime::Store<HostState>, config: &str) -> wasmtime::Result<Result<(), String>> {
        self.call_init(store, config)
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

/// `market` with at most the last `depth` samples of each symbol's history.
fn with_history_depth(market: &Market, depth: usize) -> Market {
    let history = &market.history;
    let mut trimmed = crate::shared::contract::History {
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

/// Calls `describe()` on a fresh instance, which may hand back at most [`DESCRIBE_FUEL`] bytes.
fn describe(
    engine: &PluginEngine,
    kind: &PluginKind,
    label: Arc<str>,
    policy: &PluginPolicy,
    log: Arc<LogBudget>,
) -> Result<PluginInfo> {
    let mut store = engine.store(label, policy, log);
    let result = match kind {
        PluginKind::Analyzer(pre) => pre.instantiate(&mut store).and_then(|i| i.call_describe(&mut store)),
        PluginKind::Aggregator(pre) => pre.instantiate(&mut store).and_then(|i| i.call_describe(&mut store)),
    };
    let last_words = store.data_mut().finish_log();
    result.map_err(|e| {
        CallError::from_wasmtime(&e, store.data().memory_capped(), DESCRIBE_FUEL, last_words.as_deref()).into()
    })
}
