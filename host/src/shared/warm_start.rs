//! What a warm start takes back, in the two places it is written: the state file a daemon saves
//! for its next start (`pipeline/warm.rs`), and the first line of a recording made by a daemon
//! that started warm, so its replay starts from the very same history, candles and plugin
//! states and writes the very same keys.

use serde::{Deserialize, Serialize};

use super::candle::CandleRows;
use super::market::Sample;

/// One loaded version's state (contract 0.4.0), as the warm state saves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedVersionState {
    /// The plugin's identity.
    pub plugin: String,
    /// `serving` or `shadow`.
    pub role: String,
    /// The SHA-256 of the version's file.
    pub hash: String,
    /// The state format it named (empty for none).
    pub format: String,
    /// The state, base64.
    pub state: String,
}

/// What a daemon took back at a warm start, as its recording's first line carries it
/// (`{"warm": {...}}`, docs/sources.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStart {
    /// When it was taken back, ms since the Unix epoch: the time the candles were checked
    /// against, which a replay checks them against again.
    pub taken_at_ms: i64,
    /// Every symbol's samples of the cycle's own history, oldest first, as taken back.
    pub history: Vec<(String, Vec<Sample>)>,
    /// Every symbol's candles per time frame, oldest first, as taken back.
    pub candles: Vec<CandleRows>,
    /// The plugin states taken back, handed to the versions loaded by the same rule.
    pub plugin_states: Vec<SavedVersionState>,
}

/// A recording's first line when the recording daemon started warm.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmLine {
    /// What it took back.
    pub warm: WarmStart,
}

impl WarmLine {
    /// Whether a recording's line is the warm start's rather than a snapshot: the one line that
    /// opens with its key.
    pub fn is(line: &[u8]) -> bool {
        line.trim_ascii_start().starts_with(br#"{"warm""#)
    }
}
