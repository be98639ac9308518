//! The real `pulse` daemon, started as an operator would start it, for tests and for
//! `pulse-bench`: its log in a file, its status server on a port of its own, its state in a
//! directory of its own; stopped with SIGTERM when asked ([`Daemon::stop`]), killed when
//! dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::paths::{pulse_binary, repo_root};
use crate::{free_port, wait_for};

/// Which compile cache and host key a daemon gets when its arguments name none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Caches {
    /// The tests' shared ones (`target/test-compile-cache`, `target/test-keys/host.key`), so
    /// every test loads plugins from a warm cache.
    #[default]
    Tests,
    /// The benchmark's own (`target/bench-compile-cache`, `target/bench-keys/host.key`), kept
    /// across runs so a warm start is warm.
    Bench,
}

impl Caches {
    /// The compile cache.
    pub fn compile_cache(self) -> PathBuf {
        repo_root().join(match self {
            Caches::Tests => "target/test-compile-cache",
            Caches::Bench => "target/bench-compile-cache",
        })
    }

    /// The host key that authenticates what the compile cache holds.
    pub fn host_key(self) -> PathBuf {
        repo_root().join(match self {
            Caches::Tests => "target/test-keys/host.key",
            Caches::Bench => "target/bench-keys/host.key",
        })
    }
}

/// How to start a daemon, beyond `pulse run`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct Launch<'a> {
    /// `pulse run`'s arguments.
    pub args: &'a [&'a str],
    /// Extra environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// Its open-file limit (soft, hard), set as a shell or systemd would; inherited if `None`.
    pub open_files: Option<(u64, u64)>,
    /// Where it logs; a file in a temporary folder of its own if `None`.
    pub log: Option<PathBuf>,
    /// The compile cache and host key it gets unless `args` name them.
    pub caches: Caches,
}

/// A running `pulse run`; killed when dropped, its log printed if a test panics.
pub struct Daemon {
    /// The process.
    child: Child,
    /// Its log file.
    log: PathBuf,
    /// The folder of its log and state, when the launch gave none; removed with the daemon.
    _own: tempfile::TempDir,
    /// Where its status server listens: the `--listen` given, else a free port.
    status_addr: String,
}

/// `flag VALUE`, unless `args` already give `flag`.
fn unless_given(args: &[&str], flag: &str, value: impl FnOnce() -> String) -> Vec<String> {
    match args.contains(&flag) {
        true => Vec::new(),
        false => vec![flag.to_string(), value()],
    }
}

impl Daemon {
    /// Starts `pulse run` with `args` and the tests' shared caches ([`Daemon::launch`]);
    /// panics with the reason if it cannot.
    pub fn start(args: &[&str]) -> Self {
        Self::launch(Launch {
            args,
            ..Launch::default()
        })
        .unwrap_or_else(|why| panic!("{why}"))
    }

    /// Starts `pulse run` with `args` and extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::launch(Launch {
            args,
            env,
            ..Launch::default()
        })
        .unwrap_or_else(|why| panic!("{why}"))
    }

    /// Starts `pulse run --plugins DIR --memcached ADDR` with `extra` flags.
    pub fn serve(plugins: &str, memcached: &str, extra: &[&str]) -> Self {
        let mut args = vec!["--plugins", plugins, "--memcached", memcached];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// Starts `pulse run` as `launch` says. Unless its arguments name them, its status server
    /// listens on a free port, it saves its state in a folder of its own (so no daemon starts
    /// from another's state), and it takes the compile cache and host key of `launch.caches`.
    pub fn launch(launch: Launch<'_>) -> Result<Self, String> {
        let args = launch.args;
        let own = tempfile::tempdir().map_err(|e| format!("cannot make a folder for pulse's log: {e}"))?;
        let log = launch.log.clone().unwrap_or_else(|| own.path().join("pulse.log"));
        let given = args
            .iter()
            .position(|a| *a == "--listen")
            .map(|i| args[i + 1].to_string());
        let status_addr = given.unwrap_or_else(|| format!("127.0.0.1:{}", free_port()));
        let caches = launch.caches;
        let defaults = [
            unless_given(args, "--listen", || status_addr.clone()),
            unless_given(args, "--state-dir", || own.path().join("state").display().to_string()),
            unless_given(args, "--compile-cache", || caches.compile_cache().display().to_string()),
            unless_given(args, "--host-key", || caches.host_key().display().to_string()),
        ];
        let mut command = Command::new(pulse_binary()?);
        if let Some(limit) = launch.open_files {
            limit_open_files(&mut command, limit);
        }
        let stderr = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = command
            .arg("run")
            .args(args)
            .args(defaults.concat())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(launch.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start pulse: {e}"))?;
        Ok(Self {
            child,
            log,
            _own: own,
            status_addr,
        })
    }

    /// Everything the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns whether the daemon exited successfully; panics with its log
    /// if it is still running 10 s later.
    pub fn stop(&mut self) -> bool {
        // Ignored if it fails: the daemon may have exited already, which the wait reports.
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

    /// Sends `signal` (`TERM`, `STOP`, `CONT`, `HUP`, ...) to the daemon.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// The status server's base URL, `http://HOST:PORT`, once it accepts connections.
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

    /// Waits for the daemon to exit on its own (after `--cycles`, say) and returns success.
    pub fn wait(&mut self) -> bool {
        self.child.wait().unwrap().success()
    }

    /// Waits up to `within` for the daemon to exit; false if it is still running then.
    pub fn exited_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
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

/// Sets the open-file limit (soft, hard) of the process `command` starts.
fn limit_open_files(command: &mut Command, (soft, hard): (u64, u64)) {
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
