//! The bound on ended spans waiting for export, and the count of what became of each: sent,
//! dropped at the bound, or dropped with a batch the collector did not take. Two wrappers share
//! the count of spans waiting: [`BoundedQueue`] before the SDK's batch processor (a span past
//! the bound is dropped there), [`Counted`] around the OTLP exporter (a batch's spans stop
//! waiting once its export ends, either way).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use tracing::{info, warn};

use crate::shared::log_throttle::LogThrottle;
use crate::shared::trace_export::TRACE_EXPORT;

/// What the two wrappers share: the spans waiting, their bound, and the export's log lines.
#[derive(Debug)]
struct Shared {
    /// Spans handed to the batch processor and not yet through an export.
    waiting: AtomicUsize,
    /// The most spans waiting; one more is dropped.
    bound: usize,
    /// Where the spans go, for the log.
    endpoint: String,
    /// The export's lines: failures when they start and then once a minute, the recovery once.
    log: Mutex<ExportLog>,
}

/// Whether exports are failing, and the throttle on saying so.
#[derive(Debug)]
struct ExportLog {
    /// Set by a failed export, cleared (with a line) by the next that works.
    failing: bool,
    /// At most a line a minute per reason.
    throttle: LogThrottle,
}

/// Failed exports' reason in the throttle.
const EXPORT_FAILED: &str = "export failed";
/// Full queue's reason in the throttle.
const QUEUE_FULL: &str = "queue full";

/// The queue's bound, to wrap the batch processor with.
pub(super) struct Bound(Arc<Shared>);

/// A span processor that drops a span, counting it, while `bound` spans wait for export.
#[derive(Debug)]
pub(super) struct BoundedQueue<P> {
    /// The batch processor.
    inner: P,
    /// The count of spans waiting, shared with the exporter.
    shared: Arc<Shared>,
}

/// An exporter that counts each batch's fate and says when the collector stops and starts
/// taking spans.
#[derive(Debug)]
pub(super) struct Counted<E> {
    /// The OTLP exporter.
    inner: E,
    /// The count of spans waiting, shared with the queue.
    shared: Arc<Shared>,
}

/// The bound of `bound` spans waiting, and `exporter` counted against it; both log with
/// `endpoint`.
pub(super) fn bounded<E>(bound: usize, exporter: E, endpoint: &str) -> (Bound, Counted<E>) {
    let shared = Arc::new(Shared {
        waiting: AtomicUsize::new(0),
        bound,
        endpoint: endpoint.to_string(),
        log: Mutex::new(ExportLog {
            failing: false,
            throttle: LogThrottle::new(Duration::from_secs(60)),
        }),
    });
    (
        Bound(shared.clone()),
        Counted {
            inner: exporter,
            shared,
        },
    )
}

impl Bound {
    /// `processor`, behind the bound.
    pub(super) fn wrapping<P: SpanProcessor>(self, processor: P) -> BoundedQueue<P> {
        BoundedQueue {
            inner: processor,
            shared: self.0,
        }
    }
}

impl Shared {
    /// The export log, even if a thread panicked holding it.
    fn log(&self) -> std::sync::MutexGuard<'_, ExportLog> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<P: SpanProcessor> SpanProcessor for BoundedQueue<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let shared = &self.shared;
        if shared.waiting.fetch_add(1, Ordering::AcqRel) >= shared.bound {
            shared.waiting.fetch_sub(1, Ordering::AcqRel);
            TRACE_EXPORT.queue_full();
            if let Some(due) = shared.log().throttle.admit(QUEUE_FULL) {
                warn!(
                    "traces: {} spans wait for the collector at {}; newer spans are dropped and counted \
                     (pulse_trace_spans_dropped_total){due}",
                    shared.bound, shared.endpoint
                );
            }
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        let shared = &self.shared;
        shared.waiting.fetch_sub(spans, Ordering::AcqRel);
        let mut log = shared.log();
        match &result {
            Ok(()) => {
                TRACE_EXPORT.exported(spans);
                if std::mem::take(&mut log.failing) {
                    log.throttle.forget(EXPORT_FAILED);
                    info!("traces: the collector at {} takes spans again", shared.endpoint);
                }
            }
            Err(e) => {
                TRACE_EXPORT.batch_failed(spans);
                log.failing = true;
                if let Some(due) = log.throttle.admit(EXPORT_FAILED) {
                    warn!(
                        "traces: the collector at {} did not take a batch of {spans} spans ({e}); they are dropped \
                         and counted (pulse_trace_batches_dropped_total){due}",
                        shared.endpoint
                    );
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::SystemTime;

    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::error::OTelSdkError;

    use super::*;

    /// A processor that holds every span it is handed, as the batch processor's queue does.
    #[derive(Debug, Default)]
    struct Holding(Mutex<Vec<SpanData>>);

    impl SpanProcessor for Holding {
        fn on_start(&self, _span: &mut Span, _cx: &Context) {}
        fn on_end(&self, span: SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// A collector that takes batches or refuses them.
    #[derive(Debug)]
    struct Collector(AtomicBool);

    impl SpanExporter for Collector {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            match self.0.load(Ordering::SeqCst) {
                true => Ok(()),
                false => Err(OTelSdkError::InternalFailure("away".into())),
            }
        }
    }

    fn span() -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "cycle".into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("pulse").build(),
        }
    }

    #[test]
    fn spans_past_the_bound_and_failed_batches_are_counted_and_the_bound_frees_after_each_export() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let before = TRACE_EXPORT.counts();
        let (bound, counted) = bounded(3, Collector(AtomicBool::new(false)), "http://collector");
        let queue = bound.wrapping(Holding::default());
        for _ in 0..5 {
            queue.on_end(span());
        }
        let held = std::mem::take(&mut *queue.inner.0.lock().unwrap());
        assert_eq!(held.len(), 3, "the bound holds 3");
        assert_eq!(TRACE_EXPORT.counts().dropped_queue_full - before.dropped_queue_full, 2);

        // The collector refuses the batch: its spans are dropped and counted, and free the bound.
        assert!(runtime.block_on(counted.export(held)).is_err());
        let after = TRACE_EXPORT.counts();
        assert_eq!(after.batches_failed - before.batches_failed, 1);
        assert_eq!(after.dropped_export_failed - before.dropped_export_failed, 3);
        assert_eq!(queue.shared.waiting.load(Ordering::SeqCst), 0);
        assert!(queue.shared.log().failing);

        // Back: the next batch is exported, counted, and the failing state ends.
        counted.inner.0.store(true, Ordering::SeqCst);
        for _ in 0..2 {
            queue.on_end(span());
        }
        let held = std::mem::take(&mut *queue.inner.0.lock().unwrap());
        assert!(runtime.block_on(counted.export(held)).is_ok());
        assert_eq!(TRACE_EXPORT.counts().exported - before.exported, 2);
        assert_eq!(queue.shared.waiting.load(Ordering::SeqCst), 0);
        assert!(!queue.shared.log().failing);
    }
}
