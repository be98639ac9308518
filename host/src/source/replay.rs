//! Replays a recorded market: JSON Lines, one [`Snapshot`] per line (`docs/sources.md`), one
//! line per cycle, with the recorded timestamps, so a replay gives the plugins exactly what the
//! recording saw. A recording made by a daemon that started warm opens with what it took back
//! (`{"warm": ...}`), which the replay starts from, read when the replay opens.
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
use crate::shared::warm_start::{WarmLine, WarmStart};

/// The longest line of a recording read: a snapshot of 10,000 symbols is about 2.5 MB, so this
/// leaves room for 100,000 and more. A longer line is skipped, costing no more than this.
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// The longest warm-start line read: it holds what the state file holds but the evaluation, so
/// it is bounded as the state file is.
const MAX_WARM_LINE_BYTES: usize = 1 << 30;

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
    let path = Path::new(file);
    let warm = warm_start(path)?;
    let recording = Recording::open(path, config.market.replay_end, warm.is_some())?;
    Ok(Opened {
        market: Box::new(Replay::start(recording, warm, config.request_timeout())),
        name: "replay",
    })
}

/// What the recording's first line says its daemon took back at a warm start, if it does: a
/// first line that does not open as one is not read here.
fn warm_start(path: &Path) -> Result<Option<WarmStart>> {
    let mut lines = Recording::lines(path)?;
    let at = || format!("{} line 1", quoted_path(path));
    let head = std::io::BufRead::fill_buf(&mut lines).with_context(|| format!("cannot read {}", at()))?;
    if !WarmLine::is(head) {
        return Ok(None);
    }
    let mut buffer = Vec::new();
    match files::read_line_bounded(&mut lines, &mut buffer, MAX_WARM_LINE_BYTES)
        .with_context(|| format!("cannot read {}", at()))?
    {
        Line::Read => {
            let line: WarmLine = serde_json::from_slice(&buffer)
                .with_context(|| format!("{}: not the warm start a recording opens with", at()))?;
            Ok(Some(line.warm))
        }
        Line::TooLong(len) => bail!(
            "{}: a warm start of {len} bytes, above the limit of {MAX_WARM_LINE_BYTES} bytes",
            at()
        ),
        Line::End => Ok(None),
    }
}

/// A recording read ahead on its own thread.
struct Replay {
    /// The recording, for messages.
    path: PathBuf,
    /// What its daemon took back at a warm start, until the pipeline takes it.
    warm: Option<WarmStart>,
    /// Each snapshot (or bad line) as the thread reads it; closed once the recording ends.
    next: mpsc::Receiver<Result<Option<Snapshot>>>,
    /// How long a cycle waits for the next one.
    wait: Duration,
}

impl Replay {
    /// Reads `recording` ahead on a new thread, at most one snapshot waiting, for cycles that
    /// wait at most `wait` for each.
    fn start(mut recording: Recording, warm: Option<WarmStart>, wait: Duration) -> Self {
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
                warm,
                next: failed,
                wait,
            };
        }
        Self { path, warm, next, wait }
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

    fn recorded_warm(&mut self) -> Option<WarmStart> {
        self.warm.take()
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
    /// Whether line 1 is a warm start, read when the replay opened, which is not a cycle.
    warm_first: bool,
}

impl Recording {
    /// Opens `path`; fails if it cannot be read or is not a regular file.
    pub fn open(path: &Path, end: ReplayEnd, warm_first: bool) -> Result<Self> {
        Ok(Self {
            lines: Self::lines(path)?,
            buffer: Vec::new(),
            path: path.to_path_buf(),
            line: 0,
            end,
            warm_first,
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
                Line::TooLong(_) if self.line == 0 && self.warm_first => self.line += 1,
                Line::TooLong(len) => {
                    self.line += 1;
                    bail!(
                        "{}: skipped, {len} bytes long, above the limit of {MAX_LINE_BYTES} bytes a line",
                        at(self.line)
                    );
                }
                Line::Read => {
                    self.line += 1;
                    // The warm start, read when the replay opened, is not a cycle.
                    if self.buffer.trim_ascii().is_empty() || (self.line == 1 && self.warm_first) {
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
        let mut replay = Recording::open(&file, ReplayEnd::Loop, false).unwrap();
        assert!(replay.snapshot().unwrap().is_none());
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn a_replay_loops_and_names_a_bad_line() {
        let file = tempfile_path("loop");
        std::fs::write(&file, "{\"timestamp_ms\":1,\"tickers\":[]}\n\n{\"oops\":1}\n").unwrap();
        let mut replay = Recording::open(&file, ReplayEnd::Loop, false).unwrap();
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
        let mut replay = Recording::open(&file, ReplayEnd::Stop, false).unwrap();
        let err = replay.snapshot().unwrap_err().to_string();
        assert!(
            err.contains("line 1: skipped") && err.contains("above the limit"),
            "{err}"
        );
        assert!(replay.buffer.capacity() <= 2 * MAX_LINE_BYTES + 2);
        assert_eq!(replay.snapshot().unwrap().unwrap().timestamp_ms, 3);
        let _ = std::fs::remove_file(&file);

        rustix::fs::mkfifoat(rustix::fs::CWD, &file, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let err = format!("{:#}", Recording::open(&file, ReplayEnd::Stop, false).err().unwrap());
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
        let recording = Recording::open(&file, ReplayEnd::Stop, false).unwrap();
        let mut replay = Replay::start(recording, None, Duration::from_micros(1));
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
