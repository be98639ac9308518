//! A plugin call as the cycle makes it: started at once on the plugin pool with its version's
//! state, bounded by its deadline, and timed, so the round can start many and await them in
//! order. The state a call returns is kept only when the call is accepted: a call given up on
//! at its deadline, or one that failed, leaves its version's state as it was. Each call is a
//! span of the cycle's trace, from its start to its end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::join_all;

use super::spans;
use crate::plugin::{call_on_pool, take_instructions, CallError, LoadedPlugin, Stated};
use crate::shared::call::CallOutcome;
use crate::shared::clock::now_ms;

/// A call's timed outcome and its result.
type Finished<R> = (CallOutcome, Result<R, CallError>);

/// A finished call: the version called, its outcome and its result.
pub(super) type FinishedCall<R> = (Arc<LoadedPlugin>, Finished<R>);

/// A call of one version, running.
pub(super) struct RunningCall<R> {
    /// The version called.
    pub(super) plugin: Arc<LoadedPlugin>,
    /// Yields the call's outcome once it ends or its deadline passes.
    pub(super) call: Pin<Box<dyn Future<Output = Finished<R>> + Send>>,
}

/// Starts `call` on `plugin` at once with the plugin's state, bounded by the plugin's deadline
/// (`plugin::call_on_pool`); `symbols` is the size of the market it is handed, for its span.
pub(super) fn start<R: Send + 'static>(
    plugin: &Arc<LoadedPlugin>,
    symbols: usize,
    call: impl FnOnce(&LoadedPlugin, &[u8]) -> Result<Stated<R>, CallError> + Send + 'static,
) -> RunningCall<R> {
    let span = spans::call(plugin, symbols);
    let started_ms = now_ms();
    let caller = plugin.clone();
    let state = plugin.state();
    // The count is read on the call's own thread and travels with its result, so a call given
    // up on at its deadline brings none; only calls that succeed are counted.
    let task = call_on_pool(plugin.policy.call_timeout, move || {
        call(&caller, &state).map(|result| (result, take_instructions()))
    });
    let timed = plugin.clone();
    let call = async move {
        let (elapsed, counted) = task.await;
        let (result, instructions) = match counted {
            Ok((Stated { result, state }, instructions)) => {
                timed.keep_state(state);
                (Ok(result), instructions)
            }
            Err(e) => (Err(e), None),
        };
        let log_dropped = timed.take_log_dropped();
        let outcome = CallOutcome {
            log_dropped_lines: log_dropped.lines,
            log_dropped_bytes: log_dropped.bytes,
            instructions,
            started_ms,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            error: result.as_ref().err().map(ToString::to_string),
            failure: result.as_ref().err().map(|e| e.failure),
        };
        spans::call_done(&span, &outcome);
        (outcome, result)
    };
    RunningCall {
        plugin: plugin.clone(),
        call: Box::pin(call),
    }
}

/// Awaits calls that are already running, all at once (so each one's span ends when it
/// does), and hands them back in their order.
pub(super) async fn finish_in_order<R>(calls: Vec<RunningCall<R>>) -> Vec<FinishedCall<R>> {
    let (plugins, calls): (Vec<_>, Vec<_>) = calls.into_iter().map(|c| (c.plugin, c.call)).unzip();
    plugins.into_iter().zip(join_all(calls).await).collect()
}
