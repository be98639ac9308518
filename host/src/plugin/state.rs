//! What a plugin's store holds: an empty WASI context with bounded host resources, memory
//! limits and the plugin's name for its log lines.

use std::sync::Arc;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::analyzer::pulse::plugin::host;
use super::bindings::Level;
use super::text::{sanitise, MAX_LOG_LINE_BYTES};

/// How much stdout and stderr one call may write before further writes trap.
pub const OUTPUT_CAPACITY: usize = 64 * 1024;
/// Most WASI resources (streams, pollables, ...) one call may hold at once.
pub const MAX_WASI_HANDLES: usize = 1024;
/// Most random bytes one WASI call may ask for.
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// Store data of one plugin call.
pub struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MeasuredLimits,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl HostState {
    /// A state that grants no files, network, environment or arguments; stdout and stderr are
    /// captured and logged after the call.
    pub fn new(plugin: Arc<str>, memory_bytes: usize) -> Self {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_WASI_HANDLES);
        Self {
            plugin,
            wasi,
            table,
            limits: MeasuredLimits {
                limits: StoreLimitsBuilder::new()
                    .memory_size(memory_bytes)
                    .trap_on_grow_failure(true)
                    .build(),
                peak_memory: 0,
                capped: false,
            },
            stdout,
            stderr,
        }
    }

    /// The limiter the store consults whenever the plugin grows memory or tables.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }

    /// The largest linear memory the plugin grew to in this store, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.limits.peak_memory
    }

    /// Whether the plugin tried to grow its memory past the cap in this store.
    pub fn memory_capped(&self) -> bool {
        self.limits.capped
    }

    /// Logs what the plugin wrote to stdout (info) and stderr (warn), a line at a time, each
    /// line cut and escaped.
    pub fn flush_output(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()) {
                let line = sanitise(line, MAX_LOG_LINE_BYTES);
                if stream == "stdout" {
                    tracing::info!(plugin = %self.plugin, stream, "{line}");
                } else {
                    tracing::warn!(plugin = %self.plugin, stream, "{line}");
                }
            }
        }
    }
}

/// [`StoreLimits`] that also remember the peak memory granted and whether the cap was hit.
struct MeasuredLimits {
    limits: StoreLimits,
    peak_memory: usize,
    capped: bool,
}

impl ResourceLimiter for MeasuredLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let granted = self.limits.memory_growing(current, desired, maximum);
        match granted {
            Ok(true) => self.peak_memory = self.peak_memory.max(desired),
            Ok(false) | Err(_) => self.capped = true,
        }
        granted
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = &*self.plugin;
        let message = sanitise(&message, MAX_LOG_LINE_BYTES);
        match level {
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
