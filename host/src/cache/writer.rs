//! Writes validated entries to memcached through the pipelined meta protocol.
//!
//! One batch per cycle, split per server and pipelined. Connections are dialed lazily and
//! every exchange has a short deadline, so a slow or absent memcached costs a cycle at most
//! the timeout, and a restarted one is used again at the next cycle.

use std::time::Duration;

use anyhow::{Context, Result};
use memcache::exp::{AsyncMetaClient, MetaClientBuilder, Set};

use super::entry::ValidEntry;

/// Sends cache entries to one or more memcached servers.
#[derive(Clone)]
pub struct CacheWriter {
    client: AsyncMetaClient,
    timeout: Duration,
}

/// What one batch achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Entries memcached stored.
    pub written: usize,
    /// Entries that were not stored.
    pub failed: usize,
    /// Why the first failed entry failed.
    pub first_error: Option<String>,
}

impl CacheWriter {
    /// A writer for `servers` (`HOST:PORT` each) whose connects and exchanges give up after
    /// `timeout`. Addresses are resolved now; nothing is dialed until the first write.
    pub async fn connect(servers: &[String], timeout: Duration) -> Result<Self> {
        let client = MetaClientBuilder::new()
            .connect_timeout(Some(timeout))
            .io_timeout(Some(timeout))
            .connect_multiple_async(servers.iter().map(String::as_str))
            .await
            .with_context(|| format!("cannot resolve memcached address {}", servers.join(",")))?;
        Ok(Self { client, timeout })
    }

    /// Writes every entry with its own TTL, in one pipelined batch per server.
    pub async fn write(&self, entries: &[ValidEntry]) -> WriteReport {
        let mut report = WriteReport::default();
        if entries.is_empty() {
            return report;
        }
        let sets = entries.iter().map(|e| Set::new(&e.key, &e.value).ttl_raw(e.ttl));
        let results = match tokio::time::timeout(self.timeout * 2, self.client.run_many(sets)).await {
            Ok(Ok(results)) => results,
            Ok(Err(e)) => return report.all_failed(entries.len(), e.to_string()),
            Err(_) => return report.all_failed(entries.len(), format!("no answer within {:?}", self.timeout * 2)),
        };
        for (entry, result) in entries.iter().zip(results) {
            match result {
                Ok(r) if r.applied() => report.written += 1,
                Ok(r) => report.fail(format!("{}: not stored ({:?})", entry.key, r.status)),
                Err(e) => report.fail(format!("{}: {e}", entry.key)),
            }
        }
        report
    }
}

impl WriteReport {
    fn fail(&mut self, reason: String) {
        self.failed += 1;
        self.first_error.get_or_insert(reason);
    }

    fn all_failed(mut self, count: usize, reason: String) -> Self {
        self.failed = count;
        self.first_error = Some(reason);
        self
    }
}
