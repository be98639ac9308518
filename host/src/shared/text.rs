//! Text that came from a plugin or a file name, made safe to keep and to log.
//!
//! Anything a plugin hands the host as text (error messages, log lines, what it printed, the
//! names it gives) is cut to a bound and has its control characters escaped before the host
//! keeps it or writes it to its log: a plugin can neither grow the host's status without bound
//! nor start a line that looks like the daemon's own.

use std::fmt::Write as _;

/// Longest error message kept from a plugin (in `pulse:status`, `/plugins` and the log).
pub const MAX_ERROR_BYTES: usize = 1024;

/// Longest log line kept from a plugin.
pub const MAX_LOG_LINE_BYTES: usize = 4096;

/// Longest piece of a plugin's text quoted inside a reason the host writes.
const MAX_QUOTE_BYTES: usize = 128;

/// `text` with control characters (newlines included) escaped, cut to at most about `max`
/// bytes; a cut is marked with how much was left out.
pub fn sanitise(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 32);
    for (at, c) in text.char_indices() {
        let before = out.len();
        if is_unsafe(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
        if out.len() > max {
            out.truncate(before);
            let _ = write!(out, "… ({} more bytes cut)", text.len() - at);
            break;
        }
    }
    out
}

/// `text` in double quotes, sanitised and cut short, for quoting inside a reason.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", sanitise(text, MAX_QUOTE_BYTES))
}

/// A file's path for a log line or a reason: in double quotes, with control characters,
/// quotes and bytes that are not UTF-8 escaped, so a file name can neither end a line nor forge
/// one, in text logs or JSON.
pub fn quoted_path(path: &std::path::Path) -> String {
    let text = format!("{path:?}");
    if text.chars().any(|c| matches!(c, '\u{2028}' | '\u{2029}')) {
        return text.replace('\u{2028}', "\\u{2028}").replace('\u{2029}', "\\u{2029}");
    }
    text
}

/// `bytes` as lowercase hex, as keys, tags and signatures are written in the daemon's files.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The bytes `text` holds in hex (either case); `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Characters that could start a new line or move the cursor on an operator's terminal.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let forged = "ok\n2026-11-24T10:00:00Z ERROR pulse::cache::server: memcached down\r\x1b[2J";
        let safe = sanitise(forged, 1000);
        assert!(!safe.chars().any(char::is_control), "{safe}");
        assert!(safe.starts_with("ok\\n2026-11-24T10:00:00Z ERROR"), "{safe}");
        assert_eq!(sanitise("plain text, 42 €", 100), "plain text, 42 €");
        assert_eq!(sanitise("a\u{2028}b", 100), "a\\u{2028}b");
    }

    #[test]
    fn file_names_cannot_forge_a_line() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(
            b"/plugins/a\n2026-12-06T00:00:00Z INFO forged\xff\xe2\x80\xa8.wasm".as_slice(),
        );
        let shown = quoted_path(std::path::Path::new(name));
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert!(shown.starts_with("\"/plugins/a\\n2026"), "{shown}");
        assert_eq!(
            quoted_path(std::path::Path::new("/plugins/trend.wasm")),
            "\"/plugins/trend.wasm\""
        );
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        let long = "é".repeat(5_000_000);
        let cut = sanitise(&long, MAX_ERROR_BYTES);
        assert!(cut.len() <= MAX_ERROR_BYTES + 40, "{}", cut.len());
        assert!(cut.ends_with("more bytes cut)"), "{cut}");
        assert!(
            cut.contains(&format!("({} more bytes cut)", long.len() - 1024)),
            "{}",
            &cut[1000..]
        );
        let quoted = quote(&"\n".repeat(1000));
        assert!(quoted.len() < 200 && !quoted.contains('\n'), "{quoted}");
    }
}
