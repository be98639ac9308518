//! An etcd of the test's own: one member on free loopback ports with a temporary data
//! directory, killed when dropped; it can be killed and started again on the same ports and data.
//! Its clients speak plain HTTP, or TLS with client certificates when started with [`EtcdTls`].

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// The PEM files of an etcd that serves its clients over TLS and asks each for a certificate.
#[derive(Clone)]
pub struct EtcdTls {
    /// The CA that signed the server's certificate and must have signed every client's.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// A running etcd.
pub struct Etcd {
    child: Option<Child>,
    /// Its client URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub endpoint: String,
    peer_url: String,
    /// Plain HTTP, where etcd answers `/health` whatever its clients speak.
    metrics_url: String,
    tls: Option<EtcdTls>,
    data: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd for plain-HTTP clients and waits until it reports itself healthy.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts etcd for TLS clients with certificates signed by `tls.ca`.
    pub fn start_tls(tls: EtcdTls) -> Self {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<EtcdTls>) -> Self {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut etcd = Self {
            child: None,
            endpoint: format!("{scheme}://127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            metrics_url: format!("http://127.0.0.1:{}", free_port()),
            tls,
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
        let mut command = Command::new("etcd");
        command
            .args(["--name", "test", "--data-dir"])
            .arg(self.data.path())
            .args(["--listen-client-urls", endpoint, "--advertise-client-urls", endpoint])
            .args(["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer])
            .args(["--listen-metrics-urls", &self.metrics_url])
            .args([
                "--initial-cluster",
                &format!("test={peer}"),
                "--initial-cluster-state",
                "new",
            ])
            .args(["--log-level", "error", "--logger", "zap"]);
        if let Some(tls) = &self.tls {
            command
                .arg("--trusted-ca-file")
                .arg(&tls.ca)
                .arg("--cert-file")
                .arg(&tls.cert)
                .arg("--key-file")
                .arg(&tls.key)
                .arg("--client-cert-auth");
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}); install it with `apt-get install -y etcd-server` or run scripts/setup-tests")
            });
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("etcd on {endpoint} exited at start ({status}); run it by hand to see why");
            }
            if healthy(self.metrics_url.trim_start_matches("http://")) {
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
