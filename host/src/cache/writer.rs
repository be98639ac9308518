//! Writes each cycle's validated entries to memcached.
//!
//! All entries of a cycle go out as one pipelined meta-protocol batch per server
//! (`memcache::exp`, `ms` with the entry's exact TTL). The meta protocol was chosen over ASCII
//! `set … noreply` because it answers every key, so a per-key failure (e.g. an item too large
//! for the server) is reported for that key, not lost or blamed on the batch; its batches
//! carry opaque tokens, so a reply is never paired with the wrong key. The cycle waits for the
//! batch until its write deadline at most; whatever was not confirmed by then counts as failed.
//! A server that fails is skipped until its background probe sees it answer again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use memcache::exp::Error as McError;
use tokio::task::JoinSet;

use super::placement::Placement;
use super::server::{Outcomes, Server};
use crate::shared::entry::{ServerState, ValidEntry, WriterStats};

/// Entries per pipelined batch. A server's share of a cycle goes out as several batches at
/// once, on separate pooled connections, so memcached's worker threads and both sides' CPUs
/// work in parallel. Measured here (`pulse-bench --scenario cache-write`, 10,000 entries of
/// 200 bytes, against a raw `noreply` burst): batches of 1,000 reach 0.65-0.70 of the burst,
/// of 250 or 500 about 0.5, of 2,500 0.55-0.60, one batch 0.41.
const CHUNK: usize = 1000;

/// Sends cache entries to one or more memcached servers.
pub struct CacheWriter {
    placement: Placement,
    servers: Vec<Arc<Server>>,
    deadline: Duration,
    stats: WriterStats,
}

/// What one cycle's write achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Entries memcached stored (an entry mirrored to three servers counts three times).
    pub written: usize,
    /// Entries that were not stored.
    pub failed: usize,
    /// Why the first failed entry failed.
    pub first_error: Option<String>,
}

impl WriteReport {
    fn fail(&mut self, stats: &mut WriterStats, kind: &'static str, count: usize, reason: impl FnOnce() -> String) {
        self.failed += count;
        *stats.errors.entry(kind).or_default() += count as u64;
        if self.first_error.is_none() {
            self.first_error = Some(reason());
        }
    }
}

impl CacheWriter {
    /// A writer over `placement`'s servers that waits at most `deadline` per cycle.
    /// Addresses are resolved now; nothing is dialed until the first write.
    pub async fn connect(placement: Placement, deadline: Duration) -> Result<Self> {
        let mut servers = Vec::with_capacity(placement.servers().len());
        for addr in placement.servers() {
            servers.push(Arc::new(Server::connect(addr, deadline).await?));
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

    /// Writes every entry to its server(s), each server's share in pipelined batches of
    /// [`CHUNK`] sent at once, waiting at most the write deadline. The entries are shared with
    /// the tasks that send them, not copied.
    pub async fn write(&mut self, shared: Arc<[ValidEntry]>) -> WriteReport {
        let started = Instant::now();
        let mut report = WriteReport::default();
        let batches = batches(&self.placement, &shared);
        let mut tasks = JoinSet::new();
        let mut outstanding = std::collections::HashMap::new();
        for (server, batch) in self.servers.iter().zip(batches) {
            if batch.is_empty() {
                continue;
            }
            if !server.is_up() {
                report.fail(&mut self.stats, "server_down", batch.len(), || {
                    format!("memcached {} is down; {} entries skipped", server.addr, batch.len())
                });
                continue;
            }
            for chunk in batch.chunks(CHUNK) {
                let (task_server, entries, chunk) = (server.clone(), shared.clone(), chunk.to_vec());
                let count = chunk.len();
                let task = tasks.spawn(async move { task_server.store(&entries, chunk).await });
                outstanding.insert(task.id(), (server.clone(), count));
            }
        }
        let deadline = tokio::time::Instant::from_std(started + self.deadline);
        while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, tasks.join_next_with_id()).await {
            let (id, outcome) = match joined {
                Ok((id, outcome)) => (id, Ok(outcome)),
                Err(e) => (e.id(), Err(e)),
            };
            let Some((server, count)) = outstanding.remove(&id) else {
                continue;
            };
            match outcome {
                Ok(outcomes) => self.settle(&mut report, &server, count, &shared, outcomes),
                Err(e) => report.fail(&mut self.stats, "other", count, || {
                    format!("memcached {}: write task failed: {e}", server.addr)
                }),
            }
        }
        tasks.abort_all();
        for (server, count) in outstanding.into_values() {
            let reason = format!("no answer within the {:?} write deadline", self.deadline);
            server.mark_down(&reason);
            report.fail(&mut self.stats, "timeout", count, || {
                format!("memcached {}: {reason}", server.addr)
            });
        }
        self.stats.last_write_ms = started.elapsed().as_secs_f64() * 1000.0;
        report
    }

    fn settle(
        &mut self,
        report: &mut WriteReport,
        server: &Server,
        count: usize,
        entries: &[ValidEntry],
        outcomes: memcache::exp::Result<Outcomes>,
    ) {
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(e) => {
                server.mark_down(&e.to_string());
                let kind = error_kind(&e);
                report.fail(&mut self.stats, kind, count, || {
                    format!("memcached {}: {e}", server.addr)
                });
                return;
            }
        };
        for (i, result) in outcomes {
            let entry = &entries[i];
            match result {
                Ok(r) if r.applied() => {
                    report.written += 1;
                    self.stats.keys_written += 1;
                    self.stats.bytes_written += entry.value.len() as u64;
                }
                Ok(r) => report.fail(&mut self.stats, "other", 1, || {
                    format!("{}: not stored ({:?})", entry.key, r.status)
                }),
                Err(e) => {
                    let kind = error_kind(&e);
                    if matches!(kind, "io" | "timeout") {
                        server.mark_down(&e.to_string());
                    }
                    report.fail(&mut self.stats, kind, 1, || {
                        format!("{} on memcached {}: {e}", entry.key, server.addr)
                    });
                }
            }
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

/// The kind of a failed write, for counters.
fn error_kind(error: &McError) -> &'static str {
    match error {
        McError::Io(_) => "io",
        McError::Timeout { .. } => "timeout",
        McError::Ambiguous { source, .. } => error_kind(source),
        McError::Server(_) => "server_error",
        _ => "other",
    }
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
        let first = writer.write(entries.clone()).await;
        assert_eq!((first.written, first.failed), (0, 3), "{first:?}");
        assert!(
            first.first_error.as_deref().unwrap().contains("127.0.0.1:1"),
            "{first:?}"
        );
        let stats = writer.stats();
        assert!(!stats.servers[0].up);
        assert_eq!(stats.errors.values().sum::<u64>(), 3, "{:?}", stats.errors);

        let second = writer.write(entries).await;
        assert_eq!((second.written, second.failed), (0, 3));
        assert!(second.first_error.unwrap().contains("is down; 3 entries skipped"));
        let stats = writer.stats();
        assert_eq!(stats.errors["server_down"], 3);
        assert_eq!(stats.errors.values().sum::<u64>(), 6, "every failed entry counted once");
        assert_eq!((stats.keys_written, stats.bytes_written), (0, 0));
    }
}
