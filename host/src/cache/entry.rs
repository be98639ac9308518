//! Every plugin's cache entry is checked before it is written: memcached key rules, ownership,
//! valid JSON encoded once, size and TTL. A bad entry is dropped with a reason; it is never sent.

use anyhow::{bail, Result};

use crate::shared::contract::{CacheEntry, Value};
use crate::shared::entry::{check_key, EntryRules, ValidEntry, MAX_TTL_SECS};

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
