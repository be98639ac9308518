//! A plugin version's call durations as histogram buckets, kept with its other counters so
//! `pulse_plugin_call_duration_seconds` counts exactly the calls `pulse_plugin_calls_total`
//! does, and starts again with each new version like them.

use std::fmt;

use prometheus_client::encoding::{MetricEncoder, NoLabelSet};

/// Upper bounds of the buckets, in seconds: 0.1 ms doubling to ~3.3 s (deadlines are 250 ms
/// by default); a last bucket takes the rest.
const BOUNDS: usize = 16;

/// How many calls took how long.
#[derive(Debug, Clone, Default)]
pub(super) struct CallTimes {
    /// Seconds of every call, summed.
    sum: f64,
    /// Calls per bucket (not cumulative); the last one is above every bound.
    counts: [u64; BOUNDS + 1],
}

/// The upper bound of bucket `i`, in seconds.
fn bound(i: usize) -> f64 {
    if i < BOUNDS {
        0.0001 * f64::from(1u32 << i)
    } else {
        f64::MAX
    }
}

impl CallTimes {
    /// Counts a call that took `seconds`.
    pub(super) fn observe(&mut self, seconds: f64) {
        self.sum += seconds;
        let bucket = (0..BOUNDS).find(|&i| seconds <= bound(i)).unwrap_or(BOUNDS);
        self.counts[bucket] += 1;
    }

    /// Encodes the histogram as one series.
    pub(super) fn encode(&self, mut metric: MetricEncoder<'_>) -> fmt::Result {
        let buckets: Vec<(f64, u64)> = self.counts.iter().enumerate().map(|(i, n)| (bound(i), *n)).collect();
        metric.encode_histogram::<NoLabelSet>(self.sum, self.counts.iter().sum(), &buckets, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_lands_in_the_first_bucket_that_holds_it() {
        let mut times = CallTimes::default();
        for seconds in [0.00005, 0.0001, 0.00011, 0.25, 10.0] {
            times.observe(seconds);
        }
        assert_eq!(times.counts[0], 2, "up to and including 0.1 ms");
        assert_eq!(times.counts[1], 1);
        assert_eq!(times.counts[12], 1, "0.25 s is in (0.2048, 0.4096]");
        assert_eq!(times.counts[BOUNDS], 1, "past every bound");
        assert!((times.sum - 10.25026).abs() < 1e-9);
    }
}
