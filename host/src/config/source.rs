//! Which market source the config names, in the words of `--source`: a name, and for some
//! sources an argument after a colon. Which names exist is the source stage's registry
//! (`source/mod.rs`), which refuses an unknown one when the daemon starts.

use std::fmt;
use std::path::Path;

/// A source as written in `--source` or the config: `simulated`, `replay:FILE`, `bybit`,
/// `bybit:spot`, `binance`, ...
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct SourceSpec {
    /// The source's name, before any `:`.
    pub name: String,
    /// What follows the first `:` (a file, a market), if anything.
    pub argument: Option<String>,
}

impl SourceSpec {
    /// The simulated market, the default.
    pub fn simulated() -> Self {
        Self {
            name: "simulated".into(),
            argument: None,
        }
    }

    /// A replay of the recording at `path`, which must be UTF-8 to be written as text.
    pub fn replay(path: &Path) -> Result<Self, String> {
        let path = path
            .to_str()
            .ok_or_else(|| format!("the recording's path {} is not UTF-8", path.display()))?;
        Ok(Self {
            name: "replay".into(),
            argument: Some(path.to_string()),
        })
    }
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
        let (name, argument) = match text.split_once(':') {
            Some((name, argument)) => (name, Some(argument)),
            None => (text, None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "source {text:?}: a source is NAME or NAME:ARGUMENT, e.g. simulated or replay:FILE"
            ));
        }
        if argument.is_some_and(str::is_empty) {
            return Err(format!("source {text:?}: nothing after the ':'"));
        }
        Ok(Self {
            name: name.to_string(),
            argument: argument.map(str::to_string),
        })
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.argument {
            Some(argument) => write!(f, "{}:{argument}", self.name),
            None => f.write_str(&self.name),
        }
    }
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
        let replay: SourceSpec = "replay:C:/m.jsonl".parse().unwrap();
        assert_eq!(
            (replay.name.as_str(), replay.argument.as_deref()),
            ("replay", Some("C:/m.jsonl"))
        );
        assert!("replay:".parse::<SourceSpec>().is_err());
        assert!("".parse::<SourceSpec>().is_err());
        assert!("Bybit".parse::<SourceSpec>().is_err());
    }
}
