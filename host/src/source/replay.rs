//! Replays a recorded market: JSON Lines, one [`Snapshot`] per line (`docs/sources.md`), one
//! line per cycle, with the recorded timestamps, so a replay gives the plugins exactly what the
//! recording saw.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;

use super::{MarketSource, Opened, Registration};
use crate::config::{Config, ReplayEnd};
use crate::shared::market::Snapshot;

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
    let replay = Replay::open(Path::new(file), config.market.replay_end)?;
    Ok((Box::new(replay), "replay"))
}

#[async_trait]
impl MarketSource for Replay {
    /// Each line carries its recorded time; the clock plays no part.
    async fn snapshot(&mut self, _now_ms: i64) -> Result<Option<Snapshot>> {
        Replay::snapshot(self)
    }
}

/// A recorded market being replayed.
pub struct Replay {
    path: PathBuf,
    lines: Lines<BufReader<File>>,
    line: usize,
    end: ReplayEnd,
}

impl Replay {
    /// Opens `path`; fails if it cannot be read.
    pub fn open(path: &Path, end: ReplayEnd) -> Result<Self> {
        Ok(Self {
            lines: Self::lines(path)?,
            path: path.to_path_buf(),
            line: 0,
            end,
        })
    }

    fn lines(path: &Path) -> Result<Lines<BufReader<File>>> {
        let file = File::open(path).with_context(|| format!("cannot open replay file {}", path.display()))?;
        Ok(BufReader::new(file).lines())
    }

    /// The next snapshot; `None` once the file is done and the replay stops. A bad line is an
    /// error naming the file and line (the cycle then serves the last good snapshot).
    pub fn snapshot(&mut self) -> Result<Option<Snapshot>> {
        // A pass over the whole file that yields nothing ends the replay, even when looping.
        let mut restarted = false;
        loop {
            let Some(line) = self.lines.next() else {
                if self.end == ReplayEnd::Stop || restarted {
                    return Ok(None);
                }
                self.lines = Self::lines(&self.path)?;
                self.line = 0;
                restarted = true;
                continue;
            };
            self.line += 1;
            let line = line.with_context(|| format!("cannot read {} line {}", self.path.display(), self.line))?;
            if line.trim().is_empty() {
                continue;
            }
            return match serde_json::from_str(&line) {
                Ok(snapshot) => Ok(Some(snapshot)),
                Err(e) => bail!("{} line {}: not a snapshot: {e}", self.path.display(), self.line),
            };
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
        let mut replay = Replay::open(&file, ReplayEnd::Loop).unwrap();
        assert!(replay.snapshot().unwrap().is_none());
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn a_replay_loops_and_names_a_bad_line() {
        let file = tempfile_path("loop");
        std::fs::write(&file, "{\"timestamp_ms\":1,\"tickers\":[]}\n\n{\"oops\":1}\n").unwrap();
        let mut replay = Replay::open(&file, ReplayEnd::Loop).unwrap();
        assert_eq!(replay.snapshot().unwrap().unwrap().timestamp_ms, 1);
        let err = replay.snapshot().unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert_eq!(replay.snapshot().unwrap().unwrap().timestamp_ms, 1, "it starts over");
        let _ = std::fs::remove_file(file);
    }

    fn tempfile_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("pulse-replay-{name}-{}.jsonl", std::process::id()))
    }
}
