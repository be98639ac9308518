//! systemd integration for `Type=notify` units (examples/deploy/pulse.service): readiness once
//! the plugins are loaded, watchdog pings while cycles run, and a stopping notice. Without
//! systemd (`NOTIFY_SOCKET` unset) every call does nothing.
//!
//! The notify socket is opened at start ([`open_socket`], before the status server takes
//! connections) and kept: a ping then needs no new descriptor, so a daemon whose descriptors run
//! short (a flood of connections) still pings while its cycles run, and systemd does not kill
//! it for it. A socket that could not be opened is tried again at the next notice.

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sd_notify::NotifyState;

use super::Telemetry;

/// The socket to systemd, once opened.
static SOCKET: Mutex<Option<UnixDatagram>> = Mutex::new(None);

/// Opens the notify socket now, if systemd gave one and it is not open yet, so later notices
/// need no new descriptor.
pub fn open_socket() {
    let mut socket = SOCKET.lock().unwrap_or_else(|e| e.into_inner());
    if socket.is_none() {
        *socket = open();
    }
}

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

fn notify(states: &[NotifyState]) {
    open_socket();
    let socket = SOCKET.lock().unwrap_or_else(|e| e.into_inner());
    let Some(socket) = socket.as_ref() else {
        return;
    };
    let message: String = states.iter().map(|state| format!("{state}\n")).collect();
    if let Err(e) = socket.send(message.as_bytes()) {
        tracing::debug!("cannot notify systemd: {e}");
    }
}

/// The socket `NOTIFY_SOCKET` names (a path, or an abstract name after `@`), connected.
fn open() -> Option<UnixDatagram> {
    let path = std::env::var_os("NOTIFY_SOCKET")?;
    let connected = UnixDatagram::unbound().and_then(|socket| {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        match path.as_bytes().strip_prefix(b"@") {
            Some(name) => socket.connect_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)?,
            None => socket.connect(&path)?,
        }
        // Sent from async tasks: a full queue (a manager that does not read) drops the notice
        // instead of blocking a runtime thread.
        socket.set_nonblocking(true)?;
        Ok(socket)
    });
    match connected {
        Ok(socket) => Some(socket),
        Err(e) => {
            // Said once; tried again at each notice.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!("cannot open systemd's notify socket {path:?}: {e}; trying again at each notice");
            }
            None
        }
    }
}
