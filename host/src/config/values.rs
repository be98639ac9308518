//! The config's checked value types: each refuses an out-of-range value while it is parsed,
//! from the file or from a flag, so a running daemon never holds one.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::shared::entry::MAX_TTL_SECS;

/// Time between cycles: more than 0 and at most an hour.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Interval(pub Duration);

impl TryFrom<f64> for Interval {
    type Error = String;

    fn try_from(seconds: f64) -> Result<Self, String> {
        if (0.01..=3600.0).contains(&seconds) {
            Ok(Self(Duration::from_secs_f64(seconds)))
        } else {
            Err(format!("interval must be between 0.01 and 3600 seconds, got {seconds}"))
        }
    }
}

/// A cache TTL in seconds: at least 1 (0 would mean "never expire", hiding a dead daemon) and
/// at most 30 days (memcached reads larger numbers as absolute Unix times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Ttl(pub u32);

impl TryFrom<i64> for Ttl {
    type Error = String;

    fn try_from(seconds: i64) -> Result<Self, String> {
        match u32::try_from(seconds) {
            Ok(s) if (1..=MAX_TTL_SECS).contains(&s) => Ok(Self(s)),
            _ => Err(format!(
                "ttl must be between 1 and {MAX_TTL_SECS} seconds, got {seconds}"
            )),
        }
    }
}

/// How many symbols a cycle analyses: 1 to 100,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct SymbolCount(pub usize);

impl TryFrom<i64> for SymbolCount {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        match usize::try_from(n) {
            Ok(n) if (1..=100_000).contains(&n) => Ok(Self(n)),
            _ => Err(format!("symbols must be between 1 and 100000, got {n}")),
        }
    }
}

/// Declares a whole-number setting checked while it is parsed, from the file or a flag: from
/// `$min` to `$max` (in `$unit`). Every number of the config has a stated range, so no setting
/// can ask for a deadline of 2^63 ms or a shift that overflows.
macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $unit:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(try_from = "i64")]
        pub struct $name(pub u64);

        impl $name {
            /// The least value accepted.
            pub const MIN: u64 = $min;
            /// The largest value accepted.
            pub const MAX: u64 = $max;
        }

        impl TryFrom<i64> for $name {
            type Error = String;

            fn try_from(n: i64) -> Result<Self, String> {
                match u64::try_from(n) {
                    Ok(n) if (Self::MIN..=Self::MAX).contains(&n) => Ok(Self(n)),
                    _ => Err(format!("must be from {} to {}{}, got {n}", Self::MIN, Self::MAX, $unit)),
                }
            }
        }
    };
}

bounded!(
    /// A duration in milliseconds: at most an hour.
    Millis, 1, 3_600_000, " ms"
);
bounded!(
    /// A duration in seconds: at most an hour.
    Seconds, 1, 3_600, " s"
);
bounded!(
    /// How long a stream connection lives before it is replaced, in seconds: at most a day.
    ConnectionAge, 10, 86_400, " s"
);
bounded!(
    /// A count (cycles, calls, entries, requests): at most a million.
    Count, 1, 1_000_000, ""
);
bounded!(
    /// A budget of WebAssembly instructions for one call: at most 10^15 (days of work).
    Instructions, 1, 1_000_000_000_000_000, " instructions"
);
bounded!(
    /// A size in bytes: at most 1 GiB.
    Bytes, 1, 1 << 30, " bytes"
);
bounded!(
    /// The most state a plugin version keeps between calls, in bytes: none, or at most 64 MiB
    /// (every call copies it in and out, and the warm state saves it every minute).
    StateBytes, 0, 64 << 20, " bytes"
);
bounded!(
    /// A size on disk in MiB: at most 1 TiB.
    DiskMib, 1, 1 << 20, " MiB"
);
bounded!(
    /// A plugin's linear memory in MiB: at most the 4 GiB a 32-bit memory can address.
    MemoryMib, 1, 4096, " MiB"
);
bounded!(
    /// Memory kept resident per instance slot, in MiB: none, or at most a whole 32-bit memory.
    ResidentMib, 0, 4096, " MiB"
);

/// A replay speed factor above 0.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Speed(pub f64);

impl TryFrom<f64> for Speed {
    type Error = String;

    fn try_from(factor: f64) -> Result<Self, String> {
        if factor.is_finite() && (0.01..=10_000.0).contains(&factor) {
            Ok(Self(factor))
        } else {
            Err(format!("speed must be between 0.01 and 10000, got {factor}"))
        }
    }
}

/// Parses a command-line value with the same rules as the config file.
pub fn parse_flag<T, N>(text: &str) -> Result<T, String>
where
    T: TryFrom<N, Error = String>,
    N: std::str::FromStr,
    N::Err: fmt::Display,
{
    let n: N = text.trim().parse().map_err(|e| format!("{e}"))?;
    T::try_from(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_has_a_stated_range() {
        assert_eq!(Millis::try_from(3_600_000), Ok(Millis(3_600_000)));
        let err = Millis::try_from(i64::MAX).unwrap_err();
        assert_eq!(err, format!("must be from 1 to 3600000 ms, got {}", i64::MAX));
        assert!(Seconds::try_from(0).is_err() && Seconds::try_from(3601).is_err());
        assert!(MemoryMib::try_from(4097).is_err() && ResidentMib::try_from(0).is_ok());
        assert!(Count::try_from(-1).is_err() && Bytes::try_from((1 << 30) + 1).is_err());
    }

    #[test]
    fn flags_follow_the_file_rules() {
        assert_eq!(parse_flag::<Ttl, i64>("15"), Ok(Ttl(15)));
        assert!(parse_flag::<Ttl, i64>("0").unwrap_err().contains("ttl"));
        assert!(parse_flag::<Interval, f64>("abc").is_err());
        assert_eq!(
            parse_flag::<Interval, f64>("0.5").unwrap().0,
            Duration::from_millis(500)
        );
    }
}
