//! The campaign: a lease kept alive, a campaign in etcd's election on it, and the role set as
//! they go. A term ends when the lease can no longer be renewed (etcd unreachable, the lease
//! expired while the process was frozen); the daemon is then standby and campaigns again with a
//! new lease, backing off while etcd is unreachable, without a restart.

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{
    Certificate, Client, ConnectOptions, Identity, LeaderKey, LeaseKeepAliveStream, LeaseKeeper, ProclaimOptions,
    ResignOptions, TlsOptions,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{BootInstant, Leadership, PluginSet, Role};
use crate::config::HaConfig;
use crate::shared::leadership::Candidate;

/// First wait before campaigning again after etcd failed.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Longest wait between attempts while etcd stays unreachable.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// What a campaign needs, fixed at start.
struct Settings {
    endpoints: Vec<String>,
    options: ConnectOptions,
    election: String,
    id: String,
    ttl: Duration,
}

/// The running campaign. Dropping it stops campaigning without resigning (the lease then
/// lapses); [`Campaign::resign`] hands over at once.
pub struct Campaign {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts campaigning as `[ha]` says, with leases of [`HaConfig::lease_ttl`] at `interval`.
/// The daemon is standby until elected. TLS files are read now, so a missing one fails start-up.
pub fn start(config: &HaConfig, interval: Duration) -> Result<(Leadership, Campaign)> {
    let ttl = config.lease_ttl(interval);
    let mut options = ConnectOptions::new()
        .with_connect_timeout(ttl / 3)
        .with_keep_alive(ttl / 3, ttl / 3);
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.with_user(user.clone(), password.clone());
    }
    if let Some(tls) = &config.tls {
        let read = |path: &std::path::Path| {
            std::fs::read(path).with_context(|| format!("[ha.tls] cannot read {}", path.display()))
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
    let settings = Settings {
        endpoints: config.endpoints.clone(),
        options,
        election: config.election.clone(),
        id: config.id(),
        ttl,
    };
    let leadership = Leadership::campaigning(&settings.id);
    let (stop, stopped) = watch::channel(false);
    info!(
        id = %settings.id,
        election = %settings.election,
        lease_s = ttl.as_secs(),
        "ha: standby, campaigning in etcd election {:?} as {:?}",
        settings.election,
        settings.id
    );
    let task = tokio::spawn(campaign_forever(settings, leadership.clone(), stopped));
    Ok((leadership, Campaign { stop, task }))
}

impl Campaign {
    /// Resigns if leading and revokes the lease, so that a standby takes over at once; waits
    /// at most `within` for etcd.
    pub async fn resign(self, within: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(within, self.task).await.is_err() {
            warn!("ha: etcd did not confirm the resignation within {within:?}; the lease will lapse");
        }
    }
}

/// Campaigns, term after term, until stopped.
async fn campaign_forever(settings: Settings, leadership: Leadership, mut stop: watch::Receiver<bool>) {
    let mut retry = FIRST_RETRY;
    loop {
        match one_term(&settings, &leadership, &mut stop).await {
            Ok(()) => return,
            Err(e) => {
                let reason = format!("{e:#}");
                leadership.etcd_error(&reason);
                if leadership.set(Role::Standby { leader: None }) {
                    warn!("ha: standby, no longer leader: {reason}");
                } else {
                    warn!("ha: etcd: {reason}; campaigning again in {retry:?}");
                }
            }
        }
        let wait = retry.mul_f64(rand::random_range(0.8..1.2));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// One lease: campaigns on it, leads while it is renewed, and ends with an error when it can
/// no longer be (or `Ok` when stopped, after resigning).
async fn one_term(settings: &Settings, leadership: &Leadership, stop: &mut watch::Receiver<bool>) -> Result<()> {
    let mut client = Client::connect(&settings.endpoints, Some(settings.options.clone())).await?;
    let ttl_s = i64::try_from(settings.ttl.as_secs()).unwrap_or(i64::MAX);
    let lease = client.lease_grant(ttl_s, None).await?.id();
    let sent = BootInstant::now();
    let (mut keeper, mut replies) = client.lease_keep_alive(lease).await?;
    let proven = Mutex::new(sent.after(settings.ttl));
    let renewals = renew(&mut keeper, &mut replies, &proven, settings.ttl, leadership);
    tokio::pin!(renewals);
    let mut announced = leadership.candidate();
    let value = serde_json::to_vec(&announced)?;
    let elected = async {
        let mut campaigner = client.clone();
        let mut won = campaigner.campaign(settings.election.as_bytes(), value, lease).await?;
        won.take_leader()
            .context("etcd elected this daemon without a leader key")
    };
    let leader = tokio::select! {
        Err(failed) = &mut renewals => return Err(failed),
        key = elected => key?,
        () = observe(client.clone(), settings, leadership) => unreachable!("observing never ends"),
        _ = stop.changed() => {
            let _ = client.lease_revoke(lease).await;
            return Ok(());
        }
    };
    let term = leader.rev();
    leadership.set(Role::Leader { term });
    leadership.prove(*proven.lock().unwrap());
    info!(
        term,
        "ha: leader of etcd election {:?} in term {term}", settings.election
    );
    let mut served = leadership.plugins.subscribe();
    loop {
        let now = leadership.candidate();
        if now != announced {
            let options = ProclaimOptions::new().with_leader(leader.clone());
            client.proclaim(serde_json::to_vec(&now)?, Some(options)).await?;
            announced = now;
        }
        tokio::select! {
            Err(failed) = &mut renewals => {
                let _ = client.lease_revoke(lease).await;
                return Err(failed);
            }
            _ = served.changed() => {}
            _ = stop.changed() => {
                leadership.set(Role::Standby { leader: None });
                resign(&mut client, leader, lease).await;
                return Ok(());
            }
        }
    }
}

/// Renews the lease every third of its TTL, recording in `proven` (and in `leadership`) until
/// when it is proven: the moment each renewal was sent plus the TTL etcd granted. Ends only
/// with the reason the lease could not be renewed before it lapsed.
async fn renew(
    keeper: &mut LeaseKeeper,
    replies: &mut LeaseKeepAliveStream,
    proven: &Mutex<BootInstant>,
    ttl: Duration,
    leadership: &Leadership,
) -> Result<Infallible> {
    loop {
        tokio::time::sleep(ttl / 3).await;
        let sent = BootInstant::now();
        keeper.keep_alive().await?;
        let left = proven.lock().unwrap().since(BootInstant::now());
        let reply = tokio::time::timeout(left, replies.message())
            .await
            .map_err(|_| anyhow!("the lease lapsed before etcd answered a renewal"))??;
        match reply {
            Some(reply) if reply.ttl() > 0 => {
                let until = sent.after(Duration::from_secs(reply.ttl().unsigned_abs()));
                *proven.lock().unwrap() = until;
                leadership.prove(until);
            }
            Some(_) => bail!("etcd says the lease expired"),
            None => bail!("etcd closed the lease's keep-alive stream"),
        }
    }
}

/// Gives up leadership and the lease, so that a standby is elected at once.
async fn resign(client: &mut Client, leader: LeaderKey, lease: i64) {
    let resigned = client.resign(Some(ResignOptions::new().with_leader(leader))).await;
    let revoked = client.lease_revoke(lease).await;
    match resigned.err().or(revoked.err()) {
        None => info!("ha: resigned; a standby takes over"),
        Some(e) => warn!("ha: resigning failed ({e}); the lease will lapse"),
    }
}

/// While standing by, follows who leads and with which plugins, as each leader campaigned or
/// last proclaimed. Pends forever once etcd stops answering (the renewals notice that).
async fn observe(mut client: Client, settings: &Settings, leadership: &Leadership) {
    if let Ok(mut leaders) = client.observe(settings.election.as_bytes()).await {
        while let Ok(Some(answer)) = leaders.message().await {
            let Some(kv) = answer.kv() else { continue };
            let leader: Candidate = serde_json::from_slice(kv.value()).unwrap_or_else(|_| Candidate {
                id: String::from_utf8_lossy(kv.value()).chars().take(200).collect(),
                plugins: PluginSet::new(),
            });
            if leader.id != settings.id {
                leadership.leader_seen(leader);
            }
        }
    }
    std::future::pending().await
}
