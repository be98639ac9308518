//! A loopback exchange speaking Bybit v5's or Binance's public APIs as documented (see
//! `docs/sources.md`): REST tickers and klines, and a WebSocket endpoint that answers
//! subscriptions and heartbeats and pushes tickers (Bybit linear: a snapshot, then deltas of the
//! changed fields every 100 ms; Bybit spot: snapshots every 50 ms; Binance: the whole ticker
//! every second) and one-minute candles (`exchange/candles.rs`). Its market walks on its own; a test can drop every connection, stall them, lose an update silently,
//! send a malformed message, list and delist symbols, and read the log of what clients sent
//! (connections opened and requests, with their times) to check the exchange's limits.

mod candles;

use std::collections::{BTreeMap, HashMap};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// Which exchange it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Bybit v5 linear perpetuals: `tickers.{symbol}` snapshots then deltas.
    Bybit,
    /// Bybit v5 spot: `tickers.{symbol}` snapshots every 50 ms, and at most 10 topics in a
    /// subscription request (a longer one is refused, as Bybit refuses it).
    BybitSpot,
    /// Binance spot: `<symbol>@ticker`, whole every second.
    Binance,
}

impl Dialect {
    /// How often it pushes.
    pub fn push_interval(self) -> Duration {
        match self {
            Self::Bybit => Duration::from_millis(100),
            Self::BybitSpot => Duration::from_millis(50),
            Self::Binance => Duration::from_secs(1),
        }
    }

    /// Bybit's protocol, linear or spot.
    fn bybit(self) -> bool {
        matches!(self, Self::Bybit | Self::BybitSpot)
    }

    /// Bybit's market category.
    fn category(self) -> &'static str {
        if self == Self::BybitSpot {
            "spot"
        } else {
            "linear"
        }
    }
}

/// One thing a client did, as the exchange logged it.
#[derive(Debug, Clone, PartialEq)]
pub enum Logged {
    /// A connection opened.
    Opened,
    /// A subscription request with so many topics.
    Subscribe(usize),
    /// An unsubscription request with so many topics.
    Unsubscribe(usize),
    /// A heartbeat message or ping frame.
    Ping,
    /// A pong frame, answering the exchange's ping.
    Pong,
    /// The connection ended.
    Closed,
    /// A REST kline request for this symbol and interval.
    Klines(String, String),
}

/// A symbol's 24 h ticker as the exchange holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    price: f64,
    open: f64,
    high: f64,
    low: f64,
    volume: f64,
    turnover: f64,
}

impl Row {
    fn change_fraction(&self) -> f64 {
        ((self.price - self.open) / self.open * 10_000.0).round() / 10_000.0
    }
}

/// The exchange's state, shared by its threads.
struct Inner {
    dialect: Dialect,
    /// The market, by symbol; a frozen symbol no longer walks.
    market: Mutex<BTreeMap<String, (Row, bool)>>,
    /// Updates no connection may send: by symbol, the row every connection is told it already
    /// sent (a lost message).
    lost: Mutex<HashMap<String, Row>>,
    /// Raised to drop every connection open before it.
    drops: AtomicU64,
    /// Connections stay open but silent until then.
    stalled_until: Mutex<Option<Instant>>,
    /// Raw texts to send once on every connection, in order; each connection keeps how many it sent.
    raw: Mutex<Vec<String>>,
    /// What clients did, with when.
    log: Mutex<Vec<(Instant, u64, Logged)>>,
    /// Connection ids.
    next_connection: AtomicU64,
    /// Every symbol's one-minute candles.
    candles: Mutex<candles::Candles>,
    /// How many times the market has moved: every connection pushes once after each move, as
    /// an exchange pushes what its engine changed, so a push never finds the market unmoved.
    steps: Mutex<u64>,
    /// Notified after each move.
    moved: Condvar,
    /// Milliseconds to delay the next move by, once (`shift`).
    shift_ms: AtomicU64,
    /// Bybit's cross sequence `cs`: raised with each ticker message.
    cross_sequence: AtomicU64,
}

/// A loopback exchange; it runs until the process ends.
#[derive(Clone)]
pub struct LoopbackExchange {
    inner: Arc<Inner>,
    /// Its REST base URL.
    pub rest_url: String,
    /// Its WebSocket base URL.
    pub ws_url: String,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Formats a number as exchanges do: a decimal string.
fn text(n: f64) -> String {
    format!("{n}")
}

impl LoopbackExchange {
    /// Starts an exchange of `dialect` listing `symbols` symbols (`SYM0000USDT`, ... ; the first
    /// has the largest turnover).
    pub fn start(dialect: Dialect, symbols: usize) -> Self {
        let market = (0..symbols)
            .map(|i| {
                let price = 100.0 + i as f64;
                let row = Row {
                    price,
                    open: price,
                    high: price * 1.05,
                    low: price * 0.95,
                    volume: 1_000.0,
                    turnover: 1e9 / (i as f64 + 1.0),
                };
                (format!("SYM{i:04}USDT"), (row, false))
            })
            .collect();
        let inner = Arc::new(Inner {
            dialect,
            market: Mutex::new(market),
            lost: Mutex::new(HashMap::new()),
            drops: AtomicU64::new(0),
            stalled_until: Mutex::new(None),
            raw: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            next_connection: AtomicU64::new(1),
            candles: Mutex::new(candles::Candles::default()),
            steps: Mutex::new(0),
            moved: Condvar::new(),
            shift_ms: AtomicU64::new(0),
            cross_sequence: AtomicU64::new(0),
        });
        let walking = inner.clone();
        std::thread::spawn(move || walk(&walking));
        let rest = inner.clone();
        let rest_url = crate::http_server(move |path| answer_rest(&rest, path));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ws_url = format!("ws://{}", listener.local_addr().unwrap());
        let accepting = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let inner = accepting.clone();
                std::thread::spawn(move || serve(&inner, stream));
            }
        });
        Self {
            inner,
            rest_url,
            ws_url,
        }
    }

    /// The flags that point a daemon at it, streaming.
    pub fn args(&self) -> Vec<String> {
        let source = match self.inner.dialect {
            Dialect::Bybit => "bybit",
            Dialect::BybitSpot => "bybit:spot",
            Dialect::Binance => "binance",
        };
        [
            "--source",
            source,
            "--exchange-url",
            &self.rest_url,
            "--exchange-ws-url",
            &self.ws_url,
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// Closes every open connection at once, as a network blip would.
    pub fn drop_connections(&self) {
        self.inner.drops.fetch_add(1, Ordering::SeqCst);
    }

    /// Keeps every connection open but sends nothing and answers nothing for `how_long`.
    pub fn stall(&self, how_long: Duration) {
        *self.inner.stalled_until.lock().unwrap() = Some(Instant::now() + how_long);
    }

    /// Moves `symbol`'s price to `price` and freezes it there, and loses the update: no
    /// connection sends it, as if the message were dropped; REST answers show it. (Bybit linear
    /// only: a dialect that pushes whole tickers sends the new price with its next push.)
    pub fn lose_update(&self, symbol: &str, price: f64) {
        let mut market = self.inner.market.lock().unwrap();
        let (row, frozen) = market.get_mut(symbol).expect("a listed symbol");
        row.price = price;
        row.high = row.high.max(price);
        row.low = row.low.min(price);
        *frozen = true;
        self.inner.lost.lock().unwrap().insert(symbol.to_string(), *row);
    }

    /// Stops `symbol`'s price: the exchange sends no change of it any more (a quiet market;
    /// Bybit spot and Binance still push its whole, unchanged ticker).
    pub fn freeze(&self, symbol: &str) {
        self.inner
            .market
            .lock()
            .unwrap()
            .get_mut(symbol)
            .expect("a listed symbol")
            .1 = true;
    }

    /// Loses `symbol`'s next closed one-minute candle: no connection pushes it.
    pub fn lose_next_close(&self, symbol: &str) {
        self.inner.candles.lock().unwrap().lose_next_close(symbol);
    }

    /// Sends `text` once on every open connection.
    pub fn send_raw(&self, text: &str) {
        self.inner.raw.lock().unwrap().push(text.to_string());
    }

    /// Lists `symbol`, with the largest turnover.
    pub fn list(&self, symbol: &str) {
        let row = Row {
            price: 50.0,
            open: 50.0,
            high: 51.0,
            low: 49.0,
            volume: 1_000.0,
            turnover: 2e9,
        };
        self.inner
            .market
            .lock()
            .unwrap()
            .insert(symbol.to_string(), (row, false));
    }

    /// Delists `symbol`.
    pub fn delist(&self, symbol: &str) {
        self.inner.market.lock().unwrap().remove(symbol);
    }

    /// Delays the market's moves, and so every push after them, by `by` from the next one on:
    /// a benchmark samples the snapshot's age at every phase of the push schedule this way.
    pub fn shift(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.inner.shift_ms.fetch_add(by, Ordering::SeqCst);
    }

    /// `symbol`'s price now.
    pub fn price(&self, symbol: &str) -> f64 {
        self.inner.market.lock().unwrap()[symbol].0.price
    }

    /// What clients did so far: when, on which connection, what.
    pub fn log(&self) -> Vec<(Instant, u64, Logged)> {
        self.inner.log.lock().unwrap().clone()
    }
}

/// Moves each unfrozen symbol's price every push interval, on a fixed schedule (the time the
/// move takes does not delay the next), and wakes the connections to push it.
fn walk(inner: &Inner) {
    let mut step = 0u64;
    let mut next = Instant::now();
    loop {
        next += inner.dialect.push_interval();
        // A shift delays the move being waited for, so the gap it opens comes at once.
        loop {
            next += Duration::from_millis(inner.shift_ms.swap(0, Ordering::SeqCst));
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(5)));
        }
        step += 1;
        {
            let mut market = inner.market.lock().unwrap();
            let mut candles = inner.candles.lock().unwrap();
            let now = now_ms();
            for (i, (symbol, (row, frozen))) in market.iter_mut().enumerate() {
                candles.trade(symbol, row.price, now);
                if *frozen {
                    continue;
                }
                let wave = ((step as f64 + i as f64) * 0.7).sin() * 0.001;
                row.price = (row.price * (1.0 + wave) * 1e6).round() / 1e6;
                row.high = row.high.max(row.price);
                row.low = row.low.min(row.price);
                row.volume += 1.0;
                row.turnover += row.price;
            }
        }
        *inner.steps.lock().unwrap() = step;
        inner.moved.notify_all();
    }
}

/// The REST answer to `path`.
fn answer_rest(inner: &Inner, path: &str) -> (u16, String) {
    let market = inner.market.lock().unwrap().clone();
    let now = now_ms();
    match inner.dialect {
        Dialect::Bybit | Dialect::BybitSpot if path.starts_with("/v5/market/tickers") => {
            let list: Vec<Value> = market.iter().map(|(s, (r, _))| bybit_ticker(s, r)).collect();
            let category = inner.dialect.category();
            let body =
                json!({"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": list}, "time": now});
            (200, body.to_string())
        }
        Dialect::Binance if path.starts_with("/api/v3/ticker/24hr") => {
            let list: Vec<Value> = market.iter().map(|(s, (r, _))| binance_ticker(s, r, now)).collect();
            (200, Value::Array(list).to_string())
        }
        _ if path.starts_with("/v5/market/kline") || path.starts_with("/api/v3/klines") => {
            let query = candles::query(path);
            let (symbol, interval) = (
                query.get("symbol").copied().unwrap_or(""),
                query.get("interval").copied().unwrap_or(""),
            );
            let logged = Logged::Klines(symbol.to_string(), interval.to_string());
            inner.log.lock().unwrap().push((Instant::now(), 0, logged));
            let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(200);
            // One-minute candles only; other time frames have none.
            let rows = match interval {
                "1" | "1m" => inner.candles.lock().unwrap().newest(symbol, limit),
                _ => Vec::new(),
            };
            if inner.dialect.bybit() {
                (200, candles::bybit_rows(&rows, inner.dialect.category(), now))
            } else {
                (200, candles::binance_rows(&rows))
            }
        }
        _ => (404, format!("no such endpoint: {path}")),
    }
}

fn bybit_ticker(symbol: &str, r: &Row) -> Value {
    json!({"symbol": symbol, "lastPrice": text(r.price), "price24hPcnt": text(r.change_fraction()),
        "highPrice24h": text(r.high), "lowPrice24h": text(r.low), "turnover24h": text(r.turnover),
        "volume24h": text(r.volume)})
}

fn binance_ticker(symbol: &str, r: &Row, now: i64) -> Value {
    json!({"symbol": symbol, "lastPrice": text(r.price), "priceChangePercent": text(r.change_fraction() * 100.0),
        "highPrice": text(r.high), "lowPrice": text(r.low), "volume": text(r.volume),
        "quoteVolume": text(r.turnover), "closeTime": now})
}

/// One client connection, until it closes or is dropped.
fn serve(inner: &Inner, stream: TcpStream) {
    let id = inner.next_connection.fetch_add(1, Ordering::SeqCst);
    // Pushes go out as they are written, as an exchange's do, not held back for an ACK.
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let Ok(socket) = tungstenite::accept(stream) else {
        return;
    };
    serve_socket(inner, id, socket);
    inner.log.lock().unwrap().push((Instant::now(), id, Logged::Closed));
}

/// Answers and pushes on `socket` until it closes or is dropped: it waits for the market's next
/// move (at most a few milliseconds, so clients are answered meanwhile), reads what clients
/// sent without blocking, and pushes each move as soon as it is made.
fn serve_socket(inner: &Inner, id: u64, mut socket: WebSocket<TcpStream>) {
    let log = |what: Logged| inner.log.lock().unwrap().push((Instant::now(), id, what));
    log(Logged::Opened);
    let drops = inner.drops.load(Ordering::SeqCst);
    // How many raw texts were sent before this connection opened: it sends only later ones.
    let mut raw_seen = inner.raw.lock().unwrap().len();
    // Per topic, what this connection last sent of it (`None`: subscribed, nothing sent yet).
    let mut sent: BTreeMap<String, Option<Row>> = BTreeMap::new();
    let mut pushed = *inner.steps.lock().unwrap();
    // Per kline topic, the start of the last closed candle pushed; the forming one every second.
    let mut closes: BTreeMap<String, i64> = BTreeMap::new();
    let mut next_forming = Instant::now();
    let mut next_ping = Instant::now() + Duration::from_secs(2);
    loop {
        if inner.drops.load(Ordering::SeqCst) != drops {
            return;
        }
        let stalled = inner
            .stalled_until
            .lock()
            .unwrap()
            .is_some_and(|until| Instant::now() < until);
        if stalled {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let step = {
            let steps = inner.steps.lock().unwrap();
            let (steps, _) = inner
                .moved
                .wait_timeout_while(steps, Duration::from_millis(5), |step| *step == pushed)
                .unwrap();
            *steps
        };
        let Some(replies) = read_all(inner, &mut socket, &mut sent, &log) else {
            return;
        };
        for reply in replies {
            if socket.send(Message::text(reply)).is_err() {
                return;
            }
        }
        let raw: Vec<String> = {
            let raw = inner.raw.lock().unwrap();
            let unseen = raw[raw_seen..].to_vec();
            raw_seen = raw.len();
            unseen
        };
        for text in raw {
            if socket.send(Message::text(text)).is_err() {
                return;
            }
        }
        if inner.dialect == Dialect::Binance && Instant::now() >= next_ping {
            next_ping += Duration::from_secs(2);
            if socket.send(Message::Ping(Vec::new().into())).is_err() {
                return;
            }
        }
        if step != pushed {
            pushed = step;
            let forming = Instant::now() >= next_forming;
            if forming {
                next_forming += Duration::from_secs(1);
            }
            if push(inner, &mut socket, &mut sent).is_err()
                || push_klines(inner, &mut socket, &sent, &mut closes, forming).is_err()
            {
                return;
            }
        }
    }
}

/// Reads every message that has arrived on `socket` without waiting, and returns the answers
/// to send; `None` when the connection has ended.
fn read_all(
    inner: &Inner,
    socket: &mut WebSocket<TcpStream>,
    sent: &mut BTreeMap<String, Option<Row>>,
    log: &impl Fn(Logged),
) -> Option<Vec<String>> {
    let mut replies = Vec::new();
    socket.get_mut().set_nonblocking(true).ok()?;
    let open = loop {
        match socket.read() {
            Ok(Message::Text(text)) => replies.extend(answer(inner, text.as_str(), sent, log)),
            Ok(Message::Ping(_)) => log(Logged::Ping),
            Ok(Message::Pong(_)) => log(Logged::Pong),
            Ok(Message::Close(_)) => break false,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
            Err(_) => break false,
        }
    };
    socket.get_mut().set_nonblocking(false).ok()?;
    open.then_some(replies)
}

/// The answer to a client's message, logging it.
fn answer(
    inner: &Inner,
    text: &str,
    sent: &mut BTreeMap<String, Option<Row>>,
    log: &impl Fn(Logged),
) -> Option<String> {
    let message: Value = serde_json::from_str(text).ok()?;
    let (subscribe, topics, id) = match inner.dialect {
        Dialect::Bybit | Dialect::BybitSpot => {
            let op = message["op"].as_str()?;
            if op == "ping" {
                log(Logged::Ping);
                return Some(json!({"success": true, "ret_msg": "pong", "conn_id": "loopback", "req_id": message["req_id"], "op": "ping"}).to_string());
            }
            (
                op == "subscribe",
                message["args"].as_array()?.clone(),
                message["req_id"].clone(),
            )
        }
        Dialect::Binance => {
            let method = message["method"].as_str()?;
            (
                method == "SUBSCRIBE",
                message["params"].as_array()?.clone(),
                message["id"].clone(),
            )
        }
    };
    log(if subscribe {
        Logged::Subscribe(topics.len())
    } else {
        Logged::Unsubscribe(topics.len())
    });
    if inner.dialect == Dialect::BybitSpot && topics.len() > 10 {
        let op = if subscribe { "subscribe" } else { "unsubscribe" };
        return Some(
            json!({"success": false, "ret_msg": "args size >10", "conn_id": "loopback", "req_id": id, "op": op})
                .to_string(),
        );
    }
    for topic in topics.iter().filter_map(Value::as_str) {
        if subscribe {
            sent.insert(topic.to_string(), None);
        } else {
            sent.remove(topic);
        }
    }
    Some(match inner.dialect {
        Dialect::Bybit | Dialect::BybitSpot => {
            let op = if subscribe { "subscribe" } else { "unsubscribe" };
            json!({"success": true, "ret_msg": "", "conn_id": "loopback", "req_id": id, "op": op}).to_string()
        }
        Dialect::Binance => json!({"result": null, "id": id}).to_string(),
    })
}

/// Pushes the closed one-minute candles of the subscribed kline topics not pushed yet (a lost
/// one skipped), and, when `forming`, each forming one.
fn push_klines(
    inner: &Inner,
    socket: &mut WebSocket<TcpStream>,
    sent: &BTreeMap<String, Option<Row>>,
    closes: &mut BTreeMap<String, i64>,
    forming: bool,
) -> tungstenite::Result<()> {
    let bybit = inner.dialect.bybit();
    let now = now_ms();
    let mut texts = Vec::new();
    {
        let mut candles = inner.candles.lock().unwrap();
        closes.retain(|topic, _| sent.contains_key(topic));
        for topic in sent.keys() {
            let symbol = match inner.dialect {
                Dialect::Bybit | Dialect::BybitSpot => topic.strip_prefix("kline.1."),
                Dialect::Binance => topic.strip_suffix("@kline_1m"),
            };
            let Some(symbol) = symbol.map(str::to_ascii_uppercase) else {
                continue;
            };
            let Some(now_forming) = candles.forming(&symbol) else {
                continue;
            };
            let last = *closes.entry(topic.clone()).or_insert(now_forming.start - 60_000);
            for closed in candles.closed_after(&symbol, last) {
                closes.insert(topic.clone(), closed.start);
                if !candles.lost(&symbol) {
                    texts.push(candles::message(bybit, topic, &symbol, &closed, true, now));
                }
            }
            if forming {
                texts.push(candles::message(bybit, topic, &symbol, &now_forming, false, now));
            }
        }
    }
    for text in texts {
        socket.write(Message::text(text))?;
    }
    socket.flush()
}

/// Pushes every subscribed ticker (Bybit linear: a snapshot first, then the changed fields,
/// nothing when none changed; Bybit spot and Binance: whole, every push). Messages are written
/// as text directly, so the exchange can push 10,000 symbols ten times a second.
fn push(
    inner: &Inner,
    socket: &mut WebSocket<TcpStream>,
    sent: &mut BTreeMap<String, Option<Row>>,
) -> tungstenite::Result<()> {
    let lost = inner.lost.lock().unwrap().clone();
    let now = now_ms();
    let mut texts = Vec::new();
    {
        let market = inner.market.lock().unwrap();
        for (topic, last) in sent.iter_mut() {
            let symbol = match inner.dialect {
                Dialect::Bybit | Dialect::BybitSpot => topic.strip_prefix("tickers."),
                Dialect::Binance => topic.strip_suffix("@ticker"),
            };
            let Some(symbol) = symbol.map(str::to_ascii_uppercase) else {
                continue;
            };
            let Some((row, _)) = market.get(&symbol) else {
                continue;
            };
            if let (Some(lost), Some(_)) = (lost.get(&symbol), last.as_ref()) {
                // The lost update counts as sent.
                *last = Some(*lost);
            }
            let sequence = inner.cross_sequence.fetch_add(1, Ordering::Relaxed);
            if let Some(text) = ticker_text(inner.dialect, topic, &symbol, row, *last, sequence, now) {
                texts.push(text);
            }
            *last = Some(*row);
        }
    }
    // Each message carries the time it is written at, as an exchange stamps each message it
    // sends: the last of a push of 1,000 is not as old as the first.
    for (before, after) in texts {
        socket.write(Message::text(format!("{before}{}{after}", now_ms())))?;
    }
    socket.flush()
}

/// The message of `symbol`'s ticker `row` on `topic`, given what was `last` sent of it, in two
/// parts to be joined by its send time; `None` when a delta would change nothing.
fn ticker_text(
    dialect: Dialect,
    topic: &str,
    symbol: &str,
    row: &Row,
    last: Option<Row>,
    sequence: u64,
    now: i64,
) -> Option<(String, String)> {
    use std::fmt::Write;
    let mut out = String::with_capacity(256);
    match dialect {
        Dialect::Bybit | Dialect::BybitSpot => {
            // Spot pushes whole snapshots only.
            let last = last.filter(|_| dialect == Dialect::Bybit);
            let fields = [
                ("lastPrice", row.price, last.map(|l| l.price)),
                ("price24hPcnt", row.change_fraction(), last.map(|l| l.change_fraction())),
                ("highPrice24h", row.high, last.map(|l| l.high)),
                ("lowPrice24h", row.low, last.map(|l| l.low)),
                ("turnover24h", row.turnover, last.map(|l| l.turnover)),
                ("volume24h", row.volume, last.map(|l| l.volume)),
            ];
            let kind = if last.is_some() { "delta" } else { "snapshot" };
            let _ = write!(
                out,
                r#"{{"topic":"{topic}","type":"{kind}","data":{{"symbol":"{symbol}""#
            );
            let mut changed = false;
            for (name, value, before) in fields {
                if before != Some(value) {
                    changed = true;
                    let _ = write!(out, r#","{name}":"{}""#, text(value));
                }
            }
            if !changed {
                return None;
            }
            let _ = write!(out, r#"}},"cs":{sequence},"ts":"#);
            Some((out, "}".to_string()))
        }
        Dialect::Binance => {
            let _ = write!(
                out,
                r#","s":"{symbol}","c":"{}","P":"{}","h":"{}","l":"{}","v":"{}","q":"{}","C":{now}}}"#,
                text(row.price),
                text(row.change_fraction() * 100.0),
                text(row.high),
                text(row.low),
                text(row.volume),
                text(row.turnover)
            );
            Some((r#"{"e":"24hrTicker","E":"#.to_string(), out))
        }
    }
}
