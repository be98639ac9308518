//! What the trace export did since start: spans sent, spans dropped and why, batches lost. One
//! record for the process, as the tracing subscriber that makes the spans is one per process:
//! the exporter (`traces`) counts into it, `/metrics` reads it.

use std::sync::atomic::{AtomicU64, Ordering};

/// The export's counters, all zero while traces are off.
#[derive(Debug)]
pub struct TraceExport {
    /// Spans the collector accepted.
    exported: AtomicU64,
    /// Spans dropped because the queue was full when they ended (the collector slow or away).
    dropped_queue_full: AtomicU64,
    /// Spans dropped with their batch, which the collector did not take in time.
    dropped_export_failed: AtomicU64,
    /// Batches the collector did not take in time, each dropped whole.
    batches_failed: AtomicU64,
}

/// The process's trace export record.
pub static TRACE_EXPORT: TraceExport = TraceExport {
    exported: AtomicU64::new(0),
    dropped_queue_full: AtomicU64::new(0),
    dropped_export_failed: AtomicU64::new(0),
    batches_failed: AtomicU64::new(0),
};

/// The counters as read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceExportCounts {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans dropped at a full queue.
    pub dropped_queue_full: u64,
    /// Spans dropped with a failed batch.
    pub dropped_export_failed: u64,
    /// Batches that failed.
    pub batches_failed: u64,
}

impl TraceExport {
    /// Counts a batch of `spans` the collector took.
    pub fn exported(&self, spans: usize) {
        self.exported.fetch_add(spans as u64, Ordering::Relaxed);
    }

    /// Counts a batch of `spans` the collector did not take, dropped whole.
    pub fn batch_failed(&self, spans: usize) {
        self.dropped_export_failed.fetch_add(spans as u64, Ordering::Relaxed);
        self.batches_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a span dropped at a full queue.
    pub fn queue_full(&self) {
        self.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn counts(&self) -> TraceExportCounts {
        TraceExportCounts {
            exported: self.exported.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_export_failed: self.dropped_export_failed.load(Ordering::Relaxed),
            batches_failed: self.batches_failed.load(Ordering::Relaxed),
        }
    }
}
