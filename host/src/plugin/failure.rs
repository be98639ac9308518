//! A failed plugin call: its kind, decided where the failure happens, and a reason that is
//! safe to keep and to log.

use std::fmt;

use wasmtime::Trap;

use crate::shared::call::Failure;
use crate::shared::text::{sanitise, MAX_ERROR_BYTES};

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
    /// store's limiter refused to grow memory in this call; `fuel` is the call's lift bound and
    /// its instruction budget, if it has one;
    /// `stderr_tail` is the end of what the plugin wrote to stderr, quoted in a trap's reason
    /// because a panic's message is there.
    pub fn from_wasmtime(
        error: &wasmtime::Error,
        memory_capped: bool,
        (fuel, budget): (usize, Option<u64>),
        stderr_tail: Option<&str>,
    ) -> Self {
        let detail = format!("{error:#}");
        let said = stderr_tail.map_or_else(String::new, |tail| format!("; its stderr ended with: {tail}"));
        if memory_capped {
            return Self::new(Failure::MemoryCap, format!("exceeded its memory cap: {detail}"));
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Self::new(Failure::Timeout, format!("exceeded its call deadline: {detail}")),
            Some(Trap::OutOfFuel) => Self::new(
                Failure::InstructionBudget,
                format!(
                    "executed more than its budget of {} instructions: {detail}",
                    budget.map_or_else(|| "all its".to_string(), |b| b.to_string())
                ),
            ),
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
            CallError::from_wasmtime(&deadline, false, (0, None), None).failure,
            Failure::Timeout
        );
        let abort = wasmtime::Error::from(Trap::UnreachableCodeReached);
        let panicked = CallError::from_wasmtime(&abort, false, (0, None), Some("panicked at x.rs:1:1: | boom"));
        assert_eq!(panicked.failure, Failure::Trap);
        assert!(panicked
            .to_string()
            .contains("its stderr ended with: panicked at x.rs:1:1: | boom"));
        assert_eq!(
            CallError::from_wasmtime(&abort, true, (0, None), None).failure,
            Failure::MemoryCap
        );
        let random = wasmtime::Error::msg("requested len 67108864 exceeds limit 1048576");
        assert_eq!(
            CallError::from_wasmtime(&random, false, (0, None), None).failure,
            Failure::HostLimit
        );
        let budget = CallError::from_wasmtime(&wasmtime::Error::from(Trap::OutOfFuel), false, (0, Some(1000)), None);
        assert_eq!(budget.failure, Failure::InstructionBudget);
        assert!(
            budget
                .to_string()
                .starts_with("executed more than its budget of 1000 instructions"),
            "{budget}"
        );
        let labels: std::collections::BTreeSet<_> = Failure::ALL.iter().map(|f| f.label()).collect();
        assert_eq!(labels.len(), Failure::ALL.len());
    }
}
