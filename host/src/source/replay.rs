//! Replays a recorded market: JSON Lines, one [`Snapshot`] per line (`docs/sources.md`), one
//! line per cycle, with the recorded timestamps, so a replay gives the plugins exactly what the
//! recording saw.
//!
//! The recording is read ahead on a thread of its own, one snapshot at a time, each line within
//! [`MAX_LINE_BYTES`]: a cycle waits for the next line at most the source's request timeout,
//! and one that is not read by then (a giant line still being read past) fails that poll, as a
//! slow exchange does, instead of holding up the cycle.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{MarketSource, Opened, Registration};
use crate::config::{Config, ReplayEnd};
use crate::shared::files::{self, Line};
use crate::shared::market::Snapshot;
use crate::shared::text::quoted_path;

/// The longest line of a recording read: a snapshot of 10,000 symbols is about 2.5 MB, so this
/// leaves room for 100,000 and more. A longer line is skipped, costing no more than this.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// `replay:FILE`: a recording, at `market.speed` and ending as `market.replay_end` says.
pub(super) const SOURCE: Registration = Registration {
    name: "replay",
    usage: "replay:FILE",
    paced: true,
    resumable: false,
    open,
};

fn open(config: &Config, argument: Option<&str>) -> Result<Opened> {
    let Some(file) = argument else {
        bail!("source replay needs the recording: replay:FILE");
    };
    let recording = Recording::open(Path::new(file), config.market.replay_end)?;
    Ok(Opened {
        market: Box::new(Replay::start(recording, config.request_timeout())),
        name: "replay",
    })
}

/// A recording read ahead on its own thread.
struct Replay {
    /// The recording, for messages.
    path: PathBuf,
    /// Each snapshot (or bad line) as the thread reads it; closed once the recording ends.
    next: mpsc::Receiver<Result<Option<Snapshot>>>,
    /// How long a cycle waits for the next one.
    wait: Duration,
}

impl Replay {
    /// Reads `recording` ahead on a new thread, at most one snapshot waiting, for cycles that
    /// wait at most `wait` for each.
    fn start(mut recording: Recording, wait: Duration) -> Self {
        let (sender, next) = mpsc::channel(1);
        let path = recording.path.clone();
        let read_ahead = move || loop {
            let read = recording.snapshot();
            let ended = matches!(read, Ok(None));
            if sender.blocking_send(read).is_err() || ended {
                return;
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name("pulse-replay".into())
            .spawn(read_ahead)
        {
            let (sender, failed) = mpsc::channel(1);
            let _ = sender.try_send(Err(anyhow!("cannot start reading {}: {e}", quoted_path(&path))));
            return Self {
                path,
                next: failed,
                wait,
            };
        }
        Self { path, next, wait }
    }
}

#[async_trait]
impl MarketSource for Replay {
    /// Each line carries its recorded time; the clock plays no part.
    async fn snapshot(&mut self, _now_ms: i64) -> Result<Option<Snapshot>> {
        match tokio::time::timeout(self.wait, self.next.recv()).await {
            Ok(Some(read)) => read,
            // The thread is done: the recording ended.
            Ok(None) => Ok(None),
            Err(_) => bail!(
                "the next line of {} is not read yet after {:?} (a very long line?)",
                quoted_path(&self.path),
                self.wait
            ),
        }
    }
}

/// A recording, read line by line.
struct Recording {
    /// The recording.
    path: PathBuf,
    /// Its lines, from the one after the last read.
    lines: BufReader<File>,
    /// The buffer each line is read into, kept between lines.
    buffer: Vec<u8>,
    /// The number of the last line read, from 1.
    line: usize,
    /// Whether to stop or loop at the end.
    end: ReplayEnd,
}

impl Recording {
    /// Opens `path`; fails if it cannot be read or is not a regular file.
    pub fn open(path: &Path, end: ReplayEnd) -> Result<Self> {
        Ok(Self {
            lines: Self::lines(path)?,
            buffer: Vec::new(),
            path: path.to_path_buf(),
            line: 0,
            end,
        })
    }

    fn lines(path: &Path) -> Result<BufReader<File>> {
        let file =
            files::RegularFile::open(path).with_context(|| format!("cannot open replay file {}", quoted_path(path)))?;
        Ok(file.lines())
    }

    /// The next snapshot; `None` once the file is done and the replay stops. A bad line (not a
    /// snapshot, or longer than [`MAX_LINE_BYTES`]) is an error naming the file and line (the
    /// cycle then serves the last good snapshot), and the next call goes on after it.
    pub fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        // A pass over the whole file that yields nothing ends the replay, even when looping.
        let mut restarted = false;
        loop {
            let read = files::read_line_bounded(&mut self.lines, &mut self.buffer, MAX_LINE_BYTES);
            let at = |line| format!("{} line {line}", quoted_path(&self.path));
            match read.with_context(|| format!("cannot read {}", at(self.line + 1)))? {
                Line::End => {
                    if self.end == ReplayEnd::Stop || restarted {
                        return Ok(None);
                    }
                    self.lines = Self::lines(&self.path)?;
                    self.line = 0;
                    restarted = true;
                }
                Line::TooLong(len) => {
                    self.line += 1;
                    bail!(
                        "{}: skipped, {len} bytes long, above the limit of {MAX_LINE_BYTES} bytes a line",
                        at(self.line)
                    );
                }
                Line::Read => {
                    self.line += 1;
                    if self.buffer.trim_ascii().is_empty() {
                        continue;
                    }
                    return match serde_json::from_slice(&self.buffer) {
                        Ok(snapshot) => Ok(Some(snapshot)),
                        Err(e) => bail!("{}: not a snapshot: {e}", at(self.line)),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_snapshots_ends_even_when_looping() {
        let file = tempfile_path("blank");
        std::fs::write(&file, "\n\n   \n").unwrap();
        let mut replay = Recording::open(&file, ReplayEnd::Loop).unwrap();
        assert!(replay.snapshot().unwrap().is_none());
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn a_replay_loops_and_names_a_bad_line() {
        let file = tempfile_path("loop");
        std::fs::write(&file, "{\"timestamp_ms\":1,\"tickers\":[]}\n\n{\"oops\":1}\n").unwrap();
        let mut replay = Recording::open(&file, ReplayEnd::Loop).unwrap();
        assert_eq!(replay.snapshot().unwrap().unwrap().timestamp_ms, 1);
        let err = replay.snapshot().unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert_eq!(replay.snapshot().unwrap().unwrap().timestamp_ms, 1, "it starts over");
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_and_named_and_a_fifo_is_refused() {
        let file = tempfile_path("long");
        let long = format!(
            "{{\"timestamp_ms\":2,\"tickers\":[],\"pad\":\"{}\"}}",
            "x".repeat(MAX_LINE_BYTES)
        );
        std::fs::write(&file, format!("{long}\n{{\"timestamp_ms\":3,\"tickers\":[]}}\n")).unwrap();
        let mut replay = Recording::open(&file, ReplayEnd::Stop).unwrap();
        let err = replay.snapshot().unwrap_err().to_string();
        assert!(
            err.contains("line 1: skipped") && err.contains("above the limit"),
            "{err}"
        );
        assert!(replay.buffer.capacity() <= 2 * MAX_LINE_BYTES + 2);
        assert_eq!(replay.snapshot().unwrap().unwrap().timestamp_ms, 3);
        let _ = std::fs::remove_file(&file);

        rustix::fs::mkfifoat(rustix::fs::CWD, &file, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let err = format!("{:#}", Recording::open(&file, ReplayEnd::Stop).err().unwrap());
        assert!(err.contains("it is a FIFO, not a regular file"), "{err}");
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn a_cycle_waits_for_the_next_line_no_longer_than_its_deadline() {
        let file = tempfile_path("slow");
        let long = format!(
            "{{\"timestamp_ms\":1,\"tickers\":[],\"pad\":\"{}\"}}",
            "x".repeat(60 << 20)
        );
        std::fs::write(&file, format!("{long}\n{{\"timestamp_ms\":2,\"tickers\":[]}}\n")).unwrap();
        let recording = Recording::open(&file, ReplayEnd::Stop).unwrap();
        let mut replay = Replay::start(recording, Duration::from_micros(1));
        let err = replay.snapshot(0).await.unwrap_err().to_string();
        assert!(err.contains("is not read yet"), "{err}");
        replay.wait = Duration::from_secs(60);
        let err = replay.snapshot(0).await.unwrap_err().to_string();
        assert!(err.contains("line 1: not a snapshot"), "{err}");
        assert_eq!(replay.snapshot(0).await.unwrap().unwrap().timestamp_ms, 2);
        assert!(replay.snapshot(0).await.unwrap().is_none(), "then it ends");
        let _ = std::fs::remove_file(file);
    }

    fn tempfile_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("pulse-replay-{name}-{}.jsonl", std::process::id()))
    }
}
