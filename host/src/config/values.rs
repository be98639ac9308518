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

/// A whole number above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct PositiveU64(pub u64);

impl TryFrom<i64> for PositiveU64 {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        match u64::try_from(n) {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(format!("must be a whole number above 0, got {n}")),
        }
    }
}

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
