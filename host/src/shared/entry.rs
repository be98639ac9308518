//! A cache entry and every check on it, in one place: the keys the host reserves, the rules
//! every key follows (memcached's, which are the contract's), ownership, valid JSON encoded
//! once, size and TTL. The daemon, `pulse check` and `pulse replay` apply the same ones, whatever
//! the sink; a bad entry is dropped with a reason and never sent.

use anyhow::{bail, Result};

use super::contract::{CacheEntry, Value};

/// Keys under this prefix are written by the host alone (e.g. `pulse:status`).
pub const HOST_PREFIX: &str = "pulse:";

/// memcached's longest key, in bytes.
const MAX_KEY_BYTES: usize = 250;

/// The key the host writes its status to.
pub const STATUS_KEY: &str = pulse_keys::STATUS;

/// The largest relative TTL memcached accepts, in seconds; longer ones are read as absolute
/// times.
pub const MAX_TTL_SECS: u32 = 30 * 24 * 3600;

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

/// What one aggregator's entries are checked against.
#[derive(Debug, Clone)]
pub struct EntryRules<'a> {
    /// The writing plugin's name, for messages.
    pub owner: &'a str,
    /// Prefixes it declared (and was granted).
    pub key_prefixes: &'a [String],
    /// Keys it may write as plain text.
    pub text_keys: &'a [String],
    /// TTL of entries that name none.
    pub default_ttl: u32,
    /// Shortest TTL allowed.
    pub min_ttl: u32,
    /// Longest TTL allowed.
    pub max_ttl: u32,
    /// Largest value allowed, in bytes.
    pub max_value_bytes: usize,
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

/// Checks a plugin's entry and prepares it for writing.
pub fn validate(entry: CacheEntry, rules: &EntryRules<'_>) -> Result<ValidEntry> {
    let key = entry.key;
    check_key(&key)?;
    if !rules.key_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
        bail!(
            "key {key:?} is outside the prefixes {} may write ({:?})",
            rules.owner,
            rules.key_prefixes
        );
    }
    let ttl = entry.ttl_seconds.unwrap_or(rules.default_ttl);
    if ttl < rules.min_ttl || ttl > rules.max_ttl.min(MAX_TTL_SECS) {
        bail!("{key}: ttl {ttl} s is outside {}..={} s", rules.min_ttl, rules.max_ttl);
    }
    let value = match entry.value {
        Value::Json(text) => {
            check_json_once(&key, &text)?;
            text
        }
        Value::Text(text) if rules.text_keys.contains(&key) => text,
        Value::Text(_) => bail!(
            "{key}: plain-text value, but {} may write plain text only to {:?}; send JSON",
            rules.owner,
            rules.text_keys
        ),
    };
    if value.len() > rules.max_value_bytes {
        bail!(
            "{key}: value is {} bytes, above the {}-byte limit (memcached's item limit is 1 MiB by default)",
            value.len(),
            rules.max_value_bytes
        );
    }
    Ok(ValidEntry {
        key,
        value: value.into_bytes(),
        ttl,
    })
}

/// Rejects text that is not JSON, and JSON that is a string holding a JSON object or array
/// however many times it was wrapped (`"{..}"`, `"\"{..}\""`, ...): readers would have to
/// decode it more than once. A string holding anything else (`"42"`, `"true"`, `"hello"`)
/// is a plain string and passes. Validity is checked without building a document (profiled:
/// building one cost ~6 % of a 10,000-symbol cycle); only strings are decoded, to look inside
/// them, and each layer is shorter than the one around it, so the loop ends.
fn check_json_once(key: &str, text: &str) -> Result<()> {
    if !text.trim_start().starts_with('"') {
        return match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Ok(()),
            Err(e) => bail!("{key}: value is not valid JSON: {e}"),
        };
    }
    let mut layer = text;
    let mut decoded: String;
    let mut wraps = 0;
    while layer.trim_start().starts_with('"') {
        let inner = match serde_json::from_str::<String>(layer) {
            Ok(inner) => inner,
            Err(e) if wraps == 0 => bail!("{key}: value is not valid JSON: {e}"),
            // Text inside a valid string that merely starts with a quote: a plain string.
            Err(_) => return Ok(()),
        };
        decoded = inner;
        layer = &decoded;
        wraps += 1;
        let start = layer.trim_start();
        if (start.starts_with('{') || start.starts_with('['))
            && serde_json::from_str::<serde::de::IgnoredAny>(layer).is_ok()
        {
            let (times, plural) = if wraps == 1 {
                ("twice", "")
            } else {
                ("more than twice", "s")
            };
            bail!("{key}: value is JSON encoded {times} (a JSON string holding JSON, {wraps} wrapping{plural}); encode it once");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_prefix_is_reserved() {
        assert!(check_key_prefix("pulse:").is_err());
        assert!(check_key_prefix("pul").is_err());
        assert!(check_key_prefix("market:").is_ok());
        assert!(STATUS_KEY.starts_with(HOST_PREFIX));
    }

    fn rules<'a>(prefixes: &'a [String], text: &'a [String]) -> EntryRules<'a> {
        EntryRules {
            owner: "dash",
            key_prefixes: prefixes,
            text_keys: text,
            default_ttl: 10,
            min_ttl: 1,
            max_ttl: 3600,
            max_value_bytes: 100,
        }
    }

    fn entry(key: &str, value: Value, ttl: Option<u32>) -> CacheEntry {
        CacheEntry {
            key: key.into(),
            value,
            ttl_seconds: ttl,
        }
    }

    fn check(e: CacheEntry) -> Result<ValidEntry> {
        let prefixes = ["market:".to_string()];
        let text = ["market:b".to_string()];
        validate(e, &rules(&prefixes, &text))
    }

    fn reason(e: CacheEntry) -> String {
        check(e).unwrap_err().to_string()
    }

    #[test]
    fn good_entries_pass_with_their_own_or_the_default_ttl() {
        let ok = check(entry("market:a", Value::Json("{\"x\":1}".into()), None)).unwrap();
        assert_eq!((ok.ttl, ok.value.as_slice()), (10, b"{\"x\":1}".as_slice()));
        let ok = check(entry("market:b", Value::Text("BULLISH".into()), Some(30))).unwrap();
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
        let big = Value::Json(format!("\"{}\"", "x".repeat(100)));
        assert!(reason(entry("market:a", big, None)).contains("above the 100-byte limit"));
        assert!(reason(entry("market:a", Value::Text("x".into()), None)).contains("plain text only to"));
        assert!(reason(entry("market:a", Value::Text("x".into()), Some(0))).contains("ttl 0"));
        assert!(reason(entry("market:a", Value::Text("x".into()), Some(MAX_TTL_SECS + 1))).contains("ttl"));
    }

    #[test]
    fn plain_json_strings_are_not_double_encoding() {
        for plain in [
            "\"hello\"",
            "\"42\"",
            "\"true\"",
            "\"{not json\"",
            "\"\\\"[1,\"",
            "\"\\\"42\\\"\"",
        ] {
            assert!(
                check(entry("market:a", Value::Json(plain.into()), None)).is_ok(),
                "{plain}"
            );
        }
    }

    #[test]
    fn json_wrapped_in_strings_is_refused_at_any_depth() {
        let mut value = serde_json::json!({"x": [1, 2]}).to_string();
        for wraps in 1..=6 {
            value = serde_json::to_string(&value).unwrap();
            let why = reason(entry("market:a", Value::Json(value.clone()), None));
            assert!(
                why.contains("encoded") && why.contains(&format!("{wraps} wrapping")),
                "{wraps}: {why}"
            );
        }
        let array = serde_json::to_string(&serde_json::to_string(&"[1]").unwrap()).unwrap();
        assert!(reason(entry("market:a", Value::Json(array), None)).contains("more than twice"));
    }
}
