//! One open connection: subscriptions sent in batches at the exchange's pace (refusals asked
//! again, requests left unanswered sent again), heartbeats, each message read into the book,
//! silence noticed, and the replacement of the connection before the exchange's maximum age
//! or when it says it will close it (`session/rotation.rs`).

mod rotation;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::warn;

use self::rotation::{next_of, opening, Opening, Successor, SUCCESSOR_TIMEOUT};
use super::{Command, Shared, Socket, Topic, Topics};
use crate::shared::stream_health::GapReason;
use crate::source::stream::book::{Book, StreamedCandle};
use crate::source::stream::wire::{Event, Limits};

/// How far ahead of this machine's clock an exchange's send time may be.
const MAX_CLOCK_SKEW_MS: i64 = 5_000;

/// The most messages taken in together.
const MAX_BATCH: usize = 256;

/// Attempts at a refused subscription before it is given up (and logged).
const MAX_REFUSALS: u32 = 5;

/// How long a request may wait for its answer before it is sent again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How a session ended.
pub(super) enum Ended {
    /// Its handle was dropped: the source is gone.
    Dropped,
    /// The connection was lost for `reason`, after `lived`.
    Lost(GapReason, Duration),
}

/// A subscription request waiting for its turn, or for its answer.
#[derive(Debug, Clone)]
struct Request {
    /// Subscribe, else unsubscribe.
    subscribe: bool,
    /// Its topics.
    topics: Vec<Topic>,
    /// Refusals so far.
    refusals: u32,
    /// For the successor, else for the connection in use.
    successor: bool,
    /// When it was sent.
    sent: Option<Instant>,
}

/// What one message brought.
#[derive(Default)]
struct Taken {
    /// The exchange says it will close the connection.
    closing: bool,
    /// Market data (a ticker or a candle).
    data: bool,
}

/// One open connection, and its successor while it is being replaced.
pub(super) struct Session<'a> {
    index: usize,
    shared: &'a Shared,
    socket: Socket,
    limits: Limits,
    /// Requests to send, at the exchange's pace.
    outbox: VecDeque<Request>,
    /// Requests sent, by id, until answered.
    unanswered: HashMap<u64, Request>,
    /// The next request's id.
    next_id: u64,
    /// When the connection in use last sent anything.
    last_message: Instant,
    /// Whether its silence has been probed with a heartbeat.
    probed: bool,
    /// When the connection in use opened.
    opened: Instant,
    /// When it is to be replaced, if ever.
    rotate_at: Option<Instant>,
    /// The replacement being opened.
    opening: Option<Opening>,
    /// The replacement open and being subscribed.
    successor: Option<Successor>,
    /// Messages read together (kept to reuse its allocation).
    batch: Vec<Message>,
}

impl<'a> Session<'a> {
    /// A session on `socket`, subscribing `topics`.
    pub(super) fn new(index: usize, shared: &'a Shared, socket: Socket, topics: &Topics) -> Self {
        shared.book.lock().expect("no panic holds it").connected(index);
        let now = Instant::now();
        let mut session = Self {
            index,
            shared,
            socket,
            limits: shared.wire.limits(),
            outbox: VecDeque::new(),
            unanswered: HashMap::new(),
            next_id: 1,
            last_message: now,
            probed: false,
            opened: now,
            rotate_at: shared.rotate_after.map(|after| now + after),
            opening: None,
            successor: None,
            batch: Vec::new(),
        };
        session.queue(true, topics.values().cloned().collect(), false);
        session
    }

    /// Queues `topics` in batches the exchange allows, for the successor or the connection in
    /// use.
    fn queue(&mut self, subscribe: bool, topics: Vec<Topic>, successor: bool) {
        for batch in topics.chunks(self.limits.topics_per_request.max(1)) {
            self.outbox.push_back(Request {
                subscribe,
                topics: batch.to_vec(),
                refusals: 0,
                successor,
                sent: None,
            });
        }
    }

    /// Reads, writes and keeps the connection alive until it is lost or the handle dropped.
    pub(super) async fn run(&mut self, commands: &mut UnboundedReceiver<Command>, topics: &mut Topics) -> Ended {
        let per_second = f64::from(self.limits.requests_per_second.max(1));
        let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(self.limits.heartbeat);
        heartbeat.tick().await;
        let (probe_after, silent_after) = silence(self.limits);
        loop {
            let lived = self.opened.elapsed();
            let quiet_until = self.last_message + if self.probed { silent_after } else { probe_after };
            // Past it a replacement starts, or the one being subscribed is given up.
            let rotation = match &self.successor {
                Some(successor) => Some(successor.opened + SUCCESSOR_TIMEOUT),
                None => self.rotate_at.filter(|_| self.opening.is_none()),
            };
            tokio::select! {
                message = self.socket.next() => match message {
                    None | Some(Err(_) | Ok(Message::Close(_))) => return Ended::Lost(GapReason::Disconnect, lived),
                    Some(Ok(message)) => {
                        if self.take_ready(message) {
                            return Ended::Lost(GapReason::Disconnect, lived);
                        }
                    }
                },
                message = next_of(&mut self.successor) => self.take_from_successor(message, topics),
                opened = opening(&mut self.opening) => {
                    self.opening = None;
                    self.opened_successor(opened, topics);
                }
                command = commands.recv() => match command {
                    None => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(None)).await;
                        return Ended::Dropped;
                    }
                    Some(Command::Subscribe(add)) => {
                        topics.extend(add.iter().map(|t| (t.name.clone(), t.clone())));
                        self.queue_for_both(true, add);
                    }
                    Some(Command::Unsubscribe(remove)) => {
                        remove.iter().for_each(|t| { topics.remove(&t.name); });
                        self.queue_for_both(false, remove);
                    }
                },
                _ = pace.tick(), if !self.outbox.is_empty() => {
                    if self.send_next().await.is_err() {
                        return Ended::Lost(GapReason::Disconnect, lived);
                    }
                }
                _ = heartbeat.tick() => {
                    self.send_again_unanswered();
                    if self.ping().await.is_err() {
                        return Ended::Lost(GapReason::Disconnect, lived);
                    }
                }
                () = sleep_until(Some(quiet_until)) => {
                    if self.probed {
                        warn!(source = self.shared.source, connection = self.index,
                            "the stream sent nothing for {:.1} s: opening it again", silent_after.as_secs_f64());
                        return Ended::Lost(GapReason::Silence, lived);
                    }
                    self.probed = true;
                    if self.ping().await.is_err() {
                        return Ended::Lost(GapReason::Disconnect, lived);
                    }
                }
                () = sleep_until(rotation) => self.rotation_due(),
            }
        }
    }

    /// Takes in `first` with whatever else has arrived on the connection in use, under one
    /// lock and one wake; true when the connection closed meanwhile.
    fn take_ready(&mut self, first: Message) -> bool {
        let mut batch = std::mem::take(&mut self.batch);
        batch.push(first);
        let mut lost = false;
        while batch.len() < MAX_BATCH {
            match self.socket.next().now_or_never() {
                Some(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                    lost = true;
                    break;
                }
                Some(Some(Ok(message))) => batch.push(message),
                None => break,
            }
        }
        self.last_message = Instant::now();
        self.probed = false;
        if self.take(&mut batch).closing {
            // Replaced now, without waiting for the close.
            self.rotate_at = Some(Instant::now());
        }
        self.batch = batch;
        lost
    }

    /// Sends the next queued request.
    async fn send_next(&mut self) -> Result<(), tungstenite::Error> {
        let Some(mut request) = self.outbox.pop_front() else {
            return Ok(());
        };
        let id = self.next_id;
        self.next_id += 1;
        let names: Vec<String> = request.topics.iter().map(|t| t.name.clone()).collect();
        let text = self.shared.wire.request(request.subscribe, &names, id);
        let socket = match (&mut self.successor, request.successor) {
            (Some(successor), true) => &mut successor.socket,
            (None, true) => return Ok(()),
            (_, false) => &mut self.socket,
        };
        request.sent = Some(Instant::now());
        self.unanswered.insert(id, request);
        socket.send(Message::text(text)).await
    }

    /// Queues again the requests left unanswered for [`ANSWER_TIMEOUT`].
    fn send_again_unanswered(&mut self) {
        let late: Vec<u64> = self
            .unanswered
            .iter()
            .filter(|(_, r)| r.sent.is_some_and(|at| at.elapsed() >= ANSWER_TIMEOUT))
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            let request = self.unanswered.remove(&id).expect("listed above");
            self.outbox.push_back(request);
        }
    }

    /// Sends a heartbeat on the connection in use: the exchange's message, or a ping frame.
    async fn ping(&mut self) -> Result<(), tungstenite::Error> {
        let message = match self.shared.wire.ping() {
            Some(text) => Message::text(text),
            None => Message::Ping(Vec::new().into()),
        };
        self.socket.send(message).await
    }

    /// Takes in `messages` of either connection (emptied): each read into events, then every
    /// event into the book under one lock.
    fn take(&mut self, messages: &mut Vec<Message>) -> Taken {
        // Events borrow their symbols from the messages, dropped once the book has them.
        let mut events = Vec::with_capacity(messages.len());
        let (mut texts, mut malformed, mut binary) = (0, 0, 0);
        for message in messages.iter() {
            match message {
                Message::Text(text) => {
                    texts += 1;
                    malformed += u64::from(self.shared.wire.read(text.as_str(), &mut events).is_err());
                }
                Message::Binary(_) => binary += 1,
                // Pings are answered by the socket; pongs and frames say only that it is alive.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {}
            }
        }
        let mut taken = Taken::default();
        let mut book = self.shared.book.lock().expect("no panic holds it");
        book.counts.messages += texts;
        for (reason, n) in [("not a documented message", malformed), ("binary message", binary)] {
            if n > 0 {
                *book.counts.rejected.entry(reason).or_default() += n;
            }
        }
        // A send time ahead of this clock by more than a skew would pin a symbol as fresh.
        let now_ms = crate::shared::clock::now_ms();
        let latest_ms = now_ms + MAX_CLOCK_SKEW_MS;
        for event in events {
            if let Event::Ticker { sent_ms, .. } | Event::Kline { sent_ms, .. } = &event {
                book.lag_ms = book.lag_ms.max(now_ms - sent_ms);
            }
            match event {
                Event::Ticker { sent_ms, .. } | Event::Kline { sent_ms, .. } if sent_ms > latest_ms => {
                    book.rejected("sent in the future");
                }
                Event::Answer { id, refused } => self.answered(&mut book, id, refused),
                Event::Pong => {}
                Event::Ticker {
                    symbol,
                    whole,
                    fields,
                    sent_ms,
                } => {
                    taken.data = true;
                    book.ticker(self.index, &symbol, whole, &fields, sent_ms);
                }
                Event::Kline {
                    symbol,
                    timeframe,
                    candle,
                    closed,
                    sent_ms,
                } => {
                    taken.data = true;
                    let candle = StreamedCandle {
                        symbol: symbol.into_owned(),
                        timeframe,
                        candle,
                        closed,
                    };
                    book.candle(self.index, candle, sent_ms);
                }
                Event::Closing => taken.closing = true,
            }
        }
        drop(book);
        messages.clear();
        taken
    }

    /// Takes in the answer to request `id`: its ticker topics are subscribed, or it is queued
    /// again (given up after [`MAX_REFUSALS`]).
    fn answered(&mut self, book: &mut Book, id: u64, refused: Option<String>) {
        let Some(mut request) = self.unanswered.remove(&id) else {
            book.rejected("answer to no request");
            return;
        };
        match refused {
            None if request.subscribe => {
                let symbols: Vec<String> = request
                    .topics
                    .iter()
                    .filter(|t| t.ticker)
                    .map(|t| t.symbol.clone())
                    .collect();
                book.subscribed(self.index, &symbols, Instant::now());
            }
            None => {}
            Some(reason) => {
                book.rejected("subscription refused");
                request.refusals += 1;
                if request.refusals < MAX_REFUSALS {
                    request.sent = None;
                    self.outbox.push_back(request);
                } else {
                    warn!(
                        source = self.shared.source,
                        connection = self.index,
                        "the exchange refused {} topics {MAX_REFUSALS} times ({reason}); given up until the connection opens again",
                        request.topics.len()
                    );
                }
            }
        }
    }
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// After how long a silence a heartbeat probes the connection, and after how long one is
/// lost: two push intervals and four, at least 1 s and 2 s (Bybit 1 s and 2 s, Binance 2 s
/// and 4 s), so a quiet connection is probed at most once a second. A quiet market keeps a
/// connection alive through the probe's answer.
fn silence(limits: Limits) -> (Duration, Duration) {
    let push = limits.push_interval;
    (
        (push * 2).max(Duration::from_secs(1)),
        (push * 4).max(Duration::from_secs(2)),
    )
}
