//! Real parts for integration tests: a memcached of the test's own on a free loopback port,
//! an independent memcached reader, the real `pulse` binary, and the real plugin components.

#![allow(dead_code)] // each test file uses its own subset of these helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A memcached process owned by one test; killed when dropped.
pub struct Memcached {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Memcached {
    /// Starts memcached on a free loopback port and waits until it answers. A port taken by
    /// another process between the pick and memcached's bind is given up for another.
    pub fn start() -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port(), &[]) {
                Ok(memcached) => return memcached,
                Err(why) => last = why,
            }
        }
        panic!("memcached did not start on five free ports; the last: {last}")
    }

    /// Starts memcached on `port` (for restarts on the same address).
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts memcached on `port` with extra command-line options.
    pub fn start_with(port: u16, options: &[&str]) -> Self {
        Self::try_start(port, options).unwrap_or_else(|why| panic!("{why}"))
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
        let len: usize = parts[3].parse().unwrap();
        let mut value = vec![0; len + 2];
        reader.read_exact(&mut value).unwrap();
        value.truncate(len);
        Some(value)
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

/// A loopback port nobody listens on right now, and never handed out before in this test
/// binary: its tests run in parallel, and the kernel may offer a port again once it is
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

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The built component of plugin crate `name` (`trend`, `dashboard`, `wrong_world`, ...).
pub fn plugin_wasm(name: &str) -> PathBuf {
    let path = repo_root().join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first with scripts/build-plugins",
        path.display()
    );
    path
}

/// The built component of fault fixture `name` (`fault_loop`, ...), an example of `faults`.
pub fn fault_wasm(name: &str) -> PathBuf {
    let path = repo_root().join(format!("target/wasm32-wasip2/release/examples/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first with scripts/build-plugins",
        path.display()
    );
    path
}

/// Resident memory of process `pid`, in bytes.
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// A temporary plugin directory holding copies of the named plugin components.
pub fn plugin_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        std::fs::copy(plugin_wasm(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

/// A running `pulse` daemon whose log goes to a file; stopped with SIGTERM when dropped.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
    /// Where its status server listens: the `--listen` the test gave, else a free port.
    status_addr: String,
}

impl Daemon {
    /// Starts `pulse run` with `args`.
    /// Its status server listens on a free port unless `args` name one with `--listen`.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Starts `pulse run` with `args` and extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("pulse.log");
        let compile_cache = repo_root().join("target/test-compile-cache");
        let given = args
            .iter()
            .position(|a| *a == "--listen")
            .map(|i| args[i + 1].to_string());
        let status_addr = given.clone().unwrap_or_else(|| format!("127.0.0.1:{}", free_port()));
        let listen = match given {
            Some(_) => Vec::new(),
            None => vec!["--listen".to_string(), status_addr.clone()],
        };
        let child = Command::new(env!("CARGO_BIN_EXE_pulse"))
            .arg("run")
            .args(args)
            .args(listen)
            .arg("--compile-cache")
            .arg(compile_cache)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start pulse");
        Self {
            child,
            log,
            _log_dir: log_dir,
            status_addr,
        }
    }

    /// Everything the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns whether the daemon exited successfully.
    pub fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pulse did not stop within 10 s of SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts `pulse run --plugins DIR --memcached ADDR` with `extra` flags.
    pub fn serve(plugins: &str, memcached: &str, extra: &[&str]) -> Self {
        let mut args = vec!["--plugins", plugins, "--memcached", memcached];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// The status server's base URL, `http://HOST:PORT` as given with `--listen`, once it
    /// accepts connections.
    pub fn status_url(&self) -> String {
        assert!(
            !self.status_addr.ends_with(":0"),
            "port 0 is picked by the daemon; give the test a port to know"
        );
        wait_for("the status server to listen", Duration::from_secs(30), || {
            TcpStream::connect(&self.status_addr).ok()
        });
        format!("http://{}", self.status_addr)
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the daemon is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the daemon to exit on its own (e.g. after `--cycles`) and returns success.
    pub fn wait(&mut self) -> bool {
        self.child.wait().unwrap().success()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- pulse log ---\n{}--- end of pulse log ---", self.log());
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `check` until it returns `Some`, failing with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every key the bundled plugins write for the market in `market:tickers`, plus the status.
pub fn dashboard_keys(memcached: &Memcached) -> Vec<String> {
    let tickers = memcached.json(pulse_keys::TICKERS);
    let mut keys: Vec<String> = [pulse_keys::STATUS]
        .into_iter()
        .chain(pulse_keys::FIXED_KEYS)
        .map(String::from)
        .collect();
    keys.extend(
        tickers
            .as_object()
            .unwrap()
            .keys()
            .map(|s| pulse_keys::breakdown_key(s)),
    );
    keys
}

/// The cycle number in `pulse:status`, if present.
pub fn status_cycle(memcached: &Memcached) -> Option<u64> {
    let bytes = memcached.get("pulse:status")?;
    let status: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    status["cycle"].as_u64()
}

/// `GET url` (plain HTTP on loopback): the status code and the body.
pub fn http_get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("cannot connect to {host}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, body.to_string())
}

/// One scrape of `/metrics`: each series (`name{labels}`) and its value.
pub fn scrape(url: &str) -> std::collections::BTreeMap<String, f64> {
    let (status, body) = http_get(&format!("{url}/metrics"));
    assert_eq!(status, 200, "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "not OpenMetrics text:\n{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                series.to_string(),
                value.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

/// The value of `series`, failing with the scrape when it is missing.
pub fn value(metrics: &std::collections::BTreeMap<String, f64>, series: &str) -> f64 {
    *metrics
        .get(series)
        .unwrap_or_else(|| panic!("{series} is not exported; got:\n{metrics:#?}"))
}
