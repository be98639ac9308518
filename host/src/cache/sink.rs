//! Where a cycle's entries go, behind one trait: memcached ([`CacheWriter`]), a JSON Lines file
//! for backtests ([`JsonlSink`]), or memory for the pipeline's unit tests. The pipeline knows
//! only [`Sink`]; what is particular to a destination (memcached's servers, placement, item
//! flags and protocol) stays behind it.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Result;
use async_trait::async_trait;
use serde::Serialize;

use super::quiet::Fence;
use super::writer::CacheWriter;
use crate::shared::entry::{ValidEntry, STATUS_KEY};
use crate::shared::write_stats::{WriteReport, WriterStats};

/// A destination of a cycle's entries.
#[async_trait]
pub trait Sink: Send {
    /// Writes the cycle's entries for the writer the fence names (its term, 0 without `[ha]`);
    /// nothing more goes out once the fence stops holding.
    async fn write(&mut self, cycle: u64, entries: Vec<ValidEntry>, fence: Fence<'_>) -> WriteReport;

    /// The writer's totals since start; none for a destination that keeps none.
    fn stats(&self) -> WriterStats {
        WriterStats::default()
    }
}

#[async_trait]
impl Sink for CacheWriter {
    async fn write(&mut self, _cycle: u64, entries: Vec<ValidEntry>, fence: Fence<'_>) -> WriteReport {
        CacheWriter::write(self, &entries, fence).await
    }

    fn stats(&self) -> WriterStats {
        CacheWriter::stats(self)
    }
}

#[async_trait]
impl Sink for JsonlSink {
    async fn write(&mut self, cycle: u64, entries: Vec<ValidEntry>, _fence: Fence<'_>) -> WriteReport {
        self.write_lines(cycle, &entries)
    }
}

/// Writes entries as JSON Lines: `{"cycle":1,"key":"market:overview","ttl":10,"value":{...}}`.
/// JSON values are embedded as JSON, plain-text values as strings. `pulse:status` is left out:
/// it holds timings, and the file is meant to be compared with `diff` between plugin versions.
pub struct JsonlSink {
    out: BufWriter<Box<dyn Write + Send>>,
}

#[derive(Serialize)]
struct Line<'a> {
    cycle: u64,
    key: &'a str,
    ttl: u32,
    value: serde_json::Value,
}

impl JsonlSink {
    /// A sink writing to `path`, or to stdout when `None`.
    pub fn create(path: Option<&std::path::Path>) -> Result<Self> {
        let out: Box<dyn Write + Send> = match path {
            Some(path) => {
                Box::new(File::create(path).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?)
            }
            None => Box::new(std::io::stdout()),
        };
        Ok(Self {
            out: BufWriter::new(out),
        })
    }

    /// A sink that writes nowhere, for a replay that reports something else.
    pub fn discard() -> Self {
        Self {
            out: BufWriter::new(Box::new(std::io::sink())),
        }
    }

    fn write_lines(&mut self, cycle: u64, entries: &[ValidEntry]) -> WriteReport {
        let mut report = WriteReport::default();
        for entry in entries.iter().filter(|e| e.key != STATUS_KEY) {
            let value = serde_json::from_slice(&entry.value)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&entry.value).into_owned()));
            let line = Line {
                cycle,
                key: &entry.key,
                ttl: entry.ttl,
                value,
            };
            let written = serde_json::to_writer(&mut self.out, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"));
            match written {
                Ok(()) => report.written += 1,
                Err(e) => {
                    report.failed += 1;
                    report.first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if let Err(e) = self.out.flush() {
            report.first_error.get_or_insert_with(|| e.to_string());
        }
        report
    }
}

/// Keeps every entry written with its cycle; clones share what was written.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct MemorySink(std::sync::Arc<std::sync::Mutex<Vec<(u64, ValidEntry)>>>);

#[cfg(test)]
#[async_trait]
impl Sink for MemorySink {
    async fn write(&mut self, cycle: u64, entries: Vec<ValidEntry>, _fence: Fence<'_>) -> WriteReport {
        let written = entries.len();
        self.0.lock().unwrap().extend(entries.into_iter().map(|e| (cycle, e)));
        WriteReport {
            written,
            ..WriteReport::default()
        }
    }
}

#[cfg(test)]
impl MemorySink {
    /// The entries written in `cycle`.
    pub fn cycle(&self, cycle: u64) -> Vec<ValidEntry> {
        let written = self.0.lock().unwrap();
        written
            .iter()
            .filter(|(c, _)| *c == cycle)
            .map(|(_, e)| e.clone())
            .collect()
    }
}
