//! One memcached server: its connection pool and whether it is up.
//!
//! A server that fails a write is marked down and skipped by the cycles, which stay on time;
//! a background probe retries it with capped exponential backoff and jitter, and marks it up
//! as soon as it answers. Each change of state is logged once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use memcache::exp::{AsyncMetaClient, Error as McError, MetaClientBuilder, Set};
use tracing::{debug, info, warn};

use super::quiet::{is_fenced, Answer, Fence, QuietSets};
use crate::shared::entry::ValidEntry;

/// First wait before probing a server that went down.
const FIRST_PROBE: Duration = Duration::from_millis(25);
/// Longest wait between probes: short, so a restarted server is writable again within about
/// this long plus one cycle.
const MAX_PROBE: Duration = Duration::from_millis(250);

/// How many times a batch is resent after `SERVER_ERROR` replies before the rest is given up.
const MAX_RESENDS: usize = 16;

/// An entry of a batch that memcached did not store.
#[derive(Debug)]
pub struct Refusal {
    /// Its index into the cycle's entries.
    pub index: usize,
    /// The failure's kind, for the writer's counters: `io`, `timeout`, `server_error`, `other`.
    pub kind: &'static str,
    /// Why, as memcached or the connection said it.
    pub reason: String,
}

/// A memcached server as the writer sees it.
pub struct Server {
    /// `host:port`, as configured.
    pub addr: String,
    /// Connections for quiet batches, the cycles' usual path.
    quiet: QuietSets,
    /// Connections of the answering client: batches whose quiet answer named no key, and the
    /// probe (dialed lazily, redialed after failure).
    client: AsyncMetaClient,
    health: Arc<Mutex<Health>>,
    /// Times the server came back after being down.
    reconnects: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug, Clone)]
enum Health {
    Up,
    Down { since: Instant },
}

impl Server {
    /// A server whose exchanges give up after `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self> {
        let client = MetaClientBuilder::new()
            .connect_timeout(Some(timeout))
            .io_timeout(Some(timeout))
            .max_idle(8)
            .connect_async(addr)
            .await
            .with_context(|| format!("cannot resolve memcached address {addr}"))?;
        Ok(Self {
            addr: addr.to_string(),
            quiet: QuietSets::new(addr, timeout),
            client,
            health: Arc::new(Mutex::new(Health::Up)),
            reconnects: Arc::default(),
        })
    }

    /// Stores `entries[i]` for every `i` in `batch` and returns the entries it did not store.
    /// The batch goes out quietly; only when memcached answers an error that names no key is it
    /// sent again through the answering client, to find which.
    /// Once `fence` stops holding, nothing more goes out, and every entry of the batch counts
    /// as not stored (`fenced`: some may have been, before), without the server counting as down.
    pub async fn store(
        &self,
        entries: &[ValidEntry],
        batch: &[usize],
        fence: Fence<'_>,
    ) -> memcache::exp::Result<Vec<Refusal>> {
        let answer = match self.quiet.send(entries, batch, fence).await {
            Err(e) if is_fenced(&e) => return Ok(fenced(batch)),
            answer => answer.map_err(McError::Io)?,
        };
        match answer {
            Answer::Stored(refused) => Ok(refused
                .into_iter()
                .map(|(position, reply)| Refusal {
                    index: batch[position],
                    kind: "other",
                    reason: format!("not stored ({reply})"),
                })
                .collect()),
            Answer::Unattributed(reply) => {
                debug!(server = %self.addr, "memcached answered {reply:?} to a quiet batch; sending it key by key");
                self.store_answered(entries, batch.to_vec(), fence).await
            }
        }
    }

    /// Stores the batch through the answering client, which reports each key.
    ///
    /// memcache::exp 0.21 ends a batch at the first `SERVER_ERROR` reply (which carries no
    /// opaque token) and reports every later command as failed too, although the server
    /// executed them. Since a set is idempotent, the commands after the refused one are simply
    /// sent again as a new batch, so only the refused key is reported as failed.
    async fn store_answered(
        &self,
        entries: &[ValidEntry],
        mut batch: Vec<usize>,
        fence: Fence<'_>,
    ) -> memcache::exp::Result<Vec<Refusal>> {
        let mut refusals = Vec::new();
        for _ in 0..MAX_RESENDS {
            if !(fence.holds)() {
                refusals.extend(fenced(&batch));
                return Ok(refusals);
            }
            let sets = batch.iter().map(|&i| {
                Set::new(&entries[i].key, &entries[i].value)
                    .ttl_raw(entries[i].ttl)
                    .client_flags(fence.flags)
            });
            let results = self.client.run_many(sets).await?;
            let refused = results.iter().position(|r| matches!(r, Err(e) if is_server_error(e)));
            let rest = match refused {
                Some(refused) => batch.split_off(refused + 1),
                None => Vec::new(),
            };
            for (index, result) in batch.into_iter().zip(results) {
                match result {
                    Ok(r) if r.applied() => {}
                    Ok(r) => refusals.push(Refusal {
                        index,
                        kind: "other",
                        reason: format!("not stored ({:?})", r.status),
                    }),
                    Err(e) => refusals.push(Refusal {
                        index,
                        kind: error_kind(&e),
                        reason: e.to_string(),
                    }),
                }
            }
            if rest.is_empty() {
                return Ok(refusals);
            }
            batch = rest;
        }
        // A server refusing key after key (out of memory, items over its -I): stop resending.
        let reason = format!("not sent: memcached refused {MAX_RESENDS} keys of this batch already");
        refusals.extend(batch.into_iter().map(|index| Refusal {
            index,
            kind: "server_error",
            reason: reason.clone(),
        }));
        Ok(refusals)
    }

    /// Whether cycles should write to it now.
    pub fn is_up(&self) -> bool {
        matches!(*self.health.lock().unwrap(), Health::Up)
    }

    /// How many times it came back after being down.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the server down after a failed write and starts probing it in the background.
    /// Does nothing if it is already down (its probe is running).
    pub fn mark_down(&self, reason: &str) {
        {
            let mut health = self.health.lock().unwrap();
            if matches!(*health, Health::Down { .. }) {
                return;
            }
            *health = Health::Down { since: Instant::now() };
        }
        self.quiet.forget();
        warn!(server = %self.addr, "memcached {} down: {reason}", self.addr);
        let (client, health, reconnects, addr) = (
            self.client.clone(),
            self.health.clone(),
            self.reconnects.clone(),
            self.addr.clone(),
        );
        tokio::spawn(async move {
            let mut wait = FIRST_PROBE;
            loop {
                tokio::time::sleep(jittered(wait)).await;
                if client.noop().await.is_ok() {
                    break;
                }
                wait = (wait * 2).min(MAX_PROBE);
            }
            let since = match std::mem::replace(&mut *health.lock().unwrap(), Health::Up) {
                Health::Down { since } => since,
                Health::Up => Instant::now(),
            };
            reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            info!(
                server = %addr,
                "memcached {addr} back after {:.1} s",
                since.elapsed().as_secs_f64()
            );
        });
    }
}

/// A `SERVER_ERROR` reply, possibly reported as an ambiguous outcome.
fn is_server_error(error: &McError) -> bool {
    match error {
        McError::Server(_) => true,
        McError::Ambiguous { source, .. } => is_server_error(source),
        _ => false,
    }
}

/// Every entry of `batch`, not stored because the writer's fence stopped holding.
fn fenced(batch: &[usize]) -> Vec<Refusal> {
    batch
        .iter()
        .map(|&index| Refusal {
            index,
            kind: "fenced",
            reason: "not sent: the writer's lease is no longer proven".to_string(),
        })
        .collect()
}

/// The kind of a failed write, for counters.
pub fn error_kind(error: &McError) -> &'static str {
    match error {
        McError::Io(_) => "io",
        McError::Timeout { .. } => "timeout",
        McError::Ambiguous { source, .. } => error_kind(source),
        McError::Server(_) => "server_error",
        _ => "other",
    }
}

/// `wait` plus or minus up to 20 %, so probes of many daemons do not beat in step.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(rand::random_range(0.8..1.2))
}
