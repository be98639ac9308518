//! The one harness of the integration tests and `pulse-bench`: the real parts they run
//! against and how they read them.
//! - The real `pulse` daemon, started as an operator would ([`Daemon`], [`Launch`]), and the
//!   built plugin components ([`plugin_wasm`], [`fixture_wasm`], [`plugin_dir`]).
//! - A memcached of the caller's own on a free loopback port, known to be that memcached, with a
//!   plain text-protocol reader independent of Pulse's own client ([`Memcached`]).
//! - An etcd of the caller's own ([`etcd`]); a loopback proxy that partitions a client from its
//!   server ([`proxy`]) and records what it sends ([`written`]: every memcached item with its
//!   flags); an HTTP server on loopback that answers as told ([`http_server`]); a loopback
//!   exchange speaking Bybit's or Binance's REST and WebSocket APIs ([`exchange`]); an OTLP
//!   trace receiver on the official protobuf definitions ([`otlp`]).
//! - A recorded market with planted predictability, whose figures are known before a plugin
//!   runs ([`planted`]).
//! - What is read from outside: the status server ([`http_get`], [`scrape`]), `pulse:status`
//!   ([`status_cycle`], [`dashboard_keys`]), a process's memory ([`peak_resident_bytes`]).

mod daemon;
pub mod etcd;
pub mod exchange;
mod http;
mod observe;
pub mod otlp;
mod paths;
pub mod planted;
pub mod proxy;
pub mod written;

pub use daemon::{Caches, Daemon, Launch};
pub use http::{http_get, http_response, http_server, scrape, value};
pub use observe::{dashboard_keys, peak_resident_bytes, resident_bytes, status_bytes, status_cycle, unix_ms, wait_for};
pub use paths::{fixture_wasm, plugin_dir, plugin_wasm, pulse, repo_root, text, try_fixture_wasm, try_plugin_wasm};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now, and never handed out before in this process:
/// tests run in parallel, and the kernel may offer a port again once it is
/// released, so two tests could otherwise start (or kill) a server on the same port.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A memcached process of the caller's own; killed when dropped.
pub struct Memcached {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Memcached {
    /// Starts memcached on a free loopback port and waits until it answers. A port taken by
    /// another process between the pick and memcached's bind is given up for another.
    pub fn start() -> Self {
        Self::try_start_free(&[]).unwrap_or_else(|why| panic!("{why}"))
    }

    /// Starts memcached on `port` (for restarts on the same address).
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts memcached on `port` with extra command-line options.
    pub fn start_with(port: u16, options: &[&str]) -> Self {
        Self::try_start(port, options).unwrap_or_else(|why| panic!("{why}"))
    }

    /// Starts memcached on a free port with extra command-line options (a later `-m` wins over
    /// the default 64 MiB), trying five ports; the error says why the last one failed.
    pub fn try_start_free(options: &[&str]) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port(), options) {
                Ok(memcached) => return Ok(memcached),
                Err(why) => last = why,
            }
        }
        Err(format!("memcached did not start on five free ports; the last: {last}"))
    }

    /// Starts memcached on `port` and waits until it answers as itself: `stats` over that port
    /// must report this child's pid, so a test never talks to another process that took the
    /// port (a parallel test's daemon, or a client's ephemeral port) while this one failed to
    /// bind.
    fn try_start(port: u16, options: &[&str]) -> Result<Self, String> {
        let child = Command::new("memcached")
            .args([
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "0",
                "-m",
                "64",
                "-u",
                "root",
            ])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start memcached ({e}); install it with `apt-get install -y memcached` or run scripts/setup"
                )
            });
        let mut memcached = Self {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while memcached.stats_pid() != Some(memcached.child.id()) {
            if let Ok(Some(status)) = memcached.child.try_wait() {
                return Err(format!(
                    "memcached {options:?} on {} exited at start ({status}); run it by hand to see why",
                    memcached.addr
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("memcached did not start answering on {}", memcached.addr));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(memcached)
    }

    /// The pid the server on this address reports, if it answers `stats` as memcached.
    fn stats_pid(&self) -> Option<u32> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        stream.write_all(b"stats\r\n").ok()?;
        let mut line = String::new();
        let mut reader = BufReader::new(stream);
        while reader.read_line(&mut line).ok()? > 0 {
            if let Some(pid) = line.strip_prefix("STAT pid ") {
                return pid.trim().parse().ok();
            }
            if line.starts_with("END") {
                return None;
            }
            line.clear();
        }
        None
    }

    /// Reads `key` with a plain `get` over the text protocol: a client independent of Pulse's.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.item(key).map(|(value, _)| value)
    }

    /// Stores `value` under `key` with client `flags` for `ttl` seconds, with a plain `set`.
    pub fn set(&self, key: &str, value: &[u8], flags: u32, ttl: u32) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to memcached");
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(stream, "set {key} {flags} {ttl} {}\r\n", value.len()).unwrap();
        stream.write_all(value).unwrap();
        stream.write_all(b"\r\n").unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        assert_eq!(reply, "STORED\r\n", "memcached refused {key}");
    }

    /// The client flags stored with `key` (a writer's term), if it exists.
    pub fn flags(&self, key: &str) -> Option<u32> {
        self.item(key).map(|(_, flags)| flags)
    }

    /// Reads `key`'s value and client flags with a plain `get`.
    fn item(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to memcached");
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(stream, "get {key}\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header == "END\r\n" {
            return None;
        }
        let parts: Vec<&str> = header.split_whitespace().collect();
        assert_eq!(parts.first(), Some(&"VALUE"), "unexpected memcached reply {header:?}");
        let (flags, len): (u32, usize) = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
        let mut value = vec![0; len + 2];
        reader.read_exact(&mut value).unwrap();
        value.truncate(len);
        Some((value, flags))
    }

    /// Reads `key` and parses it as JSON, failing the test if it is missing or not JSON.
    pub fn json(&self, key: &str) -> serde_json::Value {
        let bytes = self.get(key).unwrap_or_else(|| panic!("{key} is missing"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {bytes:?}"))
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
