//! What the status server reads between cycles: the metrics, the health verdict and the
//! plugin list. The pipeline is the only writer: it publishes each finished cycle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::board::PluginStatus;
use super::live::Published;
use super::metrics::Metrics;
use super::shadows::ShadowStatus;
use super::summary::CycleSummary;
use crate::shared::clock::now_ms;
use crate::shared::stream_health::StreamHealth;

/// How long past its interval a cycle may be late before the daemon counts as stuck: cycles
/// may overrun (a tick is then skipped), so one missed tick alone is not a failure.
const LATE_CYCLE_GRACE: Duration = Duration::from_secs(1);

/// The daemon's live state as the status server shows it.
pub struct Telemetry {
    /// The Prometheus metrics.
    pub metrics: Metrics,
    /// Time between cycles, for judging whether cycles still run.
    interval: Duration,
    /// How long written keys live, for judging whether they still exist.
    ttl: Duration,
    /// The last published cycle, shared with the metrics' collector.
    live: Arc<Mutex<Published>>,
    /// When the daemon started: the market's age before any good snapshot.
    started: Instant,
}

impl Telemetry {
    /// State for a daemon that runs a cycle every `interval` and writes entries for `ttl`.
    pub fn new(interval: Duration, ttl: Duration) -> Self {
        let live = Arc::new(Mutex::new(Published::new()));
        Self {
            metrics: Metrics::new(live.clone()),
            interval,
            ttl,
            live,
            started: Instant::now(),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Published> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes a finished cycle: health, `/plugins` and `/metrics` read it.
    pub fn cycle_done(&self, summary: Arc<CycleSummary>) {
        // With no good snapshot yet, the market data is as old as the daemon.
        let market_age = summary.facts.snapshot_age.unwrap_or_else(|| self.started.elapsed());
        self.metrics.snapshot_age(market_age.as_secs_f64());
        self.live().publish(summary, Instant::now(), now_ms());
    }

    /// Publishes how many interval ticks have been skipped so far.
    pub fn ticks_skipped(&self, total: u64) {
        self.live().skipped_ticks = total;
    }

    /// Marks the daemon as shutting down: health turns 503 so balancers move away first.
    pub fn stopping(&self) {
        self.live().stopping = true;
    }

    /// The loaded plugins and their counters, as of the last cycle.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        self.live().plugins().to_vec()
    }

    /// The loaded shadow versions and how they compare, as of the last cycle.
    pub fn shadows(&self) -> Vec<ShadowStatus> {
        self.live().shadows().to_vec()
    }

    /// When the last cycle's snapshot was taken (its status's time when it served none).
    pub fn last_cycle_ms(&self) -> Option<i64> {
        let live = self.live();
        let facts = &live.last.as_ref()?.0.facts;
        Some(facts.snapshot_timestamp_ms.unwrap_or(facts.timestamp_ms))
    }

    /// The source's streams as of the last cycle, if it streams.
    pub fn stream(&self) -> Option<StreamHealth> {
        self.live().last.as_ref().and_then(|(s, _)| s.facts.stream.clone())
    }

    /// This daemon's role in its pair as of the last cycle, as `/plugins` says it; `None`
    /// without `[ha]`.
    pub fn role(&self) -> Option<String> {
        super::leadership::role_header(self.live().ha())
    }

    /// Whether a cycle has finished recently enough that cycles count as running: within two
    /// intervals and a grace, since one overrun (a skipped tick) is not a failure.
    pub fn cycles_running(&self, now: Instant) -> bool {
        self.live()
            .last
            .as_ref()
            .is_some_and(|(_, end)| now.saturating_duration_since(*end) <= self.late_after())
    }

    fn late_after(&self) -> Duration {
        self.interval * 2 + LATE_CYCLE_GRACE
    }

    /// `Ok` with a summary while cycles run and the last full write is younger than the TTL
    /// (so the dashboard keys exist); `Err` with the reason otherwise.
    pub fn health(&self, now: Instant) -> Result<String, String> {
        let live = self.live();
        if live.stopping {
            return Err("shutting down".into());
        }
        let Some((cycle, cycle_end)) = live.last.as_ref().map(|(s, end)| (s.facts.cycle, *end)) else {
            return Err("no cycle has finished yet".into());
        };
        let since_cycle = now.saturating_duration_since(cycle_end);
        if since_cycle > self.late_after() {
            return Err(format!(
                "no cycle has finished for {:.1} s (cycle {cycle} was the last; the interval is {:.1} s)",
                since_cycle.as_secs_f64(),
                self.interval.as_secs_f64()
            ));
        }
        if let Some(standby) = super::leadership::standby_health(live.ha()) {
            return Ok(format!(
                "{standby}; cycle {cycle} finished {:.1} s ago",
                since_cycle.as_secs_f64()
            ));
        }
        let error = live.write_error().unwrap_or("none");
        let Some((push, _)) = live.last_push else {
            return Err(format!("no cache write has fully succeeded yet; last error: {error}"));
        };
        let since_push = now.saturating_duration_since(push);
        if since_push > self.ttl {
            return Err(format!(
                "the last fully successful cache write was {:.1} s ago, longer than the TTL ({} s): dashboard keys \
                 may have expired; last error: {error}",
                since_push.as_secs_f64(),
                self.ttl.as_secs()
            ));
        }
        let streams = live
            .last
            .as_ref()
            .and_then(|(s, _)| s.facts.stream.as_ref())
            .map_or(String::new(), |s| {
                format!(
                    "; streams: {} connected, {} symbols gap-free, {} in a gap, {} stale",
                    s.connections, s.symbols_live, s.symbols_in_gap, s.counts.stale
                )
            });
        Ok(format!(
            "cycle {cycle} finished {:.1} s ago; last full cache write {:.1} s ago{streams}",
            since_cycle.as_secs_f64(),
            since_push.as_secs_f64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::leadership::{LeadershipFacts, Role};

    fn telemetry() -> Telemetry {
        Telemetry::new(Duration::from_secs(2), Duration::from_secs(10))
    }

    fn record(cycle: u64, write_error: Option<&str>) -> CycleSummary {
        let mut summary = CycleSummary::default();
        summary.facts.cycle = cycle;
        summary.write.wrote = true;
        summary.write.seconds = 0.01;
        if let Some(error) = write_error {
            summary.write.report.failed = 1;
            summary.write.report.first_error = Some(error.to_string());
        }
        summary
    }

    /// `summary` as a standby's, or a leader's, in `ha`.
    fn in_pair(mut summary: CycleSummary, ha: LeadershipFacts, wrote: bool) -> Arc<CycleSummary> {
        summary.facts.ha = Some(ha);
        summary.write.wrote = wrote;
        Arc::new(summary)
    }

    #[test]
    fn healthy_only_while_cycles_run_and_writes_are_younger_than_the_ttl() {
        let t = telemetry();
        let now = Instant::now();
        assert!(t.health(now).unwrap_err().contains("no cycle"));
        assert!(!t.cycles_running(now));

        t.cycle_done(Arc::new(record(1, Some("server_down"))));
        let err = t.health(Instant::now()).unwrap_err();
        assert!(
            err.contains("no cache write has fully succeeded") && err.contains("server_down"),
            "{err}"
        );

        t.cycle_done(Arc::new(record(2, None)));
        assert!(t.health(Instant::now()).unwrap().starts_with("cycle 2"));

        assert!(t.cycles_running(Instant::now() + Duration::from_secs(4)));
        assert!(!t.cycles_running(Instant::now() + Duration::from_secs(6)));
        let err = t.health(Instant::now() + Duration::from_secs(6)).unwrap_err();
        assert!(err.contains("no cycle has finished for 6"), "{err}");

        // Cycles go on but writes fail: healthy until the last good write is a TTL old.
        t.cycle_done(Arc::new(record(3, Some("timeout"))));
        assert!(t.health(Instant::now() + Duration::from_secs(4)).is_ok());
        let later = Instant::now() + Duration::from_secs(11);
        {
            let mut live = t.live();
            live.last = Some((Arc::new(record(8, Some("timeout"))), later));
        }
        let err = t.health(later).unwrap_err();
        assert!(
            err.contains("longer than the TTL (10 s)") && err.contains("timeout"),
            "{err}"
        );

        t.stopping();
        assert_eq!(t.health(later).unwrap_err(), "shutting down");
    }

    #[test]
    fn a_standby_whose_cycles_run_is_healthy_though_it_writes_nothing() {
        let t = telemetry();
        let standby = |leader: Option<&str>| LeadershipFacts {
            id: Some("b".into()),
            role: Role::Standby {
                leader: leader.map(String::from),
            },
            transitions: 1,
            etcd_errors: 0,
            last_etcd_error: None,
            plugin_drift: vec!["volatility: here none, leader 0.2.0@174bfd7e89b1".into()],
        };
        t.cycle_done(in_pair(record(1, None), standby(Some("a")), false));
        let health = t.health(Instant::now()).unwrap();
        assert!(
            health.starts_with(
                "standby, ready to take over; a leads; its plugins differ from the leader's: volatility: here none"
            ),
            "{health}"
        );
        assert!(t.live().last_push.is_none(), "a standby's cycle is no write");
        let stalled = t.health(Instant::now() + Duration::from_secs(6)).unwrap_err();
        assert!(stalled.contains("no cycle has finished"), "{stalled}");
        // Elected: its health is its writes'.
        let leader = LeadershipFacts {
            role: Role::Leader { term: 5 },
            ..standby(None)
        };
        t.cycle_done(in_pair(record(2, None), leader, true));
        assert!(t.health(Instant::now()).unwrap().contains("last full cache write"));
    }
}
