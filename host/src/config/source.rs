//! Which market source the config names, in the words of `--source` and `[market]`.

use std::fmt;
use std::path::PathBuf;

/// Which source, as written in `--source` or the config: `simulated`, `replay:FILE`, `bybit`
/// (linear), `bybit:spot`, `binance`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum SourceSpec {
    /// The deterministic simulated market.
    Simulated,
    /// A recorded market.
    Replay(PathBuf),
    /// A live exchange.
    Exchange(Exchange),
}

impl TryFrom<String> for SourceSpec {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for SourceSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "simulated" => SourceSpec::Simulated,
            "bybit" | "bybit:linear" => SourceSpec::Exchange(Exchange::BybitLinear),
            "bybit:spot" => SourceSpec::Exchange(Exchange::BybitSpot),
            "binance" => SourceSpec::Exchange(Exchange::Binance),
            _ => match text.strip_prefix("replay:") {
                Some(path) if !path.is_empty() => SourceSpec::Replay(PathBuf::from(path)),
                _ => {
                    return Err(format!(
                        "unknown source {text:?}: expected simulated, replay:FILE, bybit, bybit:spot or binance"
                    ))
                }
            },
        })
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Simulated => f.write_str("simulated"),
            SourceSpec::Replay(path) => write!(f, "replay:{}", path.display()),
            SourceSpec::Exchange(Exchange::BybitLinear) => f.write_str("bybit"),
            SourceSpec::Exchange(Exchange::BybitSpot) => f.write_str("bybit:spot"),
            SourceSpec::Exchange(Exchange::Binance) => f.write_str("binance"),
        }
    }
}

/// Which exchange API to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Bybit v5, linear perpetuals.
    BybitLinear,
    /// Bybit v5, spot.
    BybitSpot,
    /// Binance spot.
    Binance,
}

/// What a replay does after its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReplayEnd {
    /// Start again from the first line.
    Loop,
    /// End the run.
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs_parse_and_print_back() {
        for text in ["simulated", "replay:/tmp/m.jsonl", "bybit", "bybit:spot", "binance"] {
            let spec: SourceSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!("bybit:linear".parse::<SourceSpec>().unwrap().to_string(), "bybit");
        assert!("kraken"
            .parse::<SourceSpec>()
            .unwrap_err()
            .contains("expected simulated"));
        assert!("replay:".parse::<SourceSpec>().is_err());
    }
}
