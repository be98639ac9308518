//! A state that can flap (a memcached server down and back, a source failing and recovering, an
//! etcd term won and lost) says each change while it changes seldom, and at most
//! [`LINES_PER_MINUTE`] lines a minute while it flaps. The changes held back meanwhile are said
//! in one summary line with their counts once the minute has passed. Counters carry every
//! change; the log carries the news.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The most changes of one state said in a minute.
pub const LINES_PER_MINUTE: u32 = 4;

/// How long one window of [`LINES_PER_MINUTE`] lines lasts.
const WINDOW: Duration = Duration::from_secs(60);

/// The changes of one state said and held back in the current minute.
#[derive(Debug, Default)]
pub struct Flaps {
    /// When the current minute started; `None` before the first change.
    started: Option<Instant>,
    /// Lines said in it.
    said: u32,
    /// Changes held back in it, by kind (`down`, `back`, ...).
    held: BTreeMap<&'static str, u64>,
}

impl Flaps {
    /// Whether a line may say this change of kind `change` at `now`; if not, it is counted for
    /// the summary.
    pub fn admit(&mut self, change: &'static str, now: Instant) -> bool {
        if self.started.is_none_or(|started| now.duration_since(started) >= WINDOW) && self.held.is_empty() {
            self.started = Some(now);
            self.said = 0;
        }
        if self.said < LINES_PER_MINUTE && self.held.is_empty() {
            self.said += 1;
            return true;
        }
        *self.held.entry(change).or_default() += 1;
        false
    }

    /// The changes held back, as `6 down, 6 back`, once the minute they fell in has passed;
    /// then a new minute starts. `None` while it has not, or when none were held back.
    pub fn summary(&mut self, now: Instant) -> Option<String> {
        let started = self.started?;
        if self.held.is_empty() || now.duration_since(started) < WINDOW {
            return None;
        }
        let counts: Vec<String> = self.held.iter().map(|(change, n)| format!("{n} {change}")).collect();
        self.held.clear();
        self.started = Some(now);
        self.said = 0;
        Some(counts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flapping_state_says_a_few_changes_a_minute_then_sums_up_the_rest() {
        let mut flaps = Flaps::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let said: Vec<bool> = (0..20)
            .map(|i| flaps.admit(if i % 2 == 0 { "down" } else { "back" }, at(i)))
            .collect();
        assert_eq!(said.iter().filter(|s| **s).count(), LINES_PER_MINUTE as usize);
        assert!(said[..4].iter().all(|s| *s), "the first changes are said");
        assert_eq!(flaps.summary(at(30)), None, "not before the minute has passed");
        assert!(!flaps.admit("down", at(61)), "held until the summary is said");
        assert_eq!(flaps.summary(at(62)).as_deref(), Some("8 back, 9 down"));
        assert_eq!(flaps.summary(at(200)), None, "said once");
        assert!(flaps.admit("back", at(63)), "a new minute says changes again");
    }

    #[test]
    fn a_state_that_changes_seldom_says_every_change() {
        let mut flaps = Flaps::default();
        let start = Instant::now();
        for i in 0..10 {
            assert!(flaps.admit("down", start + Duration::from_secs(i * 40)));
            assert_eq!(flaps.summary(start + Duration::from_secs(i * 40 + 1)), None);
        }
    }
}
