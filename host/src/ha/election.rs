//! The campaign: a lease kept alive, a campaign in etcd's election on it, and the role set as
//! they go. A term ends when the lease can no longer be renewed (etcd unreachable, the lease
//! expired while the process was frozen); the daemon is then standby and campaigns again with a
//! new lease, backing off while etcd is unreachable, without a restart.

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{
    Client, ConnectOptions, LeaderKey, LeaseKeepAliveStream, LeaseKeeper, ProclaimOptions, ResignOptions,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::connect;
use super::{BootInstant, Leadership, PluginSet, Role};
use crate::config::HaConfig;
use crate::shared::flaps::{Flaps, LINES_PER_MINUTE};
use crate::shared::leadership::Candidate;
use crate::shared::log_throttle::LogThrottle;

/// First wait before campaigning again after etcd failed.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Longest wait between attempts while etcd stays unreachable.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// What a campaign needs, fixed at start.
struct Settings {
    /// etcd's client URLs.
    endpoints: Vec<String>,
    /// How to reach them (timeouts, TLS, credentials).
    options: ConnectOptions,
    /// The election's name.
    election: String,
    /// This daemon's id in it.
    id: String,
    /// How long a lease lasts without renewal.
    ttl: Duration,
    /// The leases this process was granted, newest last (at most [`MAX_HELD_LEASES`]): a leader
    /// key under one of them that is not the current one is this daemon's own leftover (etcd
    /// came back with it after a restart), not another daemon with the same id.
    held_leases: Mutex<Vec<i64>>,
    /// Terms won and lost this minute, so a flapping etcd session logs a few lines a minute and
    /// a summary.
    terms: Mutex<Flaps>,
}

/// How many of its earlier leases a daemon remembers, to know its own leftover keys.
const MAX_HELD_LEASES: usize = 64;

/// The running campaign. Dropping it stops campaigning without resigning (the lease then
/// lapses); [`Campaign::resign`] hands over at once.
pub struct Campaign {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts campaigning as `[ha]` says, with leases of [`HaConfig::lease_ttl`] at `interval`,
/// serving `plugins` (the pipeline updates them each cycle).
/// The daemon is standby until elected. TLS files are read now, so a missing one fails start-up.
pub fn start(config: &HaConfig, interval: Duration, plugins: PluginSet) -> Result<(Leadership, Campaign)> {
    let ttl = config.lease_ttl(interval);
    let settings = Settings {
        endpoints: config.endpoints.clone(),
        options: connect::options(config, ttl)?,
        election: config.election.clone(),
        id: config.id(),
        ttl,
        held_leases: Mutex::default(),
        terms: Mutex::default(),
    };
    let leadership = Leadership::campaigning(&settings.id);
    leadership.serve(|| plugins);
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
    let mut quiet = LogThrottle::per_minute();
    loop {
        let mut attempt = Attempt::default();
        match one_term(&settings, &leadership, &mut stop, &mut attempt).await {
            Ok(()) => return,
            Err(e) => {
                let reason = format!("{e:#}");
                leadership.etcd_error(&reason);
                if attempt.stepped_down {
                    if settings.terms.lock().unwrap().admit("terms lost", Instant::now()) {
                        warn!("ha: standby, no longer leader: {reason}");
                    }
                } else if let Some(due) = quiet.admit("ha: etcd") {
                    warn!("ha: etcd: {reason}; campaigning again{due}");
                }
            }
        }
        if let Some(held) = settings.terms.lock().unwrap().summary(Instant::now()) {
            warn!(
                "ha: etcd session flapping: {held} more in the last minute, at most {LINES_PER_MINUTE} said a minute"
            );
        }
        if attempt.granted {
            // etcd answered this time: a later failure starts its backoff afresh.
            retry = FIRST_RETRY;
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
/// no longer be (or `Ok` when stopped, after resigning). Whatever ends it, the daemon stops
/// writing first, then revokes the lease, so its key does not hold up the next election.
async fn one_term(
    settings: &Settings,
    leadership: &Leadership,
    stop: &mut watch::Receiver<bool>,
    attempt: &mut Attempt,
) -> Result<()> {
    let mut client = Client::connect(&settings.endpoints, Some(settings.options.clone())).await?;
    let ttl_s = i64::try_from(settings.ttl.as_secs()).unwrap_or(i64::MAX);
    let lease = client.lease_grant(ttl_s, None).await?.id();
    attempt.granted = true;
    {
        let mut held = settings.held_leases.lock().unwrap();
        if held.len() == MAX_HELD_LEASES {
            held.remove(0);
        }
        held.push(lease);
    }
    let outcome = on_lease(&mut client, lease, settings, leadership, stop).await;
    if outcome.is_err() {
        attempt.stepped_down = leadership.step_down();
        let _ = tokio::time::timeout(settings.ttl / 3, client.lease_revoke(lease)).await;
    }
    outcome
}

/// How far one term got.
#[derive(Default)]
struct Attempt {
    /// etcd granted a lease: it answers.
    granted: bool,
    /// The term ended while leading.
    stepped_down: bool,
}

/// Campaigns on `lease` and leads while it is renewed.
async fn on_lease(
    client: &mut Client,
    lease: i64,
    settings: &Settings,
    leadership: &Leadership,
    stop: &mut watch::Receiver<bool>,
) -> Result<()> {
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
        () = observe(client.clone(), settings, leadership, lease) => unreachable!("observing never ends"),
        _ = stop.changed() => {
            let _ = tokio::time::timeout(settings.ttl / 3, client.lease_revoke(lease)).await;
            return Ok(());
        }
    };
    took_office(leadership, settings, leader.rev(), *proven.lock().unwrap());
    let mut served = leadership.plugins.subscribe();
    let deposed = deposed(client.clone(), settings, leader.key().to_vec());
    tokio::pin!(deposed);
    let mut quiet = LogThrottle::per_minute();
    loop {
        let now = leadership.candidate();
        let mut retry = None;
        if now != announced {
            // Bounded, since the renewals wait meanwhile; a failure is retried, not a reason
            // to give up the term.
            let within = settings.ttl / 3;
            match proclaim(client, &leader, &now, within).await {
                Ok(()) => announced = now,
                Err(e) => retry = Some(proclaim_failed(leadership, &mut quiet, e, within)),
            }
        }
        tokio::select! {
            Err(failed) = &mut renewals => return Err(failed),
            why = &mut deposed => return Err(why),
            () = after(retry) => {}
            _ = served.changed() => {}
            _ = stop.changed() => {
                leadership.set(Role::Standby { leader: None });
                let within = settings.ttl / 3;
                if tokio::time::timeout(within, resign(client, leader, lease)).await.is_err() {
                    warn!("ha: etcd did not answer the resignation within {within:?}; the lease will lapse");
                }
                return Ok(());
            }
        }
    }
}

/// Takes the leadership won in `term`, its lease proven until `proven`: the pipeline may write
/// from now on (and writes at once); says so, a few times a minute while terms flap.
fn took_office(leadership: &Leadership, settings: &Settings, term: i64, proven: BootInstant) {
    leadership.set(Role::Leader { term });
    leadership.prove(proven);
    leadership.elected.notify_one();
    let (held, said) = {
        let mut terms = settings.terms.lock().unwrap();
        (terms.summary(Instant::now()), terms.admit("terms won", Instant::now()))
    };
    if let Some(held) = held {
        warn!("ha: etcd session flapping: {held} more in the last minute, at most {LINES_PER_MINUTE} said a minute");
    }
    if said {
        info!(
            term,
            "ha: leader of etcd election {:?} in term {term}", settings.election
        );
    }
}

/// Tells etcd, as `leader`, what this leader serves now (`candidate`), within `within`.
async fn proclaim(client: &mut Client, leader: &LeaderKey, candidate: &Candidate, within: Duration) -> Result<()> {
    let options = ProclaimOptions::new().with_leader(leader.clone());
    let proclaimed = tokio::time::timeout(within, client.proclaim(serde_json::to_vec(candidate)?, Some(options)));
    match proclaimed.await {
        Ok(answer) => answer.map(drop).map_err(Into::into),
        Err(_) => Err(anyhow!("no answer within {within:?}")),
    }
}

/// Counts and says (once a minute) that etcd did not take the leader's new plugin set; returns
/// the wait before trying again.
fn proclaim_failed(leadership: &Leadership, quiet: &mut LogThrottle, error: anyhow::Error, wait: Duration) -> Duration {
    let reason = format!("{error:#}");
    leadership.etcd_error(&reason);
    if let Some(due) = quiet.admit("ha: proclaim") {
        warn!("ha: etcd did not take this leader's plugin set ({reason}); trying again in {wait:?}{due}");
    }
    wait
}

/// Resolves after `wait`, or never without one.
async fn after(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
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

/// While leading, watches the election: another key leading it (this daemon's was deleted by
/// hand, or the lease revoked behind its back) ends the term at once. Pends forever otherwise,
/// and once etcd stops answering (the renewals notice that).
async fn deposed(mut client: Client, settings: &Settings, own_key: Vec<u8>) -> anyhow::Error {
    if let Ok(mut leaders) = client.observe(settings.election.as_bytes()).await {
        while let Ok(Some(answer)) = leaders.message().await {
            if answer.kv().is_some_and(|kv| kv.key() != own_key.as_slice()) {
                return anyhow!("another daemon's key leads the election now");
            }
        }
    }
    std::future::pending().await
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

/// While standing by on `lease`, follows who leads and with which plugins, as each leader
/// campaigned or last proclaimed. A leader key under an earlier lease of this process's is its
/// own leftover, revoked. A leader of a lease this process never held under this daemon's own
/// id is another daemon given the same id, said once a minute: the pair's status and logs could
/// not tell the two apart. Pends forever once etcd stops answering (the renewals notice that).
async fn observe(mut client: Client, settings: &Settings, leadership: &Leadership, lease: i64) {
    let mut quiet = LogThrottle::per_minute();
    if let Ok(mut leaders) = client.observe(settings.election.as_bytes()).await {
        while let Ok(Some(answer)) = leaders.message().await {
            let Some(kv) = answer.kv() else { continue };
            if kv.lease() == lease {
                continue;
            }
            if settings.held_leases.lock().unwrap().contains(&kv.lease()) {
                // This daemon's key from an earlier term, which etcd kept through a restart:
                // never leadership, and revoked so the election moves on.
                info!(
                    lease = kv.lease(),
                    "ha: the leader key is this daemon's own, from an earlier lease that etcd kept through a restart; revoking it"
                );
                let _ = tokio::time::timeout(settings.ttl / 3, client.lease_revoke(kv.lease())).await;
                continue;
            }
            let leader: Candidate = serde_json::from_slice(kv.value()).unwrap_or_else(|_| Candidate {
                id: String::from_utf8_lossy(kv.value()).chars().take(200).collect(),
                plugins: PluginSet::new(),
            });
            if leader.id == settings.id {
                if let Some(due) = quiet.admit("ha: duplicate id") {
                    warn!(
                        id = %settings.id,
                        "ha: the leader campaigns as {:?}, this daemon's own id: give each daemon of the pair its own [ha] id{due}",
                        settings.id
                    );
                }
            }
            leadership.leader_seen(leader);
        }
    }
    std::future::pending().await
}
