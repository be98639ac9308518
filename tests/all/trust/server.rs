//! The daemon's own surface: its status server under a flood of idle connections, its file
//! limit, systemd's watchdog, and the signals operators send.

use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use super::files::logged;
use pulse_testkit::{http_get, plugin_dir, status_cycle, wait_for, Daemon, Launch, Memcached};

/// The watchdog pings `socket` received within `within`.
fn pings(socket: &UnixDatagram, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut pings = 0;
    let mut buffer = [0u8; 256];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match socket.recv(&mut buffer) {
            Ok(n) if buffer[..n].windows(10).any(|w| w == b"WATCHDOG=1") => pings += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    pings
}

#[test]
fn a_flood_of_idle_connections_stops_neither_the_watchdog_nor_healthz() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let socket = UnixDatagram::bind(&notify).unwrap();
    // Soft 256, hard 512 descriptors, as a tight unit would give; the watchdog asks for a ping
    // every 0.5 s.
    let daemon = Daemon::launch(Launch {
        args: &[
            "--plugins",
            plugins.path().to_str().unwrap(),
            "--memcached",
            &memcached.addr,
            "--interval",
            "0.5",
        ],
        env: &[
            ("NOTIFY_SOCKET", notify.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
        open_files: Some((256, 512)),
        ..Launch::default()
    })
    .unwrap();
    wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    logged(
        &daemon,
        "open files: soft limit raised from 256 to the hard limit 512",
        1,
    );
    let url = daemon.status_url();
    let addr = url.trim_start_matches("http://").to_string();

    // 600 connections that never send a byte: more than the daemon has descriptors.
    let flood: Vec<TcpStream> = (0..600).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    assert!(flood.len() >= 500, "only {} connections opened", flood.len());
    let at = status_cycle(&memcached).unwrap();
    assert!(
        pings(&socket, Duration::from_secs(3)) >= 3,
        "the watchdog is pinged through the flood"
    );
    let (status, body) = http_get(&format!("{url}/healthz"));
    assert_eq!(status, 200, "{body}");
    assert!(status_cycle(&memcached).unwrap() >= at + 3, "the cycles went on");
    super::holds(&daemon, &memcached, Duration::from_millis(500));
    drop(flood);
    std::thread::sleep(Duration::from_secs(2));
    let (status, _) = http_get(&format!("{url}/healthz"));
    assert_eq!(status, 200);

    // A connection that sends half a request is closed once its headers are overdue.
    let mut slow = TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut slow, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut slow, &mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed after {:?}",
        started.elapsed()
    );
}

#[test]
fn sighup_reads_the_directory_again_and_sigpipe_is_harmless() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    // trend's side config is a symlink to a file elsewhere, as a config management tool might
    // place it: a change there raises no event in the plugin directory, so only the signal
    // makes the daemon read it again.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("trend.toml");
    std::fs::write(&target, "fast = 12\nslow = 26\n").unwrap();
    std::os::unix::fs::symlink(&target, plugins.path().join("trend.toml")).unwrap();
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5"],
    );
    wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    // A side config changed just before the signal takes effect.
    std::fs::write(&target, "fast = 4\nslow = 12\n").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(!daemon.log().contains("swapped plugin trend"), "no event, no swap yet");
    daemon.signal("HUP");
    logged(
        &daemon,
        "SIGHUP: reading the plugin directory and side configs again",
        1,
    );
    logged(&daemon, "swapped plugin trend 0.3.0 -> 0.3.0", 1);
    daemon.signal("HUP");
    daemon.signal("PIPE");
    logged(
        &daemon,
        "SIGHUP: reading the plugin directory and side configs again",
        2,
    );
    let at = status_cycle(&memcached).unwrap();
    wait_for("cycles to go on", Duration::from_secs(30), || {
        status_cycle(&memcached).filter(|c| *c >= at + 2)
    });
    assert!(daemon.is_running(), "{}", daemon.log());
    super::holds(&daemon, &memcached, Duration::from_millis(500));
    assert!(daemon.stop(), "a clean stop after it all");
}
