//! One WebSocket connection of a streaming source, as a task: it opens (within the exchange's
//! connection rate), subscribes its topics in batches at the exchange's request pace, answers
//! and sends heartbeats, reads each message into the book, notices silence, and opens again
//! with a jittered backoff when the connection is lost (the exchange closing it at its maximum
//! age included). Its topics change by [`Command`]s; dropping its [`Connection`] handle ends
//! it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{info, warn};

use super::book::{Book, StreamedCandle};
use super::gate::ConnectGate;
use super::wire::{Event, Limits, Wire};
use crate::shared::stream_health::GapReason;

/// The largest message or frame read: the largest real one (a whole ticker, a kline, an
/// answer) is under 2 KB.
pub(super) const MAX_MESSAGE_BYTES: usize = 64 << 10;

/// How far ahead of this machine's clock an exchange's send time may be.
const MAX_CLOCK_SKEW_MS: i64 = 5_000;

/// How long a connection may take to open.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait before opening again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Attempts at a refused subscription before it is given up (and logged).
const MAX_REFUSALS: u32 = 5;

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
    /// The source's name, for log lines.
    pub source: &'static str,
}

/// Starts connection `index`, holding no topic yet.
pub(super) fn spawn(index: usize, shared: Shared) -> Connection {
    let (commands, received) = mpsc::unbounded_channel();
    tokio::spawn(run(index, shared, received));
    Connection { commands }
}

/// How a session ended.
enum Ended {
    /// Its handle was dropped: the source is gone.
    Dropped,
    /// The connection was lost for `reason`, after `lived`.
    Lost(GapReason, Duration),
}

/// The socket.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens, runs and opens again until the handle is dropped.
async fn run(index: usize, shared: Shared, mut commands: UnboundedReceiver<Command>) {
    let mut topics = BTreeMap::new();
    let mut failures = 0u32;
    loop {
        shared.gate.wait().await;
        let opened = Instant::now();
        let socket = match open(&shared.url).await {
            Ok(socket) => socket,
            Err(e) => {
                warn!(
                    source = shared.source,
                    connection = index,
                    "cannot open the stream: {e:#}"
                );
                shared
                    .book
                    .lock()
                    .expect("no panic holds it")
                    .lost(index, GapReason::Disconnect);
                failures += 1;
                if !wait(backoff(failures), &mut commands, &mut topics).await {
                    return;
                }
                continue;
            }
        };
        let mut session = Session::new(index, &shared, socket, &topics);
        let ended = session.run(&mut commands, &mut topics).await;
        let Ended::Lost(reason, lived) = ended else {
            return;
        };
        {
            let mut book = shared.book.lock().expect("no panic holds it");
            book.lost(index, reason);
            book.counts.reconnects += 1;
        }
        // A connection that lived a while starts its backoff over.
        failures = if lived > MAX_BACKOFF * 2 { 1 } else { failures + 1 };
        info!(
            source = shared.source,
            connection = index,
            reason = reason.label(),
            "stream connection lost after {:.1} s; opening again",
            opened.elapsed().as_secs_f64()
        );
        if !wait(backoff(failures), &mut commands, &mut topics).await {
            return;
        }
    }
}

/// Waits `delay`, taking commands meanwhile; false once the handle is dropped.
async fn wait(
    delay: Duration,
    commands: &mut UnboundedReceiver<Command>,
    topics: &mut BTreeMap<String, Topic>,
) -> bool {
    let until = tokio::time::Instant::now() + delay;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => return true,
            command = commands.recv() => match command {
                None => return false,
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

/// Opens a connection to `url`, its messages and frames bounded.
async fn open(url: &str) -> anyhow::Result<Socket> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .max_write_buffer_size(4 << 20);
    let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
    let (socket, _) = tokio::time::timeout(OPEN_TIMEOUT, connecting)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no answer in {} s", OPEN_TIMEOUT.as_secs()))??;
    Ok(socket)
}

/// A subscription request waiting for its answer, or for its turn.
#[derive(Debug, Clone)]
struct Request {
    /// Subscribe, else unsubscribe.
    subscribe: bool,
    /// Its topics.
    topics: Vec<Topic>,
    /// Refusals so far.
    refusals: u32,
}

/// One open connection.
struct Session<'a> {
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
    /// When the last message came.
    last_message: Instant,
    /// Whether silence has been probed with a heartbeat.
    probed: bool,
    /// When it opened.
    opened: Instant,
    /// Events of the message being read (kept to reuse its allocation).
    events: Vec<Event>,
}

impl<'a> Session<'a> {
    fn new(index: usize, shared: &'a Shared, socket: Socket, topics: &BTreeMap<String, Topic>) -> Self {
        let limits = shared.wire.limits();
        shared.book.lock().expect("no panic holds it").connected(index);
        let mut session = Self {
            index,
            shared,
            socket,
            limits,
            outbox: VecDeque::new(),
            unanswered: HashMap::new(),
            next_id: 1,
            last_message: Instant::now(),
            probed: false,
            opened: Instant::now(),
            events: Vec::new(),
        };
        session.queue(true, topics.values().cloned().collect());
        session
    }

    /// Queues `topics` in batches the exchange allows.
    fn queue(&mut self, subscribe: bool, topics: Vec<Topic>) {
        for batch in topics.chunks(self.limits.topics_per_request.max(1)) {
            self.outbox.push_back(Request {
                subscribe,
                topics: batch.to_vec(),
                refusals: 0,
            });
        }
    }

    /// Reads, writes and keeps the connection alive until it is lost or the handle dropped.
    async fn run(&mut self, commands: &mut UnboundedReceiver<Command>, topics: &mut BTreeMap<String, Topic>) -> Ended {
        let mut pace = tokio::time::interval(Duration::from_secs_f64(
            1.0 / f64::from(self.limits.requests_per_second.max(1)),
        ));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(self.limits.heartbeat);
        heartbeat.tick().await;
        let (probe_after, silent_after) = silence(self.limits);
        loop {
            let quiet_until = tokio::time::Instant::from_std(
                self.last_message + if self.probed { silent_after } else { probe_after },
            );
            tokio::select! {
                message = self.socket.next() => {
                    let lived = self.opened.elapsed();
                    match message {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ended::Lost(GapReason::Disconnect, lived),
                        Some(Ok(message)) => {
                            if let Some(reason) = self.take(message) {
                                return Ended::Lost(reason, lived);
                            }
                        }
                    }
                }
                command = commands.recv() => match command {
                    None => {
                        let _ = self.socket.close(None).await;
                        return Ended::Dropped;
                    }
                    Some(Command::Subscribe(add)) => {
                        topics.extend(add.iter().map(|t| (t.name.clone(), t.clone())));
                        self.queue(true, add);
                    }
                    Some(Command::Unsubscribe(remove)) => {
                        remove.iter().for_each(|t| { topics.remove(&t.name); });
                        self.queue(false, remove);
                    }
                },
                _ = pace.tick(), if !self.outbox.is_empty() => {
                    if self.send_next().await.is_err() {
                        return Ended::Lost(GapReason::Disconnect, self.opened.elapsed());
                    }
                }
                _ = heartbeat.tick() => {
                    if self.ping().await.is_err() {
                        return Ended::Lost(GapReason::Disconnect, self.opened.elapsed());
                    }
                }
                () = tokio::time::sleep_until(quiet_until) => {
                    if self.probed {
                        warn!(source = self.shared.source, connection = self.index,
                            "the stream sent nothing for {:.1} s: opening it again", silent_after.as_secs_f64());
                        return Ended::Lost(GapReason::Silence, self.opened.elapsed());
                    }
                    self.probed = true;
                    if self.ping().await.is_err() {
                        return Ended::Lost(GapReason::Disconnect, self.opened.elapsed());
                    }
                }
            }
        }
    }

    /// Sends the next queued request.
    async fn send_next(&mut self) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let Some(request) = self.outbox.pop_front() else {
            return Ok(());
        };
        let id = self.next_id;
        self.next_id += 1;
        let names: Vec<String> = request.topics.iter().map(|t| t.name.clone()).collect();
        let text = self.shared.wire.request(request.subscribe, &names, id);
        self.unanswered.insert(id, request);
        self.socket.send(Message::text(text)).await
    }

    /// Sends a heartbeat: the exchange's message, or a ping frame.
    async fn ping(&mut self) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let message = match self.shared.wire.ping() {
            Some(text) => Message::text(text),
            None => Message::Ping(Vec::new().into()),
        };
        self.socket.send(message).await
    }

    /// Takes in one message; the reason to drop the connection, if it gives one.
    fn take(&mut self, message: Message) -> Option<GapReason> {
        self.last_message = Instant::now();
        self.probed = false;
        let text = match message {
            Message::Text(text) => text,
            // Pings are answered by the socket; pongs and frames say only that it is alive.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => return None,
            Message::Binary(_) => {
                self.shared
                    .book
                    .lock()
                    .expect("no panic holds it")
                    .rejected("binary message");
                return None;
            }
        };
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let read = self.shared.wire.read(text.as_str(), &mut events);
        let mut closing = false;
        let mut book = self.shared.book.lock().expect("no panic holds it");
        book.counts.messages += 1;
        if read.is_err() {
            book.rejected("not a documented message");
        }
        // A send time ahead of this clock by more than a skew would pin a symbol as fresh.
        let latest_ms = crate::shared::clock::now_ms() + MAX_CLOCK_SKEW_MS;
        for event in events.drain(..) {
            let future = match &event {
                Event::Ticker { sent_ms, .. } | Event::Kline { sent_ms, .. } => *sent_ms > latest_ms,
                _ => false,
            };
            if future {
                book.rejected("sent in the future");
                continue;
            }
            match event {
                Event::Answer { id, refused } => self.answered(&mut book, id, refused),
                Event::Pong => {}
                Event::Ticker {
                    symbol,
                    whole,
                    fields,
                    sent_ms,
                } => book.ticker(self.index, &symbol, whole, &fields, sent_ms),
                Event::Kline {
                    symbol,
                    timeframe,
                    candle,
                    closed,
                    sent_ms,
                } => book.candle(
                    self.index,
                    StreamedCandle {
                        symbol,
                        timeframe,
                        candle,
                        closed,
                    },
                    sent_ms,
                ),
                Event::Closing => closing = true,
            }
        }
        drop(book);
        self.events = events;
        closing.then_some(GapReason::Disconnect)
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

/// After how long a silence a heartbeat probes the connection, and after how long one is
/// lost: two push intervals and four, at least 0.5 s and 1.5 s (Bybit 0.5 and 1.5 s, Binance
/// 2 and 4 s). A quiet market keeps a connection alive through the probe's answer.
fn silence(limits: Limits) -> (Duration, Duration) {
    let push = limits.push_interval;
    (
        (push * 2).max(Duration::from_millis(500)),
        (push * 4).max(Duration::from_millis(1_500)),
    )
}
