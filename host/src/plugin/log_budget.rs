//! How much a plugin may write to the daemon's log: lines and bytes per call and per minute.
//! Lines past the budget are dropped and counted, never failing the call (a chatty but
//! correct plugin keeps serving), and one line a minute at most says how much was dropped.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most lines one call may write (its `log` calls, stdout and stderr together).
pub const LINES_PER_CALL: u32 = 100;
/// Most bytes of those lines one call may write.
pub const BYTES_PER_CALL: usize = 64 * 1024;
/// Most lines one plugin version may write in a minute, over all its calls.
pub const LINES_PER_MINUTE: u32 = 1000;
/// Most bytes one plugin version may write in a minute.
pub const BYTES_PER_MINUTE: usize = 256 * 1024;
/// The window of the per-minute budget, and the shortest time between two summary lines.
const MINUTE: Duration = Duration::from_secs(60);

/// Log lines and bytes dropped over the budget.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Lines dropped.
    pub lines: u64,
    /// Bytes of those lines.
    pub bytes: u64,
}

impl Dropped {
    fn add(&mut self, other: Dropped) {
        self.lines += other.lines;
        self.bytes += other.bytes;
    }

    fn is_empty(self) -> bool {
        self.lines == 0 && self.bytes == 0
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dropped {} log lines ({} bytes) over its budget of {LINES_PER_CALL} lines and {} KiB a call, \
             {LINES_PER_MINUTE} lines and {} KiB a minute; at most one such line a minute",
            self.lines,
            self.bytes,
            BYTES_PER_CALL >> 10,
            BYTES_PER_MINUTE >> 10
        )
    }
}

/// One plugin version's log allowance across its calls.
#[derive(Debug, Default)]
pub struct LogBudget(Mutex<Window>);

/// The current minute's use and what was dropped but not yet reported.
#[derive(Debug, Default)]
struct Window {
    /// When the current minute started; `None` before the first line.
    started: Option<Instant>,
    /// Lines written in the current minute.
    lines: u32,
    /// Bytes written in the current minute.
    bytes: usize,
    /// Dropped since the last summary line.
    unsummarised: Dropped,
    /// Dropped since the metrics last took them.
    untaken: Dropped,
    /// When the last summary line was due.
    summarised_at: Option<Instant>,
}

impl LogBudget {
    /// Takes what was dropped since the last take, for the metrics.
    pub fn take_dropped(&self) -> Dropped {
        std::mem::take(&mut self.0.lock().unwrap().untaken)
    }

    /// Spends a line of `bytes` from the current minute, if it has room.
    fn spend(&self, bytes: usize, now: Instant) -> bool {
        let mut window = self.0.lock().unwrap();
        if window.started.is_none_or(|at| now.duration_since(at) >= MINUTE) {
            window.started = Some(now);
            window.lines = 0;
            window.bytes = 0;
        }
        let fits = window.lines < LINES_PER_MINUTE && window.bytes + bytes <= BYTES_PER_MINUTE;
        if fits {
            window.lines += 1;
            window.bytes += bytes;
        }
        fits
    }

    /// Adds a call's drops; returns all drops not yet summarised when a summary line is due.
    fn settle(&self, dropped: Dropped, now: Instant) -> Option<Dropped> {
        let mut window = self.0.lock().unwrap();
        window.untaken.add(dropped);
        window.unsummarised.add(dropped);
        let due = window.summarised_at.is_none_or(|at| now.duration_since(at) >= MINUTE);
        if window.unsummarised.is_empty() || !due {
            return None;
        }
        window.summarised_at = Some(now);
        Some(std::mem::take(&mut window.unsummarised))
    }
}

/// One call's use of its plugin's budget.
#[derive(Debug)]
pub struct CallLog {
    /// The plugin version's budget.
    budget: Arc<LogBudget>,
    /// Lines this call wrote.
    lines: u32,
    /// Bytes this call wrote.
    bytes: usize,
    /// What this call had dropped.
    dropped: Dropped,
}

impl CallLog {
    /// A call drawing on `budget`.
    pub fn new(budget: Arc<LogBudget>) -> Self {
        Self {
            budget,
            lines: 0,
            bytes: 0,
            dropped: Dropped::default(),
        }
    }

    /// Whether this call has written all the lines it may, so a line can be counted as
    /// dropped without preparing it.
    pub fn spent(&self) -> bool {
        self.lines >= LINES_PER_CALL
    }

    /// Whether a line of `bytes` may be written; a line refused is counted as dropped.
    pub fn admit(&mut self, bytes: usize) -> bool {
        self.admit_at(bytes, Instant::now())
    }

    fn admit_at(&mut self, bytes: usize, now: Instant) -> bool {
        let fits = self.lines < LINES_PER_CALL && self.bytes + bytes <= BYTES_PER_CALL && self.budget.spend(bytes, now);
        if fits {
            self.lines += 1;
            self.bytes += bytes;
        } else {
            self.discarded(1, bytes);
        }
        fits
    }

    /// Counts output the plugin wrote that never became a line (past the capture's capacity).
    pub fn discarded(&mut self, lines: u64, bytes: usize) {
        self.dropped.add(Dropped {
            lines,
            bytes: bytes as u64,
        });
    }

    /// Ends the call: its drops join its plugin's. Returns the drops to report when a summary
    /// line is due (the first drop, then at most once a minute).
    pub fn finish(&mut self) -> Option<Dropped> {
        self.finish_at(Instant::now())
    }

    fn finish_at(&mut self, now: Instant) -> Option<Dropped> {
        self.budget.settle(std::mem::take(&mut self.dropped), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(budget: &Arc<LogBudget>) -> CallLog {
        CallLog::new(budget.clone())
    }

    #[test]
    fn a_call_writes_at_most_its_lines_and_bytes_and_the_rest_is_counted() {
        let budget = Arc::new(LogBudget::default());
        let now = Instant::now();
        let mut log = call(&budget);
        let written = (0..150).filter(|_| log.admit_at(10, now)).count();
        assert_eq!(written, LINES_PER_CALL as usize);
        let first = log.finish_at(now).unwrap();
        assert_eq!(first, Dropped { lines: 50, bytes: 500 });
        assert!(first
            .to_string()
            .starts_with("dropped 50 log lines (500 bytes) over its budget"));

        let mut log = call(&budget);
        assert!(log.admit_at(BYTES_PER_CALL, now));
        assert!(!log.admit_at(1, now), "the call's bytes are spent");
        assert_eq!(log.finish_at(now), None, "one summary a minute");
        assert_eq!(budget.take_dropped(), Dropped { lines: 51, bytes: 501 });
        assert_eq!(budget.take_dropped(), Dropped::default());
    }

    #[test]
    fn the_minute_budget_spans_calls_and_renews() {
        let budget = Arc::new(LogBudget::default());
        let start = Instant::now();
        let mut written = 0;
        for _ in 0..20 {
            let mut log = call(&budget);
            written += (0..LINES_PER_CALL).filter(|_| log.admit_at(100, start)).count();
            log.finish_at(start);
        }
        assert_eq!(written, LINES_PER_MINUTE as usize);
        let mut log = call(&budget);
        assert!(!log.admit_at(100, start + Duration::from_secs(59)));
        let later = start + MINUTE;
        assert!(log.admit_at(100, later), "a new minute");
        let summary = log.finish_at(later).unwrap();
        assert_eq!(summary.lines, 9 * 100 + 1, "what was dropped since the first summary");
    }

    #[test]
    fn a_quiet_plugin_reports_nothing() {
        let budget = Arc::new(LogBudget::default());
        let mut log = call(&budget);
        assert!(log.admit_at(4096, Instant::now()));
        assert_eq!(log.finish(), None);
        assert_eq!(budget.take_dropped(), Dropped::default());
    }
}
