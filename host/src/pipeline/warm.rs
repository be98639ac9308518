//! Warm restart: the history, candles, the evaluation's samples and figures and the plugins'
//! states saved to the state directory on stop and once a minute, written atomically, and taken
//! back at start when they still hold, so the first push after a restart carries whole analyses,
//! an hour of evidence is not thrown away and a strategy goes on from what it remembered.
//!
//! Only a source that goes on with the same market across a restart (a live exchange) saves and
//! loads. The cycle's own samples are taken back only after a short stop (at most
//! [`HISTORY_GAP_INTERVALS`] intervals since the last one), since nothing can fill the hole a
//! longer one leaves; so are the plugins' states, which follow each cycle as the samples do;
//! candles are taken back after any stop shorter than a day, and what is
//! missing since is left to the source's backfill (or, where it has none, plugins get the
//! series from after the gap).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::candles::CandleStore;
use crate::evaluation::SavedEvaluation;
use crate::history::History;
use crate::shared::candle::CandleRows;
use crate::shared::files;
use crate::shared::market::Sample;
use crate::shared::text::quoted_path;
use crate::shared::warm_start::SavedVersionState;

/// The format of the state file; a file of another version is not read.
const VERSION: u32 = 1;
/// A state older than this is not read.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// A state file larger than this is not read (its size is bounded by the plugins' demand:
/// 30 symbols of 1 m and 1 h candles take about 1 MB, 10,000 symbols about 120 MB). It is parsed
/// as it is read, so a larger or endless file costs no more memory than what it parses into.
const MAX_FILE_BYTES: u64 = 1 << 30;
/// The cycle's samples are taken back when the last one is at most this many intervals old.
pub(super) const HISTORY_GAP_INTERVALS: u32 = 10;
/// How often a running daemon saves.
pub(super) const SAVE_EVERY: Duration = Duration::from_secs(60);

/// What is saved.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    /// [`VERSION`].
    version: u32,
    /// The source it was saved from, as `pulse:status` names it.
    source: String,
    /// When it was saved, ms since the Unix epoch.
    saved_at_ms: i64,
    /// Every symbol's samples of the cycle's own history, oldest first.
    history: Vec<(String, Vec<Sample>)>,
    /// Every symbol's candles per time frame, oldest first.
    candles: Vec<CandleRows>,
    /// The verdicts sampled and not yet scored, and each version's figures so far; absent in a
    /// state saved before the evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evaluation: Option<SavedEvaluation>,
    /// Each loaded version's state (contract 0.4.0), those not empty; absent in a state saved
    /// before plugins had state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    plugin_states: Vec<SavedVersionState>,
}

/// Where the pipeline saves its state, and when it last did.
pub(super) struct WarmState {
    /// The state file.
    path: PathBuf,
    /// The source's name, written into the file and checked when it is read.
    source: &'static str,
    /// When the state was last saved.
    last_saved: Instant,
}

impl WarmState {
    /// The state file of `source` in `dir`.
    pub(super) fn new(dir: &Path, source: &'static str) -> Self {
        let file: String = source
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Self {
            path: dir.join(format!("{file}.json")),
            source,
            last_saved: Instant::now(),
        }
    }

    /// The state file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a save is due.
    pub(super) fn due(&self) -> bool {
        self.last_saved.elapsed() >= SAVE_EVERY
    }

    /// Reads the saved state into `history` and `candles`, if it still holds at `now_ms`;
    /// returns what was taken back, for the log.
    pub(super) fn load(
        &self,
        history: &mut History,
        candles: &mut CandleStore,
        now_ms: i64,
        interval: Duration,
    ) -> Result<Restored> {
        let path = quoted_path(&self.path);
        let reader = files::RegularFile::open(&self.path)
            .and_then(|file| file.reader(MAX_FILE_BYTES))
            .with_context(|| format!("cannot read {path}"))?;
        let state: SavedState = serde_json::from_reader(std::io::BufReader::new(reader))
            .with_context(|| format!("{path} is not a saved state"))?;
        if state.version != VERSION || state.source != self.source {
            bail!(
                "{path} holds version {} of {:?}, not version {VERSION} of {:?}",
                state.version,
                state.source,
                self.source
            );
        }
        let age_ms = now_ms - state.saved_at_ms;
        if age_ms < 0 {
            bail!(
                "{path} was saved after now (at {} ms, now {now_ms} ms)",
                state.saved_at_ms
            );
        }
        if age_ms > MAX_AGE.as_millis() as i64 {
            bail!("{path} was saved {} s ago, longer than a day", age_ms / 1000);
        }
        let newest = state
            .history
            .iter()
            .filter_map(|(_, s)| s.last())
            .map(|s| s.timestamp_ms)
            .max();
        let history_gap = interval.as_millis() as i64 * i64::from(HISTORY_GAP_INTERVALS);
        let mut restored = Restored::default();
        let short = |t: i64| t <= now_ms && now_ms - t <= history_gap;
        if newest.is_some_and(short) {
            restored.history_symbols = state.history.len();
            restored.left_out = history.restore(state.history);
        }
        // The states follow the last cycle, as the samples do (without samples, when no plugin
        // reads any, the save's time stands for the last cycle's).
        if short(newest.unwrap_or(state.saved_at_ms)) {
            restored.plugin_states = state.plugin_states;
        }
        restored.candle_series = state.candles.len();
        restored.candles_refused = candles.restore(&state.candles, now_ms).values().sum();
        restored.evaluation = state.evaluation;
        Ok(restored)
    }

    /// Saves `history`, `candles`, `evaluation` and `plugin_states` atomically (a temporary
    /// file renamed over the last), off the async runtime's threads; returns what it cost.
    pub(super) async fn save(
        &mut self,
        (history, candles): (&History, &CandleStore),
        (evaluation, plugin_states): (SavedEvaluation, Vec<SavedVersionState>),
        now_ms: i64,
    ) -> Result<SaveCost> {
        self.last_saved = Instant::now();
        let state = SavedState {
            version: VERSION,
            source: self.source.to_string(),
            saved_at_ms: now_ms,
            history: history.saved(),
            candles: candles.saved(),
            evaluation: Some(evaluation),
            plugin_states,
        };
        let copied = self.last_saved.elapsed();
        let path = self.path.clone();
        let (bytes, written) = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            write_atomically(&path, &state)?;
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            anyhow::Ok((bytes, started.elapsed()))
        })
        .await
        .context("the save task failed")??;
        Ok(SaveCost { bytes, copied, written })
    }
}

/// What a save cost, for the log: the state's size, and the time taken to copy it on the
/// cycle's thread and to encode and write it on another.
#[derive(Debug)]
pub(super) struct SaveCost {
    /// The file's size.
    pub(super) bytes: u64,
    /// Copying the history and candles, between cycles.
    pub(super) copied: Duration,
    /// Encoding and writing the file, off the runtime's threads.
    pub(super) written: Duration,
}

/// What a load took back.
#[derive(Debug, Default)]
pub(super) struct Restored {
    /// Symbols whose samples were taken back (0 when the stop was too long).
    pub(super) history_symbols: usize,
    /// Of those, series left out as invalid.
    pub(super) left_out: usize,
    /// Candle series (a symbol and time frame each) read.
    pub(super) candle_series: usize,
    /// Candles refused as invalid.
    pub(super) candles_refused: usize,
    /// The evaluation's samples and figures, for the pipeline to take back if they still hold.
    pub(super) evaluation: Option<SavedEvaluation>,
    /// The plugins' states, for the pipeline to hand to the versions loaded (none after a long
    /// stop).
    pub(super) plugin_states: Vec<SavedVersionState>,
}

/// Writes `state` to a temporary file beside `path` (never through a symlink), then renames it
/// over `path`.
fn write_atomically(path: &Path, state: &SavedState) -> Result<()> {
    let dir = path.parent().context("the state file has no directory")?;
    files::create_dir_all(dir, 0o700).with_context(|| format!("cannot create {}", quoted_path(dir)))?;
    files::write_atomically_with(path, 0o600, |out| serde_json::to_writer(out, state).map_err(Into::into))
        .with_context(|| format!("cannot write {}", quoted_path(path)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::candle::{Candle, CandleDemand};
    use crate::shared::contract::Timeframe;
    use crate::shared::market::{Snapshot, Ticker};

    const MINUTE: i64 = 60_000;

    fn snapshot(ts: i64) -> Snapshot {
        Snapshot {
            timestamp_ms: ts,
            tickers: vec![Ticker {
                symbol: "AUSDT".into(),
                price: 2.0,
                change_24h: 0.0,
                volume_24h: 1.0,
                turnover_24h: 2.0,
                high_24h: 2.0,
                low_24h: 2.0,
                data_ms: None,
            }],
            candles: vec![CandleRows {
                symbol: "AUSDT".into(),
                timeframe: Timeframe::M1,
                candles: (0..3).map(|i| Candle::opening(10 * MINUTE + i * MINUTE, 2.0)).collect(),
            }],
        }
    }

    /// A history and candle store after one snapshot at `ts`.
    fn stages(ts: i64) -> (History, CandleStore) {
        let (mut history, mut candles) = (History::default(), CandleStore::default());
        history.set_capacity(5);
        let mut demand = CandleDemand::default();
        demand.want(Timeframe::M1, 5);
        candles.set_demand(demand);
        history.record(&snapshot(ts));
        candles.record(&snapshot(ts));
        (history, candles)
    }

    #[tokio::test]
    async fn a_saved_state_comes_back_after_a_short_stop_and_its_history_not_after_a_long_one() {
        let dir = tempfile::tempdir().unwrap();
        let saved_at = 12 * MINUTE + 1_000;
        let (history, candles) = stages(saved_at);
        let mut warm = WarmState::new(dir.path(), "bybit:spot");
        assert!(warm.path().ends_with("bybit-spot.json"));
        let evaluation = crate::evaluation::Evaluation::new(crate::config::EvaluationConfig::default());
        let state = SavedVersionState {
            plugin: "counter".into(),
            role: "serving".into(),
            hash: "ab".repeat(32),
            format: "counter/1".into(),
            state: "e30=".into(),
        };
        let cost = warm
            .save(
                (&history, &candles),
                (evaluation.saved(), vec![state.clone()]),
                saved_at,
            )
            .await
            .unwrap();
        assert_eq!(
            cost.bytes,
            std::fs::metadata(warm.path()).unwrap().len(),
            "the size said is the file's"
        );

        let interval = Duration::from_secs(2);
        let (mut h, mut c) = (History::default(), CandleStore::default());
        let r = warm.load(&mut h, &mut c, saved_at + 5_000, interval).unwrap();
        assert_eq!((r.history_symbols, r.candle_series, r.candles_refused), (1, 1, 0));
        assert_eq!(r.plugin_states, [state]);
        assert_eq!(h.saved(), history.saved());
        assert_eq!(c.saved(), candles.saved());
        assert!(r
            .evaluation
            .is_some_and(|e| crate::evaluation::Evaluation::new(Default::default())
                .restore(e)
                .is_some()));

        // Past ten intervals, the samples would leave a hole: only the candles come back.
        let (mut h, mut c) = (History::default(), CandleStore::default());
        let r = warm.load(&mut h, &mut c, saved_at + 21_000, interval).unwrap();
        assert_eq!((r.history_symbols, r.candle_series), (0, 1));
        assert!(h.saved().is_empty());
        assert!(
            r.plugin_states.is_empty(),
            "states follow the samples: not after a long stop"
        );

        // Another source's state, or one from the future, is not read.
        let other = WarmState::new(dir.path(), "bybit");
        std::fs::copy(warm.path(), other.path()).unwrap();
        let err = other.load(&mut h, &mut c, saved_at, interval).unwrap_err();
        assert!(format!("{err:#}").contains("not version 1 of \"bybit\""), "{err:#}");
        let err = warm.load(&mut h, &mut c, saved_at - 1, interval).unwrap_err();
        assert!(format!("{err:#}").contains("was saved after now"), "{err:#}");
        let err = warm
            .load(&mut h, &mut c, saved_at + 25 * 3_600_000, interval)
            .unwrap_err();
        assert!(format!("{err:#}").contains("longer than a day"), "{err:#}");
        std::fs::write(warm.path(), "{\"version\":1").unwrap();
        assert!(
            format!("{:#}", warm.load(&mut h, &mut c, saved_at, interval).unwrap_err()).contains("not a saved state")
        );
    }

    #[test]
    fn a_fifo_an_endless_file_or_a_sparse_giant_at_the_state_file_costs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let warm = WarmState::new(dir.path(), "bybit");
        let (mut h, mut c) = (History::default(), CandleStore::default());
        let mut load = || {
            format!(
                "{:#}",
                warm.load(&mut h, &mut c, 0, Duration::from_secs(2)).unwrap_err()
            )
        };
        rustix::fs::mkfifoat(rustix::fs::CWD, warm.path(), rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        assert!(load().contains("it is a FIFO, not a regular file"), "{}", load());
        std::fs::remove_file(warm.path()).unwrap();
        std::os::unix::fs::symlink("/dev/zero", warm.path()).unwrap();
        assert!(load().contains("it is a device"), "{}", load());
        std::fs::remove_file(warm.path()).unwrap();
        std::fs::File::create(warm.path()).unwrap().set_len(2 << 30).unwrap();
        assert!(load().contains("larger than the limit"), "{}", load());
        std::fs::File::create(warm.path())
            .unwrap()
            .set_len(MAX_FILE_BYTES - 1)
            .unwrap();
        assert!(
            load().contains("not a saved state"),
            "a sparse file of zeros fails at its first byte"
        );
    }
}
