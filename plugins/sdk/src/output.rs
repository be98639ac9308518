//! Reading analyzers' results and writing cache entries, for aggregators.

use crate::{Analyses, CacheEntry, Value};

/// Named access to one analyzer's components for one symbol.
pub struct ComponentsView<'a> {
    analyses: &'a Analyses,
    row: usize,
}

impl<'a> ComponentsView<'a> {
    /// The components of symbol `row` in `analyses`.
    pub fn new(analyses: &'a Analyses, row: usize) -> Self {
        Self { analyses, row }
    }

    /// `(name, value)` pairs of the defined values (NaN ones are left out).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, f64)> + '_ {
        let k = self.analyses.component_names.len();
        let start = self.row * k;
        let values = self.analyses.components.get(start..start + k).unwrap_or(&[]);
        self.analyses
            .component_names
            .iter()
            .zip(values)
            .filter(|(_, v)| v.is_finite())
            .map(|(n, v)| (n.as_str(), *v))
    }
}

impl CacheEntry {
    /// An entry holding `value` serialised once as JSON, with the daemon's default TTL.
    pub fn json(key: impl Into<String>, value: &impl serde::Serialize) -> Result<Self, String> {
        let key = key.into();
        let json = serde_json::to_string(value).map_err(|e| format!("{key}: cannot serialise: {e}"))?;
        Ok(Self {
            key,
            value: Value::Json(json),
            ttl_seconds: None,
        })
    }

    /// An entry holding a plain string, stored as is.
    pub fn text(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: Value::Text(value.into()),
            ttl_seconds: None,
        }
    }

    /// The same entry with its own TTL in seconds.
    pub fn with_ttl(mut self, seconds: u32) -> Self {
        self.ttl_seconds = Some(seconds);
        self
    }
}
