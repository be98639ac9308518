//! The status server's connections, bounded so no client can take the daemon's file
//! descriptors or keep `/healthz` from answering:
//! - at most [`Limits::max_connections`] at once, well below the process's open-file limit;
//! - one request per connection (no keep-alive), whose headers must arrive within
//!   [`HEADER_TIMEOUT`] and fit [`MAX_HEADER_BYTES`];
//! - when every slot is taken, a new connection sheds the oldest one that has not sent a whole
//!   request yet, else the oldest one whose response has taken over [`HEADER_TIMEOUT`] (a client
//!   that does not read): a flood of idle or slow connections never locks out a health check for
//!   more than that. If every one is younger and mid-request, the new one is closed at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a client has to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes a request's head may take (hyper's least buffer).
pub const MAX_HEADER_BYTES: usize = 8192;

/// How long a response may take to go out, so a client that never reads cannot hold a slot.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections the status server holds at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most connections open at once.
    pub max_connections: usize,
}

/// One open connection, as the accept loop sees it.
struct Slot {
    /// A number of its own, to find it again.
    id: u64,
    /// Whether a whole request has arrived (then it is shed only once it is slow).
    busy: Arc<AtomicBool>,
    /// When it was accepted.
    opened: Instant,
    /// Closes the connection when sent to.
    shed: oneshot::Sender<()>,
}

/// Accepts and serves connections on `listener` with `app`, within `limits`, for the life of the
/// runtime.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) {
    let slots: Arc<Mutex<Vec<Slot>>> = Arc::default();
    let mut next_id = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or memory for a moment: wait rather than spin.
                tracing::debug!("status server: cannot accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (shed_tx, shed_rx) = oneshot::channel();
        let busy = Arc::new(AtomicBool::new(false));
        {
            let mut slots = slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() >= limits.max_connections {
                // The oldest connection still waiting for its request goes, else the oldest slow
                // one; none: this one does.
                let idle = slots.iter().position(|slot| !slot.busy.load(Ordering::Relaxed));
                let slow = || slots.iter().position(|slot| slot.opened.elapsed() > HEADER_TIMEOUT);
                match idle.or_else(slow) {
                    Some(oldest) => {
                        let _ = slots.remove(oldest).shed.send(());
                    }
                    None => continue,
                }
            }
            next_id += 1;
            slots.push(Slot {
                id: next_id,
                opened: Instant::now(),
                busy: busy.clone(),
                shed: shed_tx,
            });
        }
        let (id, slots, app) = (next_id, slots.clone(), app.clone());
        tokio::spawn(async move {
            serve_one(stream, app, busy, shed_rx).await;
            slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|slot| slot.id != id);
        });
    }
}

/// Serves one request on `stream`, unless shed first.
async fn serve_one(stream: tokio::net::TcpStream, app: Router, busy: Arc<AtomicBool>, shed: oneshot::Receiver<()>) {
    // A whole request has arrived once hyper calls the service: from then on it is served.
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        busy.store(true, Ordering::Relaxed);
        // A router is always ready, so it is called without polling for readiness.
        tower_service::Service::call(&mut app.clone(), request)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = tokio::time::timeout(HEADER_TIMEOUT + RESPONSE_TIMEOUT, connection) => {}
        _ = shed => {}
    }
}
