//! systemd integration for `Type=notify` units (examples/deploy/pulse.service): readiness once
//! the plugins are loaded, watchdog pings while cycles run, and a stopping notice. Without
//! systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::sync::Arc;
use std::time::Instant;

use sd_notify::NotifyState;

use super::Telemetry;

/// Tells systemd the daemon is ready and, if the unit sets `WatchdogSec=`, pings the watchdog
/// at half that period while cycles run, so systemd restarts a daemon whose cycles stopped.
/// A memcached outage does not stop the pings: restarting Pulse would not fix memcached.
pub fn ready(telemetry: Arc<Telemetry>) {
    notify(&[NotifyState::Ready]);
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period / 2);
        loop {
            ticks.tick().await;
            if telemetry.cycles_running(Instant::now()) {
                notify(&[NotifyState::Watchdog]);
            }
        }
    });
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!("cannot notify systemd: {e}");
    }
}
