//! Staging a plugin version: its identity from the file name, compiling, telling its world,
//! `describe()`, its config through `init`, and a trial call on the last cycle's data. Each
//! step that runs plugin code is bounded by the plugin's own deadline.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::artifacts::ArtifactCache;
use super::call_env::CallEnv;
use super::checks::{check_header, check_info, DESCRIBE_FUEL};
use super::deadline::call_on_thread;
use super::engine::PluginEngine;
use super::failure::CallError;
use super::file::PluginSource;
use super::loaded::LoadedPlugin;
use super::log_budget::LogBudget;
use super::world::PluginKind;
use crate::config::PluginPolicy;
use crate::shared::contract::{AnalyzerOutput, PluginInfo};
use crate::shared::identity::PluginId;
use crate::shared::market_view::WidestMarket;
use crate::shared::needs::Needs;

/// The steps a plugin version goes through before it serves, in order; a refusal names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the file and its side config.
    Read,
    /// Its identity: the file name, and the name `describe()` gives.
    Name,
    /// Its signature, under `[trust]` (only when signatures are required).
    Signature,
    /// Compiling it, or loading it from the compile cache.
    Compile,
    /// Telling which world it exports.
    World,
    /// Calling `describe()` and checking what it says.
    Describe,
    /// Building the JSON config `init` gets.
    Config,
    /// Calling `init` with it.
    Init,
    /// One real call on the last cycle's data.
    Trial,
    /// Admission beside the serving plugins (clashes of identity or prefixes).
    Admit,
}

impl Stage {
    /// The stage's name in log lines and in `pulse check`.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Name => "name",
            Stage::Signature => "signature",
            Stage::Compile => "compile",
            Stage::World => "world",
            Stage::Describe => "describe",
            Stage::Config => "config",
            Stage::Init => "init",
            Stage::Trial => "trial",
            Stage::Admit => "admit",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why staging a plugin failed, and at which stage.
#[derive(Debug)]
pub struct StageError {
    /// Where it failed.
    pub stage: Stage,
    /// The reason.
    pub error: anyhow::Error,
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {:#}", self.stage, self.error)
    }
}

/// Tags an error with the stage it happened at.
trait AtStage<T> {
    fn at(self, stage: Stage) -> Result<T, StageError>;
}

impl<T, E: Into<anyhow::Error>> AtStage<T> for Result<T, E> {
    fn at(self, stage: Stage) -> Result<T, StageError> {
        self.map_err(|error| StageError {
            stage,
            error: error.into(),
        })
    }
}

/// What a trial call is made on: the last cycle's market and analyzer outputs.
#[derive(Clone)]
pub struct TrialInput {
    /// The last market, with everything any serving plugin asked for (a staged plugin's
    /// time frames or columns beyond those come with no candles).
    pub market: WidestMarket,
    /// What that market holds.
    pub holds: Needs,
    /// The last cycle's analyzer outputs, for aggregators.
    pub outputs: Arc<Vec<AnalyzerOutput>>,
}

impl LoadedPlugin {
    /// Stages `source`: takes its identity from the file name, its signer from `signer_of` (which
    /// refuses it when signatures are required and it is not rightly signed), compiles it (or loads it from
    /// `artifacts`), tells its world, calls `describe()` (whose name must match the identity),
    /// `init` with the config `config_for(identity)` returns, and, given a `trial` input, one
    /// real call. Returns the plugin and whether compilation was skipped. Each call into the
    /// plugin runs under the policy `policy_for(identity)` returns and is bounded by its
    /// deadline, even one stuck in a blocking host call.
    pub(super) fn stage(
        engine: &Arc<PluginEngine>,
        artifacts: &ArtifactCache,
        source: &PluginSource,
        policy_for: impl Fn(&str) -> PluginPolicy,
        config_for: impl Fn(&str) -> Result<String>,
        signer_of: impl Fn(&PluginSource) -> Result<Option<String>>,
        trial: Option<&TrialInput>,
    ) -> Result<(Arc<Self>, bool), StageError> {
        let id = PluginId::of_file(&source.path).at(Stage::Name)?;
        let signer = signer_of(source).at(Stage::Signature)?;
        check_header(&source.bytes).at(Stage::Compile)?;
        let compiled = artifacts
            .component(engine.engine(), &source.bytes, &source.fingerprint.hash)
            .context("not a valid WebAssembly component")
            .at(Stage::Compile)?;
        let kind = PluginKind::of(engine.engine(), engine.linker(), &compiled.component).at(Stage::World)?;
        let policy = policy_for(id.as_str());
        let log = Arc::new(LogBudget::default());
        let info = {
            let (engine, kind, label, policy, log) =
                (engine.clone(), kind.clone(), id.shared(), policy.clone(), log.clone());
            call_on_thread(policy.call_timeout, move || {
                describe(&engine, &kind, label, &policy, log)
            })
        }
        .at(Stage::Describe)?;
        id.check_described(&info.name, &source.path).at(Stage::Name)?;
        check_info(&info, &id, &source.path, kind.writes_keys(), &policy).at(Stage::Describe)?;
        let plugin = Arc::new(Self {
            needs: Needs::of(&info),
            config_json: config_for(id.as_str()).at(Stage::Config)?,
            id,
            policy,
            loaded_at_ms: crate::shared::clock::now_ms(),
            last_peak_memory: Default::default(),
            log,
            info,
            path: source.path.clone(),
            fingerprint: source.fingerprint.clone(),
            signer,
            bytes: source.bytes.clone(),
            kind,
            engine: engine.clone(),
            _artifact: compiled.lease,
            state: Default::default(),
        });
        let deadline = plugin.policy.call_timeout;
        let p = plugin.clone();
        call_on_thread(deadline, move || p.trial_init()).at(Stage::Init)?;
        if let Some(input) = trial {
            let (p, input) = (plugin.clone(), input.clone());
            call_on_thread(deadline, move || p.trial(&input)).at(Stage::Trial)?;
        }
        Ok((plugin, compiled.cached))
    }

    /// One real call on the last cycle's data, from empty state; its result and the state it
    /// returns are checked and discarded.
    fn trial(&self, input: &TrialInput) -> Result<(), CallError> {
        let market = self.needs.cut(&input.market, &input.holds);
        match self.kind {
            PluginKind::Analyzer(_) => self.analyze(&market.view(), &[]).map(drop),
            PluginKind::Aggregator(_) => self.aggregate(&market.view(), &input.outputs, &[]).map(drop),
        }
    }

    /// Calls `init` on a fresh instance, so a bad config is reported while staging.
    fn trial_init(&self) -> Result<(), CallError> {
        let env = CallEnv::unmarketed(self.id.as_str());
        let result = match &self.kind {
            PluginKind::Analyzer(pre) => self.call(&**pre, env, 0, "init", |_, _| Ok(Ok(()))),
            PluginKind::Aggregator(pre) => self.call(&**pre, env, 0, "init", |_, _| Ok(Ok(()))),
        };
        result.map_err(|e| CallError::new(e.failure, format!("init rejected its config or trapped: {e}")))
    }
}

/// Calls `describe()` on a fresh instance, which may hand back at most [`DESCRIBE_FUEL`] bytes.
fn describe(
    engine: &PluginEngine,
    kind: &PluginKind,
    label: Arc<str>,
    policy: &PluginPolicy,
    log: Arc<LogBudget>,
) -> Result<PluginInfo, CallError> {
    let env = CallEnv::unmarketed(&label);
    let mut store = engine.store(label, policy, log, env);
    let result = kind.instantiate(&mut store).and_then(|i| i.describe(&mut store));
    let last_words = store.data_mut().finish_log();
    result.map_err(|e| {
        let bounds = (DESCRIBE_FUEL, policy.max_instructions);
        CallError::from_wasmtime(&e, store.data().memory_capped(), bounds, last_words.as_deref())
    })
}
