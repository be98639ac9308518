//! Records every snapshot a source yields to a JSON Lines file that `replay:` reads back; a
//! daemon that started warm first records what it took back (`{"warm": ...}`), so the replay
//! starts where the live run did.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::shared::market::Snapshot;
use crate::shared::warm_start::{WarmLine, WarmStart};

/// An open recording.
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Recorder {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot create recording {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Writes what a warm start took back as the first line (call it before any snapshot).
    pub fn write_warm(&mut self, warm: WarmStart) -> Result<()> {
        serde_json::to_writer(&mut self.out, &WarmLine { warm })?;
        self.end_line()
    }

    /// Appends one snapshot as one line, flushed so a crash loses at most the line in flight.
    pub fn write(&mut self, snapshot: &Snapshot) -> Result<()> {
        serde_json::to_writer(&mut self.out, snapshot)?;
        self.end_line()
    }

    /// Ends the line just written and flushes it.
    fn end_line(&mut self) -> Result<()> {
        self.out.write_all(b"\n")?;
        self.out
            .flush()
            .with_context(|| format!("cannot write recording {}", self.path.display()))
    }
}
