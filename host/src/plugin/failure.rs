//! How a plugin call failed: a typed kind, decided where the failure happens, and a reason
//! that is safe to keep and to log.

use std::fmt;

use wasmtime::Trap;

use super::text::{sanitise, MAX_ERROR_BYTES};

/// How a plugin call failed, for the per-kind counters operators alert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// Stopped at its deadline (epoch interruption, or abandoned in a blocking host call).
    Timeout,
    /// Trapped: a panic, an abort or another WebAssembly trap.
    Trap,
    /// Tried to grow its linear memory past its cap.
    MemoryCap,
    /// Handed the host more than a bound allows: too many bytes, entries, names or values.
    OverLimit,
    /// Asked the host for more than a per-call bound on host resources (WASI handles, random
    /// bytes, output).
    HostLimit,
    /// Returned an error, or output that breaks the contract (e.g. misaligned verdicts).
    Error,
}

impl Failure {
    /// Every kind, in the order metrics and status list them.
    pub const ALL: [Failure; 6] = [
        Failure::Timeout,
        Failure::Trap,
        Failure::MemoryCap,
        Failure::OverLimit,
        Failure::HostLimit,
        Failure::Error,
    ];

    /// The kind's name in metrics labels and `pulse:status`.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Trap => "trap",
            Failure::MemoryCap => "memory_cap",
            Failure::OverLimit => "over_limit",
            Failure::HostLimit => "host_limit",
            Failure::Error => "error",
        }
    }
}

/// A failed plugin call: its kind and a bounded, escaped reason.
#[derive(Debug, Clone)]
pub struct CallError {
    /// How it failed.
    pub failure: Failure,
    reason: String,
}

impl CallError {
    /// A failure of `kind`; `reason` is cut and escaped here, whatever its source.
    pub fn new(failure: Failure, reason: impl AsRef<str>) -> Self {
        Self {
            failure,
            reason: sanitise(reason.as_ref(), MAX_ERROR_BYTES),
        }
    }

    /// The call handed back more than a bound allows.
    pub fn over_limit(reason: impl AsRef<str>) -> Self {
        Self::new(Failure::OverLimit, reason)
    }

    /// The plugin returned an error (its own text, bounded) from `what`.
    pub fn returned(what: &str, message: &str) -> Self {
        Self::new(
            Failure::Error,
            format!("{what} failed: {}", sanitise(message, MAX_ERROR_BYTES)),
        )
    }

    /// Classifies an error wasmtime raised during a call. `memory_capped` says whether the
    /// store's limiter refused to grow memory in this call; `fuel` is the call's lift bound;
    /// `stderr_tail` is the end of what the plugin wrote to stderr, quoted in a trap's reason
    /// because a panic's message is there.
    pub fn from_wasmtime(error: &wasmtime::Error, memory_capped: bool, fuel: usize, stderr_tail: Option<&str>) -> Self {
        let detail = format!("{error:#}");
        let said = stderr_tail.map_or_else(String::new, |tail| format!("; its stderr ended with: {tail}"));
        if memory_capped {
            return Self::new(Failure::MemoryCap, format!("exceeded its memory cap: {detail}"));
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Self::new(Failure::Timeout, format!("exceeded its call deadline: {detail}")),
            Some(Trap::UnreachableCodeReached) => Self::new(
                Failure::Trap,
                format!("trapped: unreachable (a panic or abort in the plugin{said}): {detail}"),
            ),
            Some(_) => Self::new(Failure::Trap, format!("trapped{said}: {detail}")),
            None if error
                .downcast_ref::<wasmtime::component::ResourceTableError>()
                .is_some() =>
            {
                Self::new(Failure::HostLimit, format!("used too many WASI handles: {detail}"))
            }
            // wasmtime-wasi refuses an oversized random request with a plain message; the
            // sandbox test fails if an upgrade changes it.
            None if detail.contains("requested len") && detail.contains("exceeds limit") => Self::new(
                Failure::HostLimit,
                format!("asked WASI for more random bytes than one request may have: {detail}"),
            ),
            // wasmtime's type for an exhausted lift bound is private; its message is the only
            // sign, and the sandbox test fails if a wasmtime upgrade changes it.
            None if detail.contains("fuel allocated for hostcalls has been exhausted") => Self::over_limit(format!(
                "handed the host more than {fuel} bytes in one call (results, log message or output)"
            )),
            None => Self::new(Failure::Trap, format!("{detail}{said}")),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded_and_escaped_whatever_the_plugin_returned() {
        let e = CallError::returned("analyze", &format!("boom\nFAKE LINE{}", "x".repeat(10 << 20)));
        let text = e.to_string();
        assert_eq!(e.failure, Failure::Error);
        assert!(
            text.len() < 2 * MAX_ERROR_BYTES && !text.contains('\n'),
            "{}",
            text.len()
        );
        assert!(text.starts_with("analyze failed: boom\\nFAKE LINE"), "{text}");
    }

    #[test]
    fn traps_are_told_apart() {
        let deadline = wasmtime::Error::from(Trap::Interrupt);
        assert_eq!(
            CallError::from_wasmtime(&deadline, false, 0, None).failure,
            Failure::Timeout
        );
        let abort = wasmtime::Error::from(Trap::UnreachableCodeReached);
        let panicked = CallError::from_wasmtime(&abort, false, 0, Some("panicked at x.rs:1:1: | boom"));
        assert_eq!(panicked.failure, Failure::Trap);
        assert!(panicked
            .to_string()
            .contains("its stderr ended with: panicked at x.rs:1:1: | boom"));
        assert_eq!(
            CallError::from_wasmtime(&abort, true, 0, None).failure,
            Failure::MemoryCap
        );
        let random = wasmtime::Error::msg("requested len 67108864 exceeds limit 1048576");
        assert_eq!(
            CallError::from_wasmtime(&random, false, 0, None).failure,
            Failure::HostLimit
        );
        let labels: std::collections::BTreeSet<_> = Failure::ALL.iter().map(|f| f.label()).collect();
        assert_eq!(labels.len(), Failure::ALL.len());
    }
}
