//! Every cache entry is checked before it is written: memcached key rules, ownership, valid
//! JSON encoded once, size and TTL. A bad entry is dropped with a reason; it is never sent.

use anyhow::{bail, Result};

use crate::config::MAX_TTL_SECS;
use crate::plugin::bindings::{CacheEntry, PluginInfo, Value};

/// Keys under this prefix are written by the host alone (e.g. `pulse:status`).
pub const HOST_PREFIX: &str = "pulse:";

/// memcached's longest key, in bytes.
const MAX_KEY_BYTES: usize = 250;

/// An entry that passed every check, ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEntry {
    /// The memcached key.
    pub key: String,
    /// The value's bytes, exactly as readers will get them.
    pub value: Vec<u8>,
    /// Seconds to live.
    pub ttl: u32,
}

/// Checks a key against memcached's rules, kept to what every client can read: 1-250 bytes
/// of printable ASCII without spaces.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        bail!("key must be 1-{MAX_KEY_BYTES} bytes, it has {}", key.len());
    }
    if let Some(c) = key.chars().find(|c| !c.is_ascii_graphic()) {
        bail!("key {key:?} contains {c:?}; keys must be printable ASCII without whitespace");
    }
    Ok(())
}

/// Checks a declared key prefix: a valid key start, outside the host's own namespace.
pub fn check_key_prefix(prefix: &str) -> Result<()> {
    check_key(prefix)?;
    if prefix.starts_with(HOST_PREFIX) || HOST_PREFIX.starts_with(prefix) {
        bail!("keys under {HOST_PREFIX:?} belong to the host");
    }
    Ok(())
}

/// Checks a plugin's entry and prepares it for writing with `default_ttl` where it names none.
pub fn validate(entry: CacheEntry, owner: &PluginInfo, default_ttl: u32, max_value_bytes: usize) -> Result<ValidEntry> {
    let key = entry.key;
    check_key(&key)?;
    if !owner.key_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
        bail!(
            "key {key:?} is outside the prefixes {} declared ({:?})",
            owner.name,
            owner.key_prefixes
        );
    }
    let ttl = entry.ttl_seconds.unwrap_or(default_ttl);
    if ttl == 0 || ttl > MAX_TTL_SECS {
        bail!("{key}: ttl {ttl} s is outside 1..={MAX_TTL_SECS}");
    }
    let value = match entry.value {
        Value::Json(text) => {
            check_json_once(&key, &text)?;
            text
        }
        Value::Text(text) => text,
    };
    if value.len() > max_value_bytes {
        bail!(
            "{key}: value is {} bytes, above the {max_value_bytes}-byte limit (memcached's item limit is 1 MiB by default)",
            value.len()
        );
    }
    Ok(ValidEntry {
        key,
        value: value.into_bytes(),
        ttl,
    })
}

/// Rejects text that is not JSON, and JSON that is a string holding JSON (encoded twice).
fn check_json_once(key: &str, text: &str) -> Result<()> {
    let parsed: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => bail!("{key}: value is not valid JSON: {e}"),
    };
    if let serde_json::Value::String(inner) = &parsed {
        let inner = inner.trim_start();
        if (inner.starts_with('{') || inner.starts_with('['))
            && serde_json::from_str::<serde_json::Value>(inner).is_ok()
        {
            bail!("{key}: value is JSON encoded twice (a JSON string holding JSON); encode it once");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> PluginInfo {
        PluginInfo {
            name: "dash".into(),
            version: "1".into(),
            description: String::new(),
            history_depth: 0,
            key_prefixes: vec!["market:".into()],
        }
    }

    fn entry(key: &str, value: Value, ttl: Option<u32>) -> CacheEntry {
        CacheEntry {
            key: key.into(),
            value,
            ttl_seconds: ttl,
        }
    }

    fn reason(e: CacheEntry) -> String {
        validate(e, &owner(), 10, 100).unwrap_err().to_string()
    }

    #[test]
    fn good_entries_pass_with_their_own_or_the_default_ttl() {
        let ok = validate(
            entry("market:a", Value::Json("{\"x\":1}".into()), None),
            &owner(),
            10,
            100,
        )
        .unwrap();
        assert_eq!((ok.ttl, ok.value.as_slice()), (10, b"{\"x\":1}".as_slice()));
        let ok = validate(
            entry("market:b", Value::Text("BULLISH".into()), Some(30)),
            &owner(),
            10,
            100,
        )
        .unwrap();
        assert_eq!((ok.ttl, ok.value.as_slice()), (30, b"BULLISH".as_slice()));
    }

    #[test]
    fn bad_entries_are_rejected_with_a_reason() {
        assert!(reason(entry("market:a b", Value::Text("x".into()), None)).contains("whitespace"));
        assert!(reason(entry("market:é", Value::Text("x".into()), None)).contains("printable ASCII"));
        assert!(reason(entry(&"market:".repeat(40), Value::Text("x".into()), None)).contains("1-250 bytes"));
        assert!(reason(entry("analysis:x", Value::Text("x".into()), None)).contains("outside the prefixes"));
        assert!(reason(entry("market:a", Value::Json("{oops".into()), None)).contains("not valid JSON"));
        assert!(reason(entry("market:a", Value::Json("\"{\\\"x\\\":1}\"".into()), None)).contains("encoded twice"));
        assert!(reason(entry("market:a", Value::Text("x".repeat(101)), None)).contains("above the 100-byte limit"));
        assert!(reason(entry("market:a", Value::Text("x".into()), Some(0))).contains("ttl 0"));
        assert!(reason(entry("market:a", Value::Text("x".into()), Some(MAX_TTL_SECS + 1))).contains("ttl"));
    }

    #[test]
    fn a_plain_json_string_is_not_double_encoding() {
        assert!(validate(
            entry("market:a", Value::Json("\"hello\"".into()), None),
            &owner(),
            10,
            100
        )
        .is_ok());
    }

    #[test]
    fn host_prefix_is_reserved() {
        assert!(check_key_prefix("pulse:").is_err());
        assert!(check_key_prefix("pul").is_err());
        assert!(check_key_prefix("market:").is_ok());
    }
}
