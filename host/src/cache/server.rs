//! One memcached server: its connection pool and whether it is up.
//!
//! A server that fails a write is marked down and skipped by the cycles, which stay on time;
//! a background probe retries it with capped exponential backoff and jitter, and marks it up
//! as soon as it answers. Each change of state is logged once, and a server that flaps logs a
//! few changes a minute and then a summary ([`Flaps`]).
//!
//! Everything read from the server goes through [`QuietSets`], whose reply lines are bounded:
//! a server gone wrong that answers with an endless line costs a kilobyte, not the process.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::quiet::{is_fenced, Answer, Fence, QuietSets};
use crate::shared::entry::ValidEntry;
use crate::shared::flaps::{Flaps, LINES_PER_MINUTE};

/// First wait before probing a server that went down.
const FIRST_PROBE: Duration = Duration::from_millis(25);
/// Longest wait between probes: short, so a restarted server is writable again within about
/// this long plus one cycle.
const MAX_PROBE: Duration = Duration::from_millis(250);

/// How many parts of a batch are sent again, to find the keys an error naming no key was about,
/// before the rest is given up: one bad key among 10,000 takes about 28.
const MAX_RESENDS: usize = 256;

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
    /// Connections for quiet batches (the cycles' path, and the parts of a batch sent again)
    /// and the probe.
    quiet: Arc<QuietSets>,
    /// Whether cycles write to it, or its probe runs.
    health: Arc<Mutex<Health>>,
    /// Its changes of state said and held back this minute, so a flapping server logs a few
    /// lines a minute and a summary.
    flaps: Arc<Mutex<Flaps>>,
    /// Times the server came back after being down.
    reconnects: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug, Clone)]
enum Health {
    Up,
    Down { since: Instant },
}

impl Server {
    /// A server whose dials and probes give up after `timeout`; nothing is dialed yet.
    pub fn new(addr: &str, timeout: Duration) -> Self {
        Self {
            addr: addr.to_string(),
            quiet: Arc::new(QuietSets::new(addr, timeout)),
            health: Arc::new(Mutex::new(Health::Up)),
            flaps: Arc::default(),
            reconnects: Arc::default(),
        }
    }

    /// Stores `entries[i]` for every `i` in `batch` and returns the entries it did not store.
    /// The batch goes out quietly; only when memcached answers an error that names no key is it
    /// sent again, by halves, to find which.
    /// Once `fence` stops holding, nothing more goes out, and every entry of the batch counts
    /// as not stored (`fenced`: some may have been, before), without the server counting as down.
    pub async fn store(&self, entries: &[ValidEntry], batch: &[usize], fence: Fence<'_>) -> io::Result<Vec<Refusal>> {
        let answer = match self.quiet.send(entries, batch, fence).await {
            Err(e) if is_fenced(&e) => return Ok(fenced(batch)),
            answer => answer?,
        };
        match answer {
            Answer::Stored(refused) => Ok(refused_in(batch, refused)),
            Answer::Unattributed(reply) => {
                debug!(server = %self.addr, "memcached answered {reply:?} to a quiet batch; sending it again by halves");
                self.store_by_halves(entries, batch, fence).await
            }
        }
    }

    /// Stores a batch whose quiet answer named no key, by halves: each half goes out quietly
    /// again (a set is idempotent); a half answered cleanly is stored, one that draws an error
    /// naming no key again is halved, down to the single keys memcached refuses.
    async fn store_by_halves(
        &self,
        entries: &[ValidEntry],
        batch: &[usize],
        fence: Fence<'_>,
    ) -> io::Result<Vec<Refusal>> {
        let mut refusals = Vec::new();
        let (half, rest) = batch.split_at(batch.len() / 2);
        let mut parts = vec![rest.to_vec(), half.to_vec()];
        let mut sent = 0;
        while let Some(part) = parts.pop() {
            if part.is_empty() {
                continue;
            }
            if sent == MAX_RESENDS {
                // A server refusing key after key (out of memory, items over its -I).
                let reason = format!("not sent: memcached refused keys of this batch {MAX_RESENDS} times already");
                for index in parts.iter().flatten().chain(&part) {
                    refusals.push(Refusal {
                        index: *index,
                        kind: "server_error",
                        reason: reason.clone(),
                    });
                }
                break;
            }
            sent += 1;
            match self.quiet.send(entries, &part, fence).await {
                Err(e) if is_fenced(&e) => refusals.extend(fenced(&part)),
                Err(e) => return Err(e),
                Ok(Answer::Stored(refused)) => refusals.extend(refused_in(&part, refused)),
                Ok(Answer::Unattributed(reply)) if part.len() == 1 => refusals.push(Refusal {
                    index: part[0],
                    kind: if reply.starts_with("SERVER_ERROR") {
                        "server_error"
                    } else {
                        "other"
                    },
                    reason: reply,
                }),
                Ok(Answer::Unattributed(_)) => {
                    let (half, rest) = part.split_at(part.len() / 2);
                    parts.push(rest.to_vec());
                    parts.push(half.to_vec());
                }
            }
        }
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
        if self.flaps.lock().unwrap().admit("down", Instant::now()) {
            warn!(server = %self.addr, "memcached {} down: {reason}", self.addr);
        }
        let (quiet, health, reconnects, addr, flaps) = (
            self.quiet.clone(),
            self.health.clone(),
            self.reconnects.clone(),
            self.addr.clone(),
            self.flaps.clone(),
        );
        tokio::spawn(async move {
            let mut wait = FIRST_PROBE;
            loop {
                tokio::time::sleep(jittered(wait)).await;
                if quiet.ping().await.is_ok() {
                    break;
                }
                wait = (wait * 2).min(MAX_PROBE);
            }
            let since = match std::mem::replace(&mut *health.lock().unwrap(), Health::Up) {
                Health::Down { since } => since,
                Health::Up => Instant::now(),
            };
            reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if flaps.lock().unwrap().admit("back", Instant::now()) {
                info!(
                    server = %addr,
                    "memcached {addr} back after {:.1} s",
                    since.elapsed().as_secs_f64()
                );
            }
        });
    }

    /// Says, once their minute has passed, how many of its changes (down, back) were held back
    /// while it flapped; the writer asks at each write.
    pub fn say_held_changes(&self) {
        if let Some(held) = self.flaps.lock().unwrap().summary(Instant::now()) {
            let now = if self.is_up() { "up" } else { "down" };
            warn!(
                server = %self.addr,
                "memcached {} flapping: {held} more changes in the last minute, at most {LINES_PER_MINUTE} said a minute; {now} now",
                self.addr
            );
        }
    }
}

/// Fails unless memcached address `addr` resolves, so a wrong name stops start-up (or
/// `pulse verify`) with the reason instead of failing every cycle.
pub async fn resolve(addr: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut found = tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("cannot resolve memcached address {addr}"))?;
    match found.next() {
        Some(_) => Ok(()),
        None => anyhow::bail!("memcached address {addr} resolves to no address"),
    }
}

/// The refusals of a quiet answer, by their positions in `batch`.
fn refused_in(batch: &[usize], refused: Vec<(usize, String)>) -> Vec<Refusal> {
    refused
        .into_iter()
        .map(|(position, reply)| Refusal {
            index: batch[position],
            kind: "other",
            reason: format!("not stored ({reply})"),
        })
        .collect()
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
pub fn error_kind(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::TimedOut => "timeout",
        _ => "io",
    }
}

/// `wait` plus or minus up to 20 %, so probes of many daemons do not beat in step.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(rand::random_range(0.8..1.2))
}
