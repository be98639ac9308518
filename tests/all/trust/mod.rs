//! Nothing but plugins is trusted either: the daemon's other inputs (its own files on disk, the
//! compile cache, what it saved for itself, its peers, its status server, signals) are tried as
//! an attacker with local access or a peer gone wrong would, against the real daemon, real
//! plugins and a real memcached. Each test shows the daemon keeps its cadence and its keys
//! fresh within its memory bound ([`holds`]), says what it refused and why, and never writes a
//! forged or absurd value.

mod artifacts;
mod files;
mod peers;
mod server;
mod signatures;

use std::time::{Duration, Instant};

use pulse_testkit::{dashboard_keys, peak_resident_bytes, status_cycle, wait_for, Daemon, Memcached};

/// The most resident memory a daemon of these tests reaches at its peak (`VmHWM`): the bundled
/// plugins serve 30 symbols in about 30 MiB here (AMD EPYC); an input held whole (a 1 GiB
/// plugin, a 2 GiB state file, a 200 MB answer) would pass it many times over.
const PEAK_RSS_BOUND: u64 = 256 << 20;

/// The daemon holds: four more cycles come at its cadence of `interval` (with a second of
/// slack each), every key of the bundled dashboard is in `memcached`, and its peak resident
/// memory stayed within [`PEAK_RSS_BOUND`].
fn holds(daemon: &Daemon, memcached: &Memcached, interval: Duration) {
    let start = status_cycle(memcached).expect("pulse:status is written");
    let began = Instant::now();
    wait_for("four more cycles", 4 * (interval + Duration::from_secs(1)), || {
        status_cycle(memcached).filter(|cycle| *cycle >= start + 4)
    });
    let took = began.elapsed();
    for key in dashboard_keys(memcached) {
        assert!(memcached.get(&key).is_some(), "{key} is not fresh");
    }
    let peak = peak_resident_bytes(daemon.pid());
    assert!(peak < PEAK_RSS_BOUND, "peak RSS {} MiB", peak >> 20);
    eprintln!("holds: 4 cycles in {took:?}, peak RSS {} MiB", peak >> 20);
}
