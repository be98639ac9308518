//! The replacement of a session's connection, make-before-break: a successor opened beside it,
//! subscribed to every topic, takes over once every request of its is answered and it has
//! delivered data; the old connection is closed then.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{info, warn};

use super::super::{open, Socket, Topic, Topics};
use super::Session;

/// How long a successor may take to be subscribed and deliver before it is given up (and the
/// replacement tried again after as long again).
pub(super) const SUCCESSOR_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection that replaces the one in use.
pub(super) struct Successor {
    /// The new connection.
    pub(super) socket: Socket,
    /// When it opened.
    pub(super) opened: Instant,
    /// Whether it has delivered data.
    pub(super) delivered: bool,
}

/// A successor being opened.
pub(super) type Opening = Pin<Box<dyn Future<Output = anyhow::Result<Socket>> + Send>>;

impl Session<'_> {
    /// Queues a change of topics for the connection in use and, while one is being subscribed,
    /// for the successor.
    pub(super) fn queue_for_both(&mut self, subscribe: bool, topics: Vec<Topic>) {
        if self.successor.is_some() {
            self.queue(subscribe, topics.clone(), true);
        }
        self.queue(subscribe, topics, false);
    }

    /// Starts opening a successor, or gives up the one that did not get ready in time (and
    /// tries again as long after).
    pub(super) fn rotation_due(&mut self) {
        if self.successor.take().is_some() {
            warn!(
                source = self.shared.source,
                connection = self.index,
                "the replacement connection was not subscribed within {} s; trying again later",
                SUCCESSOR_TIMEOUT.as_secs()
            );
            self.outbox.retain(|r| !r.successor);
            self.unanswered.retain(|_, r| !r.successor);
            self.rotate_at = Some(Instant::now() + SUCCESSOR_TIMEOUT);
            return;
        }
        let shared = self.shared.clone();
        self.opening = Some(Box::pin(async move { open(&shared).await }));
    }

    /// Takes the successor that opened, subscribing it to every topic; one that failed to open
    /// is tried again later.
    pub(super) fn opened_successor(&mut self, opened: anyhow::Result<Socket>, topics: &Topics) {
        match opened {
            Ok(socket) => {
                self.successor = Some(Successor {
                    socket,
                    opened: Instant::now(),
                    delivered: false,
                });
                self.queue(true, topics.values().cloned().collect(), true);
            }
            Err(e) => {
                warn!(
                    source = self.shared.source,
                    connection = self.index,
                    "cannot open the replacement connection: {e:#}"
                );
                self.rotate_at = Some(Instant::now() + SUCCESSOR_TIMEOUT);
            }
        }
    }

    /// Takes in a message of the successor; it takes over once every request of its is
    /// answered and it has delivered data. A successor that closes is given up.
    pub(super) fn take_from_successor(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
        topics: &Topics,
    ) {
        let message = match message {
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                self.successor = None;
                self.outbox.retain(|r| !r.successor);
                self.unanswered.retain(|_, r| !r.successor);
                self.rotate_at = Some(Instant::now() + SUCCESSOR_TIMEOUT);
                return;
            }
            Some(Ok(message)) => message,
        };
        let data = self.take(&mut vec![message]).data;
        let waiting = self.outbox.iter().chain(self.unanswered.values()).any(|r| r.successor);
        let Some(successor) = &mut self.successor else {
            return;
        };
        successor.delivered |= data;
        if !successor.delivered || waiting {
            return;
        }
        let Successor { socket, opened, .. } = self.successor.take().expect("matched above");
        let mut old = std::mem::replace(&mut self.socket, socket);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), old.close(None)).await;
        });
        let lived = opened.duration_since(self.opened);
        self.opened = opened;
        self.last_message = Instant::now();
        self.probed = false;
        self.rotate_at = self.shared.rotate_after.map(|after| opened + after);
        self.shared.book.lock().expect("no panic holds it").counts.rotations += 1;
        info!(
            source = self.shared.source,
            connection = self.index,
            topics = topics.len(),
            "stream connection replaced after {:.1} s, its successor subscribed and delivering",
            lived.as_secs_f64()
        );
    }
}

/// The successor's next message; pending while there is none.
pub(super) async fn next_of(successor: &mut Option<Successor>) -> Option<Result<Message, tungstenite::Error>> {
    match successor {
        Some(successor) => successor.socket.next().await,
        None => std::future::pending().await,
    }
}

/// The successor being opened, once it has; pending while none is.
pub(super) async fn opening(opening: &mut Option<Opening>) -> anyhow::Result<Socket> {
    match opening {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
