//! What a plugin's store holds: an empty WASI context with bounded host resources, memory
//! limits, the plugin's name for its log lines and the call's share of its log budget.

use std::sync::Arc;

use super::call_env::CallEnv;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::limiter::MeasuredLimits;
use super::log_budget::{CallLog, LogBudget, BYTES_PER_CALL};
use super::output::CapturedOutput;
use crate::shared::contract::analyzer::pulse::plugin::host;
use crate::shared::contract::Level;
use crate::shared::text::{sanitise, MAX_LOG_LINE_BYTES};

/// Lines of stderr a trapped call's reason quotes, and how many bytes of them.
const LAST_WORDS_LINES: usize = 3;
const LAST_WORDS_BYTES: usize = 512;

/// How much of stdout and of stderr one call keeps for the log; the rest is counted as
/// dropped log output, and the writes still succeed.
pub const OUTPUT_CAPACITY: usize = BYTES_PER_CALL;
/// Most WASI resources (streams, pollables, ...) one call may hold at once.
pub const MAX_WASI_HANDLES: usize = 1024;
/// Most component-model handles (WASI resources lent to the plugin, resources it makes of its
/// own) one call may hold at once; wasmtime's default is 100,000.
pub const MAX_COMPONENT_HANDLES: usize = 4 * MAX_WASI_HANDLES;
/// Most random bytes one WASI call may ask for.
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// Store data of one plugin call.
pub struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MeasuredLimits,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    log: CallLog,
}

impl HostState {
    /// A state that grants no files, network, environment or arguments; its clocks and random
    /// read `env`; stdout and stderr are captured and logged after the call. What the plugin logs draws on `log_budget`.
    pub fn new(plugin: Arc<str>, memory_bytes: usize, log_budget: Arc<LogBudget>, env: CallEnv) -> Self {
        let stdout = CapturedOutput::new(OUTPUT_CAPACITY);
        let stderr = CapturedOutput::new(OUTPUT_CAPACITY);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .max_random_size(MAX_RANDOM_BYTES);
        env.apply(&mut wasi);
        let wasi = wasi.build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_WASI_HANDLES);
        Self {
            plugin,
            wasi,
            table,
            limits: MeasuredLimits::new(memory_bytes),
            stdout,
            stderr,
            log: CallLog::new(log_budget),
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

    /// Ends the call's logging: logs what the plugin wrote to stdout (info) and stderr (warn),
    /// a line at a time, each line cut and escaped, within the log budget; then, when one is
    /// due, the line saying how much of the plugin's log was dropped. Returns the last lines
    /// of stderr, cut and escaped, for the reason of a trap: a panic's message is there, and
    /// it must reach the operator even when the log budget is spent.
    pub fn finish_log(&mut self) -> Option<String> {
        let mut last_words = None;
        for (stream, capture) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (kept, discarded_lines, discarded_bytes) = capture.take();
            if stream == "stderr" {
                last_words = last_lines(&kept);
            }
            for line in String::from_utf8_lossy(&kept).lines().filter(|l| !l.trim().is_empty()) {
                let line = sanitise(line, MAX_LOG_LINE_BYTES);
                if !self.log.admit(line.len()) {
                    continue;
                }
                if stream == "stdout" {
                    tracing::info!(plugin = %self.plugin, stream, "{line}");
                } else {
                    tracing::warn!(plugin = %self.plugin, stream, "{line}");
                }
            }
            if discarded_bytes > 0 {
                self.log.discarded(discarded_lines.max(1), discarded_bytes);
            }
        }
        if let Some(dropped) = self.log.finish() {
            tracing::warn!(plugin = %self.plugin, "{dropped}");
        }
        last_words
    }
}

/// The last [`LAST_WORDS_LINES`] non-empty lines of `output`, joined with ` | `, cut and
/// escaped.
fn last_lines(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let mut lines: Vec<&str> = text
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(LAST_WORDS_LINES)
        .collect();
    lines.reverse();
    (!lines.is_empty()).then(|| sanitise(&lines.join(" | "), LAST_WORDS_BYTES))
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
    /// Writes a plugin's line to the daemon's log, cut, escaped and within its budget. Debug
    /// lines cost nothing while the daemon does not show them.
    fn log(&mut self, level: Level, message: String) {
        if matches!(level, Level::Debug) && !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        if self.log.spent() {
            self.log.discarded(1, message.len().min(MAX_LOG_LINE_BYTES));
            return;
        }
        let message = sanitise(&message, MAX_LOG_LINE_BYTES);
        if !self.log.admit(message.len()) {
            return;
        }
        let plugin = &*self.plugin;
        match level {
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
