//! Failover of an active/standby pair on a real etcd: from the signal to the leader (SIGKILL,
//! or SIGTERM and its resignation) until the standby's first `pulse:status` as leader lands in
//! memcached. Repeated: each round signals whichever daemon leads, then starts it again as the
//! standby. At the default timings (cycles every 2 s, leases of 6 s) and the shortest lease.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use memcache::exp::MetaClient;
use pulse_testkit::etcd::Etcd;
use serde_json::{json, Value};

use crate::harness::{bundled_plugins, client, percentiles, start_daemon, wait_until, Daemon};
use crate::Options;

/// A pair's timings: seconds between cycles and of a lease.
const TIMINGS: [(f64, u64); 2] = [(2.0, 6), (0.5, 2)];
/// Rounds of each signal at each timing (`--quick`: 1).
const ROUNDS: usize = 8;

/// Runs every signal at every timing.
pub fn run(options: &Options) -> Result<Vec<Value>> {
    let timings: &[(f64, u64)] = if options.quick { &TIMINGS[1..] } else { &TIMINGS };
    let rounds = if options.quick { 1 } else { ROUNDS };
    let mut results = Vec::new();
    for &(interval_s, lease_s) in timings {
        let mut pair = Pair::start(options, interval_s, lease_s)?;
        for signal in ["KILL", "TERM"] {
            let mut samples = (0..rounds)
                .map(|_| pair.fail_over(signal))
                .collect::<Result<Vec<f64>>>()?;
            let (p50, _, max) = percentiles(&mut samples);
            let bound_ms = (lease_s as f64 + interval_s) * 1000.0;
            eprintln!(
                "failover on SIG{signal}, cycles every {interval_s} s, {lease_s} s leases: p50 {p50:.0} ms, max {max:.0} ms over {rounds} rounds (lease + interval = {bound_ms:.0} ms)"
            );
            results.push(json!({
                "scenario": "failover",
                "signal": signal,
                "interval_s": interval_s,
                "lease_s": lease_s,
                "rounds": rounds,
                "p50_ms": p50,
                "max_ms": max,
                "lease_plus_interval_ms": bound_ms,
            }));
        }
    }
    Ok(results)
}

/// Two daemons, `d0` and `d1`, of one election on an etcd of their own.
struct Pair {
    /// `d0` and `d1`, while running.
    daemons: [Option<Daemon>; 2],
    /// Which of them leads.
    leader: usize,
    /// Its term.
    term: i64,
    /// Daemons started so far.
    starts: usize,
    /// The lease's TTL.
    lease: Duration,
    /// Reads `pulse:status`.
    client: MetaClient,
    /// Every daemon's flags but its id and state directory.
    settings: Vec<String>,
    _etcd: Etcd,
    /// The plugins, and a log and state directory per start.
    dir: tempfile::TempDir,
}

impl Pair {
    /// Starts `d0`, waits for it to lead, then `d1` behind it.
    fn start(options: &Options, interval_s: f64, lease_s: u64) -> Result<Self> {
        let dir = bundled_plugins()?;
        let plugins = dir.path().to_str().context("temp path is not UTF-8")?;
        let etcd = Etcd::start();
        let settings = [
            "--plugins",
            plugins,
            "--memcached",
            &options.memcached,
            "--interval",
            &interval_s.to_string(),
            "--ha-endpoints",
            &etcd.endpoint,
            "--ha-lease-ttl",
            &lease_s.to_string(),
        ];
        let client = client(&options.memcached)?;
        let _ = client.delete("pulse:status").send();
        let mut pair = Self {
            daemons: [None, None],
            leader: 0,
            term: 0,
            starts: 0,
            lease: Duration::from_secs(lease_s),
            client,
            settings: settings.map(str::to_string).to_vec(),
            _etcd: etcd,
            dir,
        };
        pair.launch(0)?;
        let (_, term) = pair.wait_for_leader(|id| id == "d0", Duration::from_secs(60))?;
        pair.term = term;
        pair.launch(1)?;
        pair.stands_by(1)?;
        Ok(pair)
    }

    /// Starts daemon `which` with a log and a state directory of its own.
    fn launch(&mut self, which: usize) -> Result<()> {
        self.starts += 1;
        let run = self.dir.path().join(format!(".run-{}", self.starts));
        std::fs::create_dir(&run)?;
        let mut args: Vec<&str> = self.settings.iter().map(String::as_str).collect();
        let id = format!("d{which}");
        let state = run.to_str().context("temp path is not UTF-8")?;
        args.extend(["--ha-id", &id, "--state-dir", state]);
        self.daemons[which] = Some(start_daemon(run.join("pulse.log"), &args)?);
        Ok(())
    }

    /// Waits until daemon `which` stands by behind the leader.
    fn stands_by(&self, which: usize) -> Result<()> {
        let daemon = self.daemons[which].as_ref().context("not running")?;
        let line = format!("ha: standby; d{} leads", self.leader);
        wait_until("the new standby", Duration::from_secs(60), || {
            daemon.log().contains(&line)
        })
        .with_context(|| daemon.log())?;
        Ok(())
    }

    /// Signals the leader at a random moment of its lease's renewal period, times until the
    /// standby writes as leader in a later term, and starts the old leader again as the
    /// standby. Returns the milliseconds.
    fn fail_over(&mut self, signal: &str) -> Result<f64> {
        let (old, new) = (self.leader, 1 - self.leader);
        // Each round would otherwise start at the same phase of the renewals, one chain of
        // fixed delays after the last election, and sample one time-to-expiry only.
        std::thread::sleep(self.lease.mul_f64(rand::random_range(0.0..1.0)));
        let mut leader = self.daemons[old].take().context("no leader running")?;
        let signalled = Instant::now();
        leader.signal(signal);
        let new_id = format!("d{new}");
        let (_, term) = self.wait_for_leader(|id| id == new_id, Duration::from_secs(60))?;
        let took = signalled.elapsed();
        anyhow::ensure!(
            leader.exited_within(Duration::from_secs(10)),
            "the old leader did not exit within 10 s of SIG{signal}"
        );
        self.term = term;
        self.leader = new;
        self.launch(old)?;
        self.stands_by(old)?;
        Ok(took.as_secs_f64() * 1000.0)
    }

    /// Polls `pulse:status` every millisecond until a leader whose id `is` holds writes it;
    /// returns its id and term.
    fn wait_for_leader(&self, is: impl Fn(&str) -> bool, within: Duration) -> Result<(String, i64)> {
        let mut seen = None;
        wait_until("a new leader's push", within, || {
            seen = status_writer(&self.client).filter(|(id, term)| is(id) && *term > self.term);
            seen.is_some()
        })?;
        seen.context("no leader")
    }
}

/// The id and term in `pulse:status`, when a leader wrote it.
fn status_writer(client: &MetaClient) -> Option<(String, i64)> {
    let bytes = client.get("pulse:status").send().ok()?.value?;
    let status: Value = serde_json::from_slice(&bytes).ok()?;
    let ha = &status["ha"];
    (ha["role"] == "leader").then(|| Some((ha["id"].as_str()?.to_string(), ha["term"].as_i64()?)))?
}
