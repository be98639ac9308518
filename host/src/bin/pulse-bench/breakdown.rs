//! Where a cycle's time goes, from the cycle's own spans (`pipeline/spans.rs`): a tracing layer
//! of the benchmark's times the snapshot, each plugin call and the write, and each cycle is cut
//! into its steps. What no span covers (the markets built for each plugin, the checks of the
//! entries, the status, the scoring after the write) is the rest of the cycle's wall time.
//!
//! Timing spans has a cost (0.3 ms more at 30 symbols in one run), so it is
//! on only for cycles run to be cut into steps ([`timing`]), after those whose times are the
//! figures; while it is off, every span is disabled, as in a process without a subscriber.
//! Shadow versions' calls carry their kind as serving ones do, so a cycle with shadows would
//! count them in the step of their kind: the benchmark's cycles have none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::harness::percentiles;

/// A step of the cycle that has a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Snapshot,
    Analyzers,
    Aggregators,
    Write,
}

/// A span of a step, from its opening to its closing.
struct Timed {
    step: Step,
    start: Instant,
    end: Instant,
}

/// Spans closed since the last cycle was cut into its steps.
static CLOSED: Mutex<Vec<Timed>> = Mutex::new(Vec::new());
/// Whether the steps' spans are timed now.
static TIMING: AtomicBool = AtomicBool::new(false);

/// Turns the timing of the steps' spans on or off.
pub fn timing(on: bool) {
    TIMING.store(on, Ordering::Relaxed);
}

/// Makes the layer this process's subscriber, so the cycles run from now on are timed step by
/// step. Fails if the process already has one (a `traces` variant).
pub fn install() -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(StepTimes))?;
    Ok(())
}

/// Times the spans of the cycle's steps.
struct StepTimes;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StepTimes {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        match metadata.is_span() && matches!(metadata.name(), "snapshot" | "write" | "plugin call") {
            true => Interest::sometimes(),
            false => Interest::never(),
        }
    }

    fn enabled(&self, _: &Metadata<'_>, _: Context<'_, S>) -> bool {
        TIMING.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let step = match attrs.metadata().name() {
            "snapshot" => Step::Snapshot,
            "write" => Step::Write,
            "plugin call" => {
                let mut kind = Kind(None);
                attrs.record(&mut kind);
                match kind.0.as_deref() {
                    Some("analyzer") => Step::Analyzers,
                    Some(_) => Step::Aggregators,
                    None => return,
                }
            }
            _ => return,
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert((step, Instant::now()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(&(step, start)) = span.extensions().get::<(Step, Instant)>() else {
            return;
        };
        let timed = Timed {
            step,
            start,
            end: Instant::now(),
        };
        CLOSED.lock().unwrap_or_else(|e| e.into_inner()).push(timed);
    }
}

/// A call span's `kind` field (a string, `spans::call`).
struct Kind(Option<String>);

impl Visit for Kind {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "kind" {
            self.0 = Some(value.to_string());
        }
    }

    /// Every other field is not the kind.
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// A step's name and where [`Steps`] holds it.
type StepField = (&'static str, fn(&Steps) -> f64);

/// Each step, in the cycle's order.
const STEP_FIELDS: [StepField; 6] = [
    ("cycle", |s| s.cycle),
    ("snapshot", |s| s.snapshot),
    ("analyzers", |s| s.analyzers),
    ("aggregators", |s| s.aggregators),
    ("write", |s| s.write),
    ("rest", |s| s.rest),
];

/// One cycle's steps, in ms. Calls of a kind run in parallel, so theirs is the wall time from
/// the first one's start to the last one's end.
#[derive(Debug, Default, Clone, Copy)]
pub struct Steps {
    /// The whole cycle, timed with its steps.
    cycle: f64,
    snapshot: f64,
    analyzers: f64,
    aggregators: f64,
    write: f64,
    rest: f64,
}

impl Steps {
    /// The steps of the cycle that took `cycle_ms`, from the spans closed since the last one.
    pub fn take(cycle_ms: f64) -> Self {
        let closed = std::mem::take(&mut *CLOSED.lock().unwrap_or_else(|e| e.into_inner()));
        let wall = |step: Step| {
            let spans = closed.iter().filter(|t| t.step == step);
            let first = spans.clone().map(|t| t.start).min();
            let last = spans.map(|t| t.end).max();
            first
                .zip(last)
                .map_or(0.0, |(first, last)| (last - first).as_secs_f64() * 1000.0)
        };
        let mut steps = Self {
            cycle: cycle_ms,
            snapshot: wall(Step::Snapshot),
            analyzers: wall(Step::Analyzers),
            aggregators: wall(Step::Aggregators),
            write: wall(Step::Write),
            rest: 0.0,
        };
        steps.rest = (cycle_ms - steps.snapshot - steps.analyzers - steps.aggregators - steps.write).max(0.0);
        steps
    }

    /// Each step's p50 and p99 over `cycles`, as JSON.
    pub fn report(cycles: &[Steps]) -> Value {
        let fields = Self::percentiles(cycles)
            .into_iter()
            .map(|(name, p50, p99)| (name.to_string(), json!({ "ms_p50": p50, "ms_p99": p99 })));
        Value::Object(fields.collect())
    }

    /// Each step's p50 over `cycles`, for the readable line.
    pub fn line(cycles: &[Steps]) -> String {
        let shown: Vec<String> = Self::percentiles(cycles)
            .into_iter()
            .map(|(name, p50, _)| format!("{name} {p50:.2}"))
            .collect();
        format!("steps p50 (ms): {}", shown.join(", "))
    }

    /// Each step's name, p50 and p99 over `cycles` (none without cycles).
    fn percentiles(cycles: &[Steps]) -> Vec<(&'static str, f64, f64)> {
        if cycles.is_empty() {
            return Vec::new();
        }
        STEP_FIELDS
            .into_iter()
            .map(|(name, field)| {
                let mut times: Vec<f64> = cycles.iter().map(field).collect();
                let (p50, p99, _) = percentiles(&mut times);
                (name, p50, p99)
            })
            .collect()
    }
}
