//! An etcd of the test's own: one member on free loopback ports with a temporary data
//! directory, killed when dropped; it can be killed and started again on the same ports and data.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::io::{Read, Write};

use crate::free_port;

/// A running etcd.
pub struct Etcd {
    child: Option<Child>,
    /// Its client URL, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    peer_url: String,
    data: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until it reports itself healthy.
    pub fn start() -> Self {
        let mut etcd = Self {
            child: None,
            endpoint: format!("http://127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            data: tempfile::tempdir().unwrap(),
        };
        etcd.restart();
        etcd
    }

    /// Kills etcd, as a crash or a lost machine would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd (again) on its ports and data, and waits until it is healthy.
    pub fn restart(&mut self) {
        self.kill();
        let (endpoint, peer) = (&self.endpoint, &self.peer_url);
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(self.data.path())
            .args(["--listen-client-urls", endpoint, "--advertise-client-urls", endpoint])
            .args(["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer])
            .args([
                "--initial-cluster",
                &format!("test={peer}"),
                "--initial-cluster-state",
                "new",
            ])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}); install it with `apt-get install -y etcd-server` or run scripts/setup")
            });
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("etcd on {endpoint} exited at start ({status}); run it by hand to see why");
            }
            if healthy(endpoint.trim_start_matches("http://")) {
                return;
            }
            assert!(Instant::now() < deadline, "etcd on {endpoint} did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether etcd at `addr` answers `GET /health` with its health true.
fn healthy(addr: &str) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.contains("\"health\":\"true\"")
}
