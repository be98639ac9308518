//! `[ha]`: two or more daemons of one deployment, of which one writes, elected through etcd.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

use super::Seconds;

/// High availability: the daemons that share an election name elect one writer through etcd's
/// election API, on a lease the leader keeps alive. Without `[ha]`, a daemon always writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaConfig {
    /// etcd's client URLs, `http://HOST:PORT` (or `https://` with `[ha.tls]`).
    pub endpoints: Vec<String>,
    /// The election, one per Pulse deployment: daemons with the same name elect one writer.
    #[serde(default = "default_election")]
    pub election: String,
    /// This daemon's name in the election and in `pulse:status`; default `HOSTNAME-PID`.
    pub id: Option<String>,
    /// Seconds the leader's lease lasts without renewal; default three intervals. Less than 2
    /// counts as 2, the shortest lease etcd grants with its default timings.
    pub lease_ttl_s: Option<Seconds>,
    /// etcd user, with `password`, when etcd has authentication on.
    pub user: Option<String>,
    /// The etcd user's password.
    pub password: Option<String>,
    /// TLS to etcd (rustls).
    pub tls: Option<HaTls>,
}

/// TLS to etcd.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaTls {
    /// The CA certificate (PEM) etcd's certificate must chain to.
    pub ca: PathBuf,
    /// This daemon's client certificate (PEM), when etcd asks for one; with `key`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
    /// The name etcd's certificate is checked against; default the endpoint's host.
    pub domain: Option<String>,
}

fn default_election() -> String {
    "pulse".to_string()
}

/// The shortest lease etcd grants with its default timings is about 2 s.
const MIN_LEASE_TTL_S: u64 = 2;

impl HaConfig {
    /// `[ha]` with these endpoints and every other setting at its default (`--ha-endpoints`).
    pub fn with_endpoints(endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            election: default_election(),
            id: None,
            lease_ttl_s: None,
            user: None,
            password: None,
            tls: None,
        }
    }

    /// The lease TTL: as configured, else three intervals, never under 2 s.
    pub fn lease_ttl(&self, interval: Duration) -> Duration {
        let seconds = self
            .lease_ttl_s
            .map_or_else(|| (interval * 3).as_secs_f64().ceil() as u64, |s| s.0);
        Duration::from_secs(seconds.max(MIN_LEASE_TTL_S))
    }

    /// This daemon's id: as configured, else the host name and the process id.
    pub fn id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "pulse".to_string());
            format!("{host}-{}", std::process::id())
        })
    }

    /// Checks the table against the cycle's interval and write deadline: a leader must be able
    /// to finish a write well inside its lease, or it could still be writing when the lease
    /// expires and another daemon takes over.
    pub fn check(&self, interval: Duration, write_deadline: Duration) -> Result<()> {
        if self.endpoints.is_empty() {
            bail!("[ha] endpoints must name at least one etcd URL");
        }
        let secure = self.tls.is_some();
        for endpoint in &self.endpoints {
            let scheme_ok = match endpoint.split_once("://") {
                Some(("https", rest)) => secure && !rest.is_empty(),
                Some(("http", rest)) => !secure && !rest.is_empty(),
                _ => false,
            };
            if !scheme_ok {
                let want = if secure {
                    "https://HOST:PORT (with [ha.tls])"
                } else {
                    "http://HOST:PORT"
                };
                bail!("[ha] endpoint {endpoint:?} is not {want}");
            }
        }
        if self.election.is_empty() || self.election.contains('/') {
            bail!("[ha] election {:?} must be a non-empty name without '/'", self.election);
        }
        if self.id.as_deref().is_some_and(|id| id.is_empty() || id.len() > 200) {
            bail!("[ha] id must be 1-200 characters");
        }
        if self.user.is_some() != self.password.is_some() {
            bail!("[ha] user and password go together");
        }
        if let Some(tls) = &self.tls {
            if tls.cert.is_some() != tls.key.is_some() {
                bail!("[ha.tls] cert and key go together");
            }
        }
        let lease = self.lease_ttl(interval);
        // Renewed every third of its TTL, a lease is proven about two thirds of it ahead; a write
        // starts only if it can end before then, so a deadline above a third could starve writes
        // whenever etcd answers slowly.
        if write_deadline * 3 > lease {
            bail!(
                "[ha] the write deadline ({:.1} s) must be at most a third of the lease ({} s), so a \
                 leader's write always ends before its lease could lapse; lower cache.write_deadline_ms \
                 or raise ha.lease_ttl_s",
                write_deadline.as_secs_f64(),
                lease.as_secs()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ha(text: &str) -> HaConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_lease_defaults_to_three_intervals_and_the_id_to_host_and_pid() {
        let config = ha("endpoints = [\"http://127.0.0.1:2379\"]");
        assert_eq!(config.election, "pulse");
        assert_eq!(config.lease_ttl(Duration::from_secs(2)), Duration::from_secs(6));
        assert_eq!(config.lease_ttl(Duration::from_millis(500)), Duration::from_secs(2));
        assert!(config.id().ends_with(&format!("-{}", std::process::id())));
        let set = ha("endpoints = [\"http://e:2379\"]\nlease_ttl_s = 9\nid = \"a\"");
        assert_eq!(
            (set.lease_ttl(Duration::from_secs(2)), set.id()),
            (Duration::from_secs(9), "a".into())
        );
    }

    #[test]
    fn bad_tables_fail_with_the_reason() {
        let second = Duration::from_secs(1);
        for (text, why) in [
            ("endpoints = []", "at least one"),
            ("endpoints = [\"127.0.0.1:2379\"]", "is not http://"),
            ("endpoints = [\"https://e:2379\"]", "is not http://"),
            ("endpoints = [\"http://e:2379\"]\nelection = \"a/b\"", "without '/'"),
            ("endpoints = [\"http://e:2379\"]\nuser = \"u\"", "go together"),
            (
                "endpoints = [\"http://e:2379\"]\n[tls]\nca = \"ca.pem\"",
                "is not https://",
            ),
            (
                "endpoints = [\"https://e:2379\"]\n[tls]\nca = \"c\"\ncert = \"c\"",
                "cert and key",
            ),
        ] {
            let err = ha(text).check(second, second / 2).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        let slow = ha("endpoints = [\"http://e:2379\"]\nlease_ttl_s = 2").check(second, second * 2);
        assert!(slow.unwrap_err().to_string().contains("at most a third of the lease"));
        ha("endpoints = [\"https://e:2379\"]\n[tls]\nca = \"c\"")
            .check(second, second / 2)
            .unwrap();
    }
}
