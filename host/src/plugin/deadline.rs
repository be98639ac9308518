//! Every call into a plugin ends by its deadline, even one stuck in a blocking host call (a
//! plugin sleeping through WASI's clocks), which epoch interruption cannot stop: the caller
//! waits at most the deadline plus a grace, then abandons the call, which finishes on its own
//! thread. The cycle's calls run on tokio's blocking pool; staging calls, on the reload
//! thread, on a thread of their own.

use std::future::Future;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::failure::CallError;
use crate::shared::call::Failure;

/// How long past its deadline a call stuck in a blocking host call (which epoch interruption
/// cannot stop) is waited for, in cycles and while staging alike.
pub const BLOCKED_CALL_GRACE: Duration = Duration::from_millis(100);

/// How long a caller waits for a call with `deadline`.
fn give_up(deadline: Duration) -> Duration {
    deadline + BLOCKED_CALL_GRACE
}

/// The failure of a call that was abandoned after `waited`.
fn abandoned(waited: Duration) -> CallError {
    CallError::new(
        Failure::Timeout,
        format!("exceeded its call deadline inside a blocking host call; abandoned after {waited:?}"),
    )
}

/// The failure of a call whose host thread panicked.
fn panicked(detail: impl std::fmt::Display) -> CallError {
    CallError::new(Failure::Error, format!("plugin call panicked in the host: {detail}"))
}

/// Runs `call` on a thread of its own and waits for it at most `deadline` plus the grace.
pub fn call_on_thread<R: Send + 'static>(
    deadline: Duration,
    call: impl FnOnce() -> Result<R, CallError> + Send + 'static,
) -> Result<R, CallError> {
    let waited = give_up(deadline);
    let (done, result) = sync_channel(1);
    std::thread::Builder::new()
        .name("pulse-staging".into())
        .spawn(move || {
            let _ = done.send(call());
        })
        .map_err(|e| CallError::new(Failure::Error, format!("cannot start a staging thread: {e}")))?;
    match result.recv_timeout(waited) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(abandoned(waited)),
        Err(RecvTimeoutError::Disconnected) => Err(panicked("the staging thread ended without an answer")),
    }
}

/// Starts `call` on tokio's blocking pool at once (sync WASI must not run on a tokio worker);
/// the future yields how long the call took and its result, at most `deadline` plus the grace
/// after this function was called.
pub fn call_on_pool<R: Send + 'static>(
    deadline: Duration,
    call: impl FnOnce() -> Result<R, CallError> + Send + 'static,
) -> impl Future<Output = (Duration, Result<R, CallError>)> {
    let started = Instant::now();
    let waited = give_up(deadline);
    let task = tokio::task::spawn_blocking(move || {
        let result = call();
        (started.elapsed(), result)
    });
    // Created here, not in the async block, so the clock starts with the call.
    let task = tokio::time::timeout(waited, task);
    async move {
        match task.await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => (started.elapsed(), Err(panicked(e))),
            Err(_) => (started.elapsed(), Err(abandoned(waited))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_millis(20);

    fn sleeps(time: Duration) -> impl FnOnce() -> Result<u8, CallError> + Send + 'static {
        move || {
            std::thread::sleep(time);
            Ok(7)
        }
    }

    #[test]
    fn a_thread_call_in_time_answers_and_a_stuck_one_is_abandoned_at_its_grace() {
        assert_eq!(call_on_thread(DEADLINE, sleeps(Duration::ZERO)).unwrap(), 7);
        let started = Instant::now();
        let stuck = call_on_thread(DEADLINE, sleeps(Duration::from_millis(400))).unwrap_err();
        assert_eq!(stuck.failure, Failure::Timeout);
        assert!(stuck.to_string().contains("abandoned after 120ms"), "{stuck}");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
        let failed = call_on_thread(DEADLINE, || Err::<u8, _>(CallError::new(Failure::Trap, "boom"))).unwrap_err();
        assert_eq!(failed.failure, Failure::Trap);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_pool_call_is_timed_and_a_stuck_one_is_abandoned_at_its_grace() {
        let (took, result) = call_on_pool(DEADLINE, sleeps(Duration::from_millis(5))).await;
        assert_eq!(result.unwrap(), 7);
        assert!(took >= Duration::from_millis(5), "{took:?}");
        let (took, result) = call_on_pool(DEADLINE, sleeps(Duration::from_millis(400))).await;
        assert_eq!(result.unwrap_err().failure, Failure::Timeout);
        assert!(
            took >= give_up(DEADLINE) && took < Duration::from_millis(400),
            "{took:?}"
        );
        // A deadline the panic surely meets on a loaded machine: what is tested is its wording.
        let roomy = Duration::from_secs(30);
        let (_, result) = call_on_pool(roomy, || -> Result<u8, CallError> { panic!("host bug") }).await;
        assert!(result.unwrap_err().to_string().contains("panicked in the host"));
    }
}
