//! Calling a staged plugin: a fresh instance per call, `init` with its config, then the call,
//! each bounded in time, memory, what it may hand back and what it may log.

use std::cell::Cell;

use super::call_env::CallEnv;
use super::checks::{aggregate_fuel, check_analyses, check_entries, check_state, DESCRIBE_FUEL};
use super::engine::fuel_for;
use super::failure::CallError;
use super::loaded::LoadedPlugin;
use super::state::HostState;
use super::world::{Instance, PluginKind, WorldPre};
use crate::shared::call::Failure;
use crate::shared::contract::{Analyses, AnalyzerOutput, CacheEntry};
use crate::shared::market_view::CallMarket;

thread_local! {
    /// The instructions the last call made on this thread executed, until taken. Kept per
    /// thread, not per plugin: a call given up on at its deadline goes on in its own thread and
    /// can never leave its count where the next call's is read.
    static COUNTED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The instructions the last call made on this thread executed (instantiation, `init` and the
/// call), once; `None` if instructions are not counted, or it was taken already. Read it on the
/// thread that made the call, right after it.
pub fn take_instructions() -> Option<u64> {
    COUNTED.with(Cell::take)
}

/// What an accepted call hands back: its result, and the state its version's next call gets
/// (which the caller keeps, [`LoadedPlugin::keep_state`], only if it accepts the call).
#[derive(Debug)]
pub struct Stated<R> {
    /// The call's result, checked.
    pub result: R,
    /// The state it returned, within the bound it declared.
    pub state: Vec<u8>,
}

impl LoadedPlugin {
    /// Runs the analyzer on a fresh instance, handing it `state`. The result must be aligned
    /// with the market and within the bounds on what an analyzer returns; verdicts whose score
    /// is not a finite number in 0..100 are dropped (set to no opinion) and counted in the
    /// second value.
    pub fn analyze(&self, market: &CallMarket, state: &[u8]) -> Result<Stated<(Analyses, usize)>, CallError> {
        let PluginKind::Analyzer(pre) = &self.kind else {
            return Err(CallError::new(
                Failure::Error,
                format!("{} is not an analyzer", self.id),
            ));
        };
        let env = CallEnv::on(&market.record, self.id.as_str());
        let mut analyzed = self.call(
            &**pre,
            env,
            self.policy.max_result_bytes + self.info.max_state_bytes as usize,
            "analyze",
            |instance, store| instance.analyze(store, market, state),
        )?;
        let dropped = check_analyses(&mut analyzed.analyses, market.len())?;
        check_state(&analyzed.state, &self.info)?;
        Ok(Stated {
            result: (analyzed.analyses, dropped),
            state: analyzed.state,
        })
    }

    /// Runs the aggregator on a fresh instance, handing it `state`. Output beyond the entry or
    /// byte caps is refused whole; each entry is then validated on its own before it is written.
    pub fn aggregate(
        &self,
        market: &CallMarket,
        results: &[AnalyzerOutput],
        state: &[u8],
    ) -> Result<Stated<Vec<CacheEntry>>, CallError> {
        let PluginKind::Aggregator(pre) = &self.kind else {
            return Err(CallError::new(
                Failure::Error,
                format!("{} is not an aggregator", self.id),
            ));
        };
        let env = CallEnv::on(&market.record, self.id.as_str());
        let aggregated = self.call(
            &**pre,
            env,
            aggregate_fuel(&self.policy) + self.info.max_state_bytes as usize,
            "aggregate",
            |instance, store| instance.aggregate(store, market, results, state),
        )?;
        check_entries(&aggregated.entries, &self.policy)?;
        check_state(&aggregated.state, &self.info)?;
        Ok(Stated {
            result: aggregated.entries,
            state: aggregated.state,
        })
    }

    /// Instantiates in a store whose clocks and random read `env`, calls `init` (which may hand back at most [`DESCRIBE_FUEL`] bytes), then
    /// `body`, which may hand back at most `fuel` bytes (never less than `init` may); logs what
    /// the plugin printed, whatever the outcome.
    pub(super) fn call<I: Instance + ?Sized, R>(
        &self,
        pre: &dyn WorldPre<I>,
        env: CallEnv,
        fuel: usize,
        what: &str,
        body: impl FnOnce(&I, &mut wasmtime::Store<HostState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallError> {
        COUNTED.with(|counted| counted.set(None));
        let mut store = self.engine.store(self.id.shared(), &self.policy, self.log.clone(), env);
        let mut lift_bound = DESCRIBE_FUEL;
        let result = (|| {
            let instance = pre.instantiate(&mut store)?;
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
        if let Ok(left) = store.get_fuel() {
            let executed = fuel_for(&self.policy).saturating_sub(left);
            COUNTED.with(|counted| counted.set(Some(executed)));
        }
        match result {
            Ok(outcome) => outcome,
            Err(e) => Err(CallError::from_wasmtime(
                &e,
                store.data().memory_capped(),
                (lift_bound, self.policy.max_instructions),
                last_words.as_deref(),
            )),
        }
    }
}
