//! One WebSocket connection of a streaming source, as a task: it opens (within the exchange's
//! connection rate), runs a session on it (`connection/session.rs`), and opens again with a
//! jittered backoff when the connection is lost. Its topics change by [`Command`]s; dropping
//! its [`Connection`] handle ends it, whatever it is waiting for.

mod session;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{info, warn};

use self::session::{Ended, Session};
use super::book::Book;
use super::gate::ConnectGate;
use super::wire::Wire;
use crate::shared::flaps::{Flaps, LINES_PER_MINUTE};
use crate::shared::stream_health::GapReason;

/// The largest message or frame read: the largest real one (a whole ticker, a kline, an
/// answer) is under 2 KB.
pub(super) const MAX_MESSAGE_BYTES: usize = 64 << 10;

/// How long a connection may take to open.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait before opening again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A topic a connection holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Topic {
    /// As the exchange names it.
    pub name: String,
    /// The symbol it is of.
    pub symbol: String,
    /// Whether it is the symbol's ticker (else its candles).
    pub ticker: bool,
}

/// What a connection is told to do.
#[derive(Debug)]
pub(super) enum Command {
    /// Hold these topics too.
    Subscribe(Vec<Topic>),
    /// Hold these no more.
    Unsubscribe(Vec<Topic>),
}

/// The handle of a connection task; dropping it ends the task.
pub(super) struct Connection {
    /// Where its commands go.
    commands: UnboundedSender<Command>,
}

impl Connection {
    /// Tells the connection `command`.
    pub(super) fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }
}

/// What the task shares with every other connection of its source.
#[derive(Clone)]
pub(super) struct Shared {
    /// The endpoint.
    pub url: String,
    /// How the exchange's messages read.
    pub wire: Arc<dyn Wire>,
    /// Where messages go.
    pub book: Arc<Mutex<Book>>,
    /// Connections opened within the exchange's rate.
    pub gate: Arc<ConnectGate>,
    /// After how long a connection is replaced (before the exchange's maximum age), if ever.
    pub rotate_after: Option<Duration>,
    /// The source's name, for log lines.
    pub source: &'static str,
}

/// Starts connection `index`, holding no topic yet.
pub(super) fn spawn(index: usize, shared: Shared) -> Connection {
    let (commands, received) = mpsc::unbounded_channel();
    tokio::spawn(run(index, shared, received));
    Connection { commands }
}

/// The socket.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The topics a connection holds, by name, kept across its sessions.
type Topics = BTreeMap<String, Topic>;

/// Opens, runs and opens again until the handle is dropped.
async fn run(index: usize, shared: Shared, mut commands: UnboundedReceiver<Command>) {
    let mut topics = Topics::new();
    let mut failures = 0u32;
    // A connection that keeps failing says so a few times a minute, then sums up.
    let mut flaps = Flaps::default();
    loop {
        let Some(opened) = meanwhile(open(&shared), &mut commands, &mut topics).await else {
            return;
        };
        let ended = match opened {
            Ok(socket) => {
                Session::new(index, &shared, socket, &topics)
                    .run(&mut commands, &mut topics)
                    .await
            }
            Err(e) => {
                if flaps.admit("failed to open", Instant::now()) {
                    warn!(
                        source = shared.source,
                        connection = index,
                        "cannot open the stream: {e:#}"
                    );
                }
                Ended::Lost(GapReason::Disconnect, Duration::ZERO)
            }
        };
        let Ended::Lost(reason, lived) = ended else {
            return;
        };
        {
            let mut book = shared.book.lock().expect("no panic holds it");
            book.lost(index, reason);
            book.counts.reconnects += u64::from(lived > Duration::ZERO);
        }
        // A connection that lived a while starts its backoff over.
        failures = if lived > MAX_BACKOFF * 2 { 1 } else { failures + 1 };
        if lived > Duration::ZERO && flaps.admit("lost", Instant::now()) {
            info!(
                source = shared.source,
                connection = index,
                reason = reason.label(),
                "stream connection lost after {:.1} s; opening again",
                lived.as_secs_f64()
            );
        }
        if let Some(held) = flaps.summary(Instant::now()) {
            warn!(
                source = shared.source,
                connection = index,
                "stream connection flapping: {held} more in the last minute, at most {LINES_PER_MINUTE} said a minute"
            );
        }
        if meanwhile(tokio::time::sleep(backoff(failures)), &mut commands, &mut topics)
            .await
            .is_none()
        {
            return;
        }
    }
}

/// Awaits `future`, taking commands meanwhile into `topics`; `None` once the handle is dropped.
async fn meanwhile<F: Future>(
    future: F,
    commands: &mut UnboundedReceiver<Command>,
    topics: &mut Topics,
) -> Option<F::Output> {
    tokio::pin!(future);
    loop {
        tokio::select! {
            output = &mut future => return Some(output),
            command = commands.recv() => match command {
                None => return None,
                Some(Command::Subscribe(add)) => topics.extend(add.into_iter().map(|t| (t.name.clone(), t))),
                Some(Command::Unsubscribe(remove)) => remove.iter().for_each(|t| { topics.remove(&t.name); }),
            },
        }
    }
}

/// A jittered, doubling wait after `failures` failures in a row: half to all of 0.5 s × 2^n,
/// at most [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_millis(500)
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(MAX_BACKOFF);
    base.mul_f64(rand::random_range(0.5..1.0))
}

/// Opens a connection to the endpoint once the rate allows, its messages and frames bounded.
async fn open(shared: &Shared) -> anyhow::Result<Socket> {
    shared.gate.wait().await;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .max_write_buffer_size(4 << 20);
    let url = &shared.url;
    let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
    let (socket, _) = tokio::time::timeout(OPEN_TIMEOUT, connecting)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no answer in {} s", OPEN_TIMEOUT.as_secs()))??;
    Ok(socket)
}
