//! The one wasmtime engine and linker shared by every plugin, with the epoch ticker that
//! enforces call deadlines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::Linker;
use wasmtime::{Engine, Store};

use super::call_env::CallEnv;
use super::checks::DESCRIBE_FUEL;
use super::log_budget::LogBudget;
use super::pool;
use super::state::{HostState, MAX_COMPONENT_HANDLES};
use super::world::Contract;
use crate::config::{PluginPolicy, Sandbox};

/// How often the engine's epoch advances; call deadlines are counted in these ticks, so a
/// call is cut off at most one tick after its deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The fuel a store starts with when its calls have no instruction budget: far more than any
/// call executes (centuries of work), and within what wasmtime's fuel counter takes.
const UNBUDGETED: u64 = i64::MAX as u64;

/// Compiles plugins and creates the sandboxed stores their calls run in.
pub struct PluginEngine {
    engine: Engine,
    /// Whether calls count the instructions they execute (wasmtime's fuel).
    counting: bool,
    linker: Linker<HostState>,
    /// Held for its `Drop`, which stops the ticker thread with the engine.
    _ticker: Ticker,
}

impl PluginEngine {
    /// The engine, its linker (WASI with nothing granted, plus the host interface) and the
    /// epoch ticker; instances come from a pool whose slots keep `sandbox.resident_mib` resident.
    pub fn new(sandbox: &Sandbox) -> Result<Arc<Self>> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Fuel counts the instructions each call executes: about one per WebAssembly operator, the
        // same from run to run. It changes the compiled code, hence the compile cache's key.
        config.consume_fuel(sandbox.count_instructions);
        config.allocation_strategy(pool::strategy(sandbox));
        // A trap is reported as one log line; a wasm backtrace would spread it over many.
        config.wasm_backtrace_max_frames(None);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("cannot create the wasmtime engine")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("cannot link WASI")?;
        for contract in Contract::ALL {
            contract
                .link(&mut linker)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot link the host interface of {contract}"))?;
        }
        Ok(Arc::new(Self {
            _ticker: Ticker::start(engine.clone())?,
            counting: sandbox.count_instructions,
            engine,
            linker,
        }))
    }

    /// The wasmtime engine, for compiling components.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether calls count their instructions.
    pub fn counting(&self) -> bool {
        self.counting
    }

    /// The linker holding WASI and the host interface, for pre-instantiating components.
    pub fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// A fresh store for one call of `plugin`, with the deadline and memory cap of `policy`.
    /// What the plugin may hand the host in one call starts at [`DESCRIBE_FUEL`] bytes; a
    /// call that returns more raises it first.
    /// What the plugin logs draws on `log_budget`; its clocks and random read `env`.
    pub fn store(
        &self,
        plugin: Arc<str>,
        policy: &PluginPolicy,
        log_budget: Arc<LogBudget>,
        env: CallEnv,
    ) -> Store<HostState> {
        let state = HostState::new(plugin, policy.memory_bytes, log_budget, env);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state.limiter());
        store.set_hostcall_fuel(DESCRIBE_FUEL);
        store.set_max_component_handles(MAX_COMPONENT_HANDLES);
        // The next tick may come at once, so one extra tick keeps the deadline from firing
        // early: a call is cut off between its deadline and one tick after it.
        let ticks = policy.call_timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        if self.counting {
            store
                .set_fuel(fuel_for(policy))
                .expect("fuel is enabled on this engine");
        }
        store
    }
}

/// The fuel a call of `policy` starts with: its instruction budget, or as much as wasmtime holds.
pub(super) fn fuel_for(policy: &PluginPolicy) -> u64 {
    policy
        .max_instructions
        .map_or(UNBUDGETED, |budget| budget.min(UNBUDGETED))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("pulse-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .context("cannot start the epoch ticker thread")?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
