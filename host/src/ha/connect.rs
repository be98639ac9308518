//! How the daemon reaches etcd: timeouts and keep-alives within a lease, and the user and TLS
//! identity `[ha]` names, read at start so a missing file fails start-up.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use crate::config::HaConfig;
use crate::shared::files::read_bounded;
use crate::shared::text::quoted_path;

/// The largest PEM file `[ha.tls]` may name: a few certificates at most.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// The options of every connection to etcd, for leases of `ttl`: a connection that does not
/// answer within a third of it is given up, so a lease is never lost waiting on one.
pub(super) fn options(config: &HaConfig, ttl: Duration) -> Result<ConnectOptions> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(ttl / 3)
        .with_keep_alive(ttl / 3, ttl / 3);
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.with_user(user.clone(), password.clone());
    }
    if let Some(tls) = &config.tls {
        let read = |path: &Path| {
            read_bounded(path, MAX_PEM_BYTES).with_context(|| format!("[ha.tls] cannot read {}", quoted_path(path)))
        };
        let mut settings = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca)?));
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            settings = settings.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        if let Some(domain) = &tls.domain {
            settings = settings.domain_name(domain.clone());
        }
        options = options.with_tls(settings);
    }
    Ok(options)
}
