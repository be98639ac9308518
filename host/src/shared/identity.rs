//! Who a plugin is: the name the operator gave its file, never what the plugin says.
//!
//! A plugin's identity is its file stem with `_` read as `-` (cargo writes the crate
//! `my-signal` as `my_signal.wasm`): `trend.wasm` is `trend`, `demo_signal.wasm` is
//! `demo-signal`. The name a plugin gives in `describe()` must be the same identity, else the
//! file is refused. Grants, config tables, status, metrics and clash rules all follow the
//! identity, so a plugin cannot take another's place by calling itself by its name. The folder
//! plays no part, so a later version of the same plugin in another folder has the same identity.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};

use super::text::quote;

/// Longest identity, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// A plugin's identity, derived from its file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginId(Arc<str>);

impl PluginId {
    /// The identity of the plugin file at `path`: its stem, which must be 1-64 characters of
    /// `a-z`, `0-9`, `-` and `_`, with `_` read as `-`.
    pub fn of_file(path: &Path) -> Result<Self> {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        match Self::parse(stem) {
            Some(id) => Ok(id),
            None => bail!(
                "file name {} does not make a plugin name: the part before .wasm must be 1-{MAX_NAME_BYTES} \
                 characters of a-z, 0-9, '-' or '_'",
                quote(&path.file_name().unwrap_or_default().to_string_lossy())
            ),
        }
    }

    /// `name` as an identity, if it is 1-64 characters of `a-z`, `0-9`, `-` and `_`.
    pub fn parse(name: &str) -> Option<Self> {
        let valid = (1..=MAX_NAME_BYTES).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        valid.then(|| Self(name.replace('_', "-").into()))
    }

    /// Checks the name a plugin gives in `describe()` against this identity.
    pub fn check_described(&self, described: &str, path: &Path) -> Result<()> {
        if Self::parse(described).as_ref() == Some(self) {
            return Ok(());
        }
        bail!(
            "describe() names the plugin {} but its file {} makes it {:?}: a plugin's name is its file \
             name ('-' and '_' count as the same), so rename the file or fix describe()",
            quote(described),
            quote(&path.file_name().unwrap_or_default().to_string_lossy()),
            &*self.0
        )
    }

    /// The identity as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identity as a shared string, for log fields and store labels.
    pub fn shared(&self) -> Arc<str> {
        self.0.clone()
    }
}

impl std::ops::Deref for PluginId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A config key naming a plugin, read the way file names are (`_` as `-`), so
/// `[sandbox.plugin.demo_signal]` and `[sandbox.plugin.demo-signal]` name the same plugin.
pub fn normalise_key(name: &str) -> String {
    name.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_stem_is_the_identity_with_underscores_as_dashes() {
        let id = |p: &str| PluginId::of_file(Path::new(p)).map(|id| id.to_string());
        assert_eq!(id("/plugins/trend.wasm").unwrap(), "trend");
        assert_eq!(id("demo_signal.wasm").unwrap(), "demo-signal");
        assert_eq!(id("shadow/demo-signal.wasm").unwrap(), "demo-signal");
        for bad in ["Trend.wasm", "a b.wasm", ".wasm", "naïve.wasm"] {
            assert!(id(bad).is_err(), "{bad}");
        }
        let long = format!("{}.wasm", "a".repeat(65));
        assert!(id(&long).unwrap_err().to_string().contains("1-64"));
    }

    #[test]
    fn describe_must_name_the_file() {
        let path = Path::new("demo_signal.wasm");
        let id = PluginId::of_file(path).unwrap();
        assert!(id.check_described("demo-signal", path).is_ok());
        assert!(id.check_described("demo_signal", path).is_ok());
        let err = id.check_described("dashboard", path).unwrap_err().to_string();
        assert!(
            err.contains("\"dashboard\"") && err.contains("demo_signal.wasm"),
            "{err}"
        );
        let huge = "x".repeat(10 << 20);
        let err = id.check_described(&huge, path).unwrap_err().to_string();
        assert!(err.len() < 1024, "the reason quotes a bounded part of the name");
    }
}
