//! Real parts for integration tests: a memcached of the test's own on a free loopback port
//! (from `pulse-testkit`, which the benchmark shares), the real `pulse` binary, and the real
//! plugin components.

#![allow(dead_code)] // each test file uses its own subset of these helpers

use std::io::{Read, Write};
use std::net::TcpStream;

pub use pulse_testkit::{free_port, Memcached};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The built component of plugin crate `name` (`trend`, `dashboard`, `wrong_world`, ...).
pub fn plugin_wasm(name: &str) -> PathBuf {
    built(&format!("{name}.wasm"))
}

/// The built component of fault fixture `name` (`fault_loop`, ...), an example of `faults`.
pub fn fault_wasm(name: &str) -> PathBuf {
    built(&format!("examples/{name}.wasm"))
}

/// The built component of candidate `name` (`trend_shifted`, ...), an example of the
/// `candidates` fixture: a version of `trend` for shadow, promotion and rollback tests.
pub fn candidate_wasm(name: &str) -> PathBuf {
    built(&format!("examples/{name}.wasm"))
}

/// `file` of the plugins' release build, which must exist.
fn built(file: &str) -> PathBuf {
    let path = repo_root().join("target/wasm32-wasip2/release").join(file);
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first with scripts/build-plugins",
        path.display()
    );
    path
}

/// Runs the `pulse` binary to its end (`pulse check`, `replay`, `verify`, ...).
pub fn pulse(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(args)
        .env("NO_COLOR", "1")
        // `pulse check` uses the compile cache as the daemon does: the tests keep theirs.
        .env("XDG_CACHE_HOME", repo_root().join("target/test-xdg-cache"))
        .output()
        .expect("run pulse")
}

/// What a finished command printed, stdout then stderr.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An HTTP server on loopback answering each request with `answer(path and query)`, each on a
/// thread of its own so a slow answer holds up no other; returns its base URL.
pub fn http_server(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", server.server_addr().to_ip().unwrap());
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let (status, text) = answer(request.url());
                let _ = request.respond(tiny_http::Response::from_string(text).with_status_code(status));
            });
        }
    });
    addr
}

/// Resident memory of process `pid`, in bytes.
pub fn resident_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// The most resident memory process `pid` has had (its high-water mark), in bytes.
pub fn peak_resident_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// A `FIELD: N kB` line of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/PID/status"));
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
    /// Its status server listens on a free port unless `args` name one with `--listen`; it
    /// saves its state for a warm restart in a directory of its own (its log's) unless `args`
    /// name one with `--state-dir`, so no test starts from another's state; its compile cache
    /// and host key are the tests' shared ones unless `args` name a `--compile-cache` or a
    /// `--host-key`.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Starts `pulse run` with `args` and extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_limited(args, env, None)
    }

    /// Starts `pulse run` with `args`, extra environment variables and, if given, its open-file
    /// limit (soft, hard) set as a shell or systemd would.
    pub fn start_limited(args: &[&str], env: &[(&str, &str)], open_files: Option<(u64, u64)>) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("pulse.log");
        let compile_cache = match args.contains(&"--compile-cache") {
            true => Vec::new(),
            false => vec![
                "--compile-cache".into(),
                repo_root().join("target/test-compile-cache").display().to_string(),
            ],
        };
        let given = args
            .iter()
            .position(|a| *a == "--listen")
            .map(|i| args[i + 1].to_string());
        let status_addr = given.clone().unwrap_or_else(|| format!("127.0.0.1:{}", free_port()));
        let listen = match given {
            Some(_) => Vec::new(),
            None => vec!["--listen".to_string(), status_addr.clone()],
        };
        let state_dir = match args.contains(&"--state-dir") {
            true => Vec::new(),
            false => vec!["--state-dir".into(), log_dir.path().join("state").display().to_string()],
        };
        // The tests share one compile cache, so they share the key that authenticates it.
        let host_key = match args.contains(&"--host-key") {
            true => Vec::new(),
            false => vec![
                "--host-key".into(),
                repo_root().join("target/test-keys/host.key").display().to_string(),
            ],
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_pulse"));
        if let Some((soft, hard)) = open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe, and nothing else runs in the child then.
            unsafe {
                command.pre_exec(move || {
                    let limit = rustix::process::Rlimit {
                        current: Some(soft),
                        maximum: Some(hard),
                    };
                    rustix::process::setrlimit(rustix::process::Resource::Nofile, limit).map_err(std::io::Error::from)
                });
            }
        }
        let child = command
            .arg("run")
            .args(args)
            .args(listen)
            .args(state_dir)
            .args(host_key)
            .args(compile_cache)
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

    /// Kills the daemon with SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the daemon.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} failed");
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
    let (status, _, body) = http_response(url);
    (status, body)
}

/// `GET url` (plain HTTP on loopback): the status code, the header lines and the body.
pub fn http_response(url: &str) -> (u16, String, String) {
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
    (status, head.to_string(), body.to_string())
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
