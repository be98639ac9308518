//! Writes each cycle's validated entries to memcached.
//!
//! Each server's share of a cycle goes out as one pipelined batch of quiet meta-protocol sets
//! (`cache/quiet.rs`, `ms` with the entry's exact TTL), to which memcached answers only what it
//! did not store, each refusal naming its key by an opaque token; a reply that names no key
//! sends the batch again through an answering client (`cache/server.rs`), so a per-key
//! failure (e.g. an item too large for the server) is still reported for that key, not lost or
//! blamed on the batch. The cycle waits for the batches until its write deadline at most;
//! whatever was not confirmed by then counts as failed. A server that fails is skipped until
//! its background probe sees it answer again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::placement::Placement;
use super::quiet::Fence;
use super::server::{error_kind, resolve, Refusal, Server};
use crate::shared::entry::ValidEntry;
use crate::shared::write_stats::{ServerState, WriteReport, WriterStats};

/// Sends cache entries to one or more memcached servers.
pub struct CacheWriter {
    placement: Placement,
    servers: Vec<Arc<Server>>,
    deadline: Duration,
    stats: WriterStats,
}

impl CacheWriter {
    /// A writer over `placement`'s servers that waits at most `deadline` per cycle.
    /// Addresses are resolved now; nothing is dialed until the first write.
    pub async fn connect(placement: Placement, deadline: Duration) -> Result<Self> {
        let mut servers = Vec::with_capacity(placement.servers().len());
        for addr in placement.servers() {
            resolve(addr).await?;
            servers.push(Arc::new(Server::new(addr, deadline)));
        }
        Ok(Self {
            placement,
            servers,
            deadline,
            stats: WriterStats::default(),
        })
    }

    /// Totals since start, with each server's current state.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            reconnects: self.servers.iter().map(|s| s.reconnects()).sum(),
            servers: self
                .servers
                .iter()
                .map(|s| ServerState {
                    addr: s.addr.clone(),
                    up: s.is_up(),
                })
                .collect(),
            ..self.stats.clone()
        }
    }

    /// Writes every entry to its server(s), each server's share as one pipelined batch, all
    /// servers at once, waiting at most the write deadline. One batch per server was measured
    /// fastest here (`pulse-bench --scenario cache-write`): memcached stores a quiet batch on
    /// one worker thread at the rate of a raw burst, and more connections only share the same
    /// two cores. The batches are driven on the caller's task, not spawned: at 30 symbols the
    /// hand-off to a task and back was a fifth of the write.
    pub async fn write(&mut self, entries: &[ValidEntry], fence: Fence<'_>) -> WriteReport {
        let started = Instant::now();
        let mut report = WriteReport::default();
        let batches = batches(&self.placement, entries);
        let mut sends = FuturesUnordered::new();
        for (at, (server, batch)) in self.servers.iter().zip(&batches).enumerate() {
            server.say_held_changes();
            if batch.is_empty() {
                continue;
            }
            if !server.is_up() {
                report.fail(&mut self.stats, "server_down", batch.len(), || {
                    format!("memcached {} is down; {} entries skipped", server.addr, batch.len())
                });
                continue;
            }
            sends.push(async move { (at, server.store(entries, batch, fence).await) });
        }
        let mut outstanding: Vec<usize> = (0..batches.len()).filter(|&at| !batches[at].is_empty()).collect();
        outstanding.retain(|&at| self.servers[at].is_up());
        let mut answered = Vec::with_capacity(outstanding.len());
        let deadline = tokio::time::Instant::from_std(started + self.deadline);
        while let Ok(Some((at, refusals))) = tokio::time::timeout_at(deadline, sends.next()).await {
            outstanding.retain(|&other| other != at);
            answered.push((at, refusals));
        }
        drop(sends);
        for (at, refusals) in answered {
            let server = self.servers[at].clone();
            self.settle(&mut report, &server, &batches[at], entries, refusals);
        }
        for at in outstanding {
            let (server, count) = (&self.servers[at], batches[at].len());
            let reason = format!("no answer within the {:?} write deadline", self.deadline);
            server.mark_down(&reason);
            report.fail(&mut self.stats, "timeout", count, || {
                format!("memcached {}: {reason}", server.addr)
            });
        }
        self.stats.last_write_ms = started.elapsed().as_secs_f64() * 1000.0;
        report
    }

    /// Counts a batch's outcome: every entry stored but the refused ones.
    fn settle(
        &mut self,
        report: &mut WriteReport,
        server: &Server,
        batch: &[usize],
        entries: &[ValidEntry],
        refusals: std::io::Result<Vec<Refusal>>,
    ) {
        let refusals = match refusals {
            Ok(refusals) => refusals,
            Err(e) => {
                server.mark_down(&e.to_string());
                report.fail(&mut self.stats, error_kind(&e), batch.len(), || {
                    format!("memcached {}: {e}", server.addr)
                });
                return;
            }
        };
        let stored_bytes: usize = batch.iter().map(|&i| entries[i].value.len()).sum();
        let refused_bytes: usize = refusals.iter().map(|r| entries[r.index].value.len()).sum();
        let stored = batch.len() - refusals.len();
        report.written += stored;
        self.stats.keys_written += stored as u64;
        self.stats.bytes_written += (stored_bytes - refused_bytes) as u64;
        for refusal in refusals {
            if matches!(refusal.kind, "io" | "timeout") {
                server.mark_down(&refusal.reason);
            }
            let key = &entries[refusal.index].key;
            report.fail(&mut self.stats, refusal.kind, 1, || {
                format!("{key} on memcached {}: {}", server.addr, refusal.reason)
            });
        }
    }
}

/// Each server's share of `entries`, as indices: the server placement puts each key on, or
/// every server when mirrored.
fn batches(placement: &Placement, entries: &[ValidEntry]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = vec![Vec::new(); placement.servers().len()];
    for (i, entry) in entries.iter().enumerate() {
        for server in placement.targets(&entry.key) {
            batches[server].push(i);
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Arc<[ValidEntry]> {
        (0..n)
            .map(|i| ValidEntry {
                key: format!("market:key{i}"),
                value: vec![b'1'; 10],
                ttl: 10,
            })
            .collect()
    }

    #[test]
    fn each_entry_goes_to_its_server_or_to_every_server_when_mirrored() {
        let servers = vec!["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()];
        let entries = entries(100);
        let spread = batches(&Placement::new(servers.clone(), false), &entries);
        let mut all: Vec<usize> = spread.concat();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>(), "each entry exactly once");
        assert!(spread.iter().all(|b| !b.is_empty()), "both servers get a share");
        let placement = Placement::new(servers.clone(), false);
        for (server, batch) in spread.iter().enumerate() {
            assert!(batch.iter().all(|&i| placement.owner(&entries[i].key) == server));
        }
        let mirrored = batches(&Placement::new(servers, true), &entries);
        assert!(mirrored.iter().all(|b| b.len() == 100));
    }

    #[tokio::test]
    async fn a_server_that_refuses_fails_its_share_then_is_skipped_as_down() {
        // Nothing listens on port 1: the first write fails on the connection and marks the
        // server down; the next one skips it without trying.
        let placement = Placement::new(vec!["127.0.0.1:1".into()], false);
        let mut writer = CacheWriter::connect(placement, Duration::from_secs(2)).await.unwrap();
        let entries = entries(3);
        let first = writer.write(&entries, Fence::open()).await;
        assert_eq!((first.written, first.failed), (0, 3), "{first:?}");
        assert!(
            first.first_error.as_deref().unwrap().contains("127.0.0.1:1"),
            "{first:?}"
        );
        let stats = writer.stats();
        assert!(!stats.servers[0].up);
        assert_eq!(stats.errors.values().sum::<u64>(), 3, "{:?}", stats.errors);

        let second = writer.write(&entries, Fence::open()).await;
        assert_eq!((second.written, second.failed), (0, 3));
        assert!(second.first_error.unwrap().contains("is down; 3 entries skipped"));
        let stats = writer.stats();
        assert_eq!(stats.errors["server_down"], 3);
        assert_eq!(stats.errors.values().sum::<u64>(), 6, "every failed entry counted once");
        assert_eq!((stats.keys_written, stats.bytes_written), (0, 0));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_fails_its_share_at_the_deadline() {
        // The listener's backlog accepts the connection; nothing ever reads or answers it.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let placement = Placement::new(vec![silent.local_addr().unwrap().to_string()], false);
        let deadline = Duration::from_millis(200);
        let mut writer = CacheWriter::connect(placement, deadline).await.unwrap();
        let started = Instant::now();
        let report = writer.write(&entries(3), Fence::open()).await;
        assert!(started.elapsed() < deadline * 3, "took {:?}", started.elapsed());
        assert_eq!((report.written, report.failed), (0, 3), "{report:?}");
        assert!(report
            .first_error
            .unwrap()
            .contains("no answer within the 200ms write deadline"));
        let stats = writer.stats();
        assert_eq!(stats.errors["timeout"], 3);
        assert!(!stats.servers[0].up);
    }
}
