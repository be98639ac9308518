//! Live 24 h tickers polled from an exchange's public REST API, with candles fetched off the
//! cycle (`backfill.rs`, `klines.rs`).
//!
//! - Bybit v5: `GET /v5/market/tickers?category=linear|spot`. Numbers are strings;
//!   `price24hPcnt` is a fraction (`0.0123` is +1.23 %); `volume24h` is base volume and
//!   `turnover24h` quote turnover. Errors come as `retCode != 0` with `retMsg`.
//! - Binance spot: `GET /api/v3/ticker/24hr`, an array. `priceChangePercent` is already in
//!   percent; `volume` is base volume and `quoteVolume` quote turnover. Errors come as a non-2xx
//!   status with `{"code": -1121, "msg": "..."}`.
//!
//! A number that does not parse becomes NaN, so the row is dropped and counted by the
//! snapshot's validation instead of failing the whole poll.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use serde::Deserialize;

use super::backfill::{Backfill, Pace};
use super::body;
use super::{no_argument, MarketSource, Opened, Registration};
use crate::config::Config;
use crate::shared::candle::{CandleDemand, CandleFetches};
use crate::shared::market::{Snapshot, Ticker};

/// `bybit` (linear perpetuals, also `bybit:linear`) and `bybit:spot`: Bybit's v5 tickers.
pub(super) const BYBIT: Registration = Registration {
    name: "bybit",
    usage: "bybit, bybit:spot",
    paced: false,
    resumable: true,
    open: open_bybit,
};

/// `binance`: Binance's spot 24 h tickers.
pub(super) const BINANCE: Registration = Registration {
    name: "binance",
    usage: "binance",
    paced: false,
    resumable: true,
    open: open_binance,
};

fn open_bybit(config: &Config, argument: Option<&str>) -> Result<Opened> {
    let (exchange, name) = match argument {
        None | Some("linear") => (Exchange::BybitLinear, "bybit"),
        Some("spot") => (Exchange::BybitSpot, "bybit:spot"),
        Some(other) => bail!("source bybit:{other}: the market is linear or spot"),
    };
    open(config, exchange, name)
}

fn open_binance(config: &Config, argument: Option<&str>) -> Result<Opened> {
    no_argument("binance", argument)?;
    open(config, Exchange::Binance, "binance")
}

/// A poller of `exchange` at `market.exchange_url` (its public API by default), fetching
/// candles at the configured pace.
fn open(config: &Config, exchange: Exchange, name: &'static str) -> Result<Opened> {
    let pace = Pace {
        per_second: config
            .market
            .kline_requests_per_second
            .map_or(default_kline_rate(exchange), |r| u32::try_from(r.0).unwrap_or(u32::MAX))
            .min(MAX_KLINE_RATE),
        in_flight: usize::try_from(config.market.kline_in_flight.0).unwrap_or(usize::MAX),
    };
    let source = ExchangeSource::new(
        exchange,
        config.market.exchange_url.as_deref(),
        config.request_timeout(),
        pace,
    )?;
    Ok((Box::new(source), name))
}

/// Kline requests per second by default: half of what the exchange allows an IP (Bybit: 600
/// requests in 5 s; Binance: 6,000 weight a minute, 2 a kline request), leaving the rest to
/// the ticker polls and to anything else on the same address.
fn default_kline_rate(exchange: Exchange) -> u32 {
    match exchange {
        Exchange::BybitLinear | Exchange::BybitSpot => 60,
        Exchange::Binance => 25,
    }
}

/// The most kline requests per second a source starts, whatever the config says (no exchange
/// allows more to one address).
const MAX_KLINE_RATE: u32 = 1_000;

/// How long a kline request may take: it runs off the cycle, so longer than a ticker poll.
const KLINE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which exchange API to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Bybit v5, linear perpetuals.
    BybitLinear,
    /// Bybit v5, spot.
    BybitSpot,
    /// Binance spot.
    Binance,
}

#[async_trait]
impl MarketSource for ExchangeSource {
    /// The tickers now, with the candles fetched since the last snapshot.
    async fn snapshot(&mut self, now_ms: i64) -> Result<Option<Snapshot>> {
        let mut snapshot = ExchangeSource::snapshot(self, now_ms).await?;
        snapshot.candles = self.backfill.collect(now_ms);
        Ok(Some(snapshot))
    }

    fn want_candles(&mut self, demand: CandleDemand, symbols: &[Ticker]) {
        self.backfill.want(demand, symbols);
    }

    fn candle_fetches(&self) -> Option<CandleFetches> {
        Some(self.backfill.fetches())
    }
}

/// The exchange's public API's base URL.
fn default_url(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::BybitLinear | Exchange::BybitSpot => "https://api.bybit.com",
        Exchange::Binance => "https://api.binance.com",
    }
}

/// The path of the exchange's 24 h ticker endpoint.
fn tickers_path(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::BybitLinear => "/v5/market/tickers?category=linear",
        Exchange::BybitSpot => "/v5/market/tickers?category=spot",
        Exchange::Binance => "/api/v3/ticker/24hr",
    }
}

/// Polls one exchange.
pub struct ExchangeSource {
    exchange: Exchange,
    url: String,
    client: reqwest::Client,
    /// The candles it fetches off the cycle.
    backfill: Backfill,
}

impl ExchangeSource {
    /// A poller of `exchange` at `base_url` (its public API if `None`) whose ticker requests
    /// give up after `timeout`, fetching candles at `pace`.
    pub fn new(exchange: Exchange, base_url: Option<&str>, timeout: Duration, pace: Pace) -> Result<Self> {
        let base = base_url.unwrap_or(default_url(exchange)).trim_end_matches('/');
        // HTTPS uses rustls with the ring provider, installed for the process by the first
        // exchange source (a later call finds it installed and changes nothing).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = |timeout| {
            reqwest::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("pulse/", env!("CARGO_PKG_VERSION")))
                .build()
                .context("cannot build the HTTPS client")
        };
        Ok(Self {
            exchange,
            url: format!("{base}{}", tickers_path(exchange)),
            client: client(timeout)?,
            backfill: Backfill::new(exchange, base, client(KLINE_TIMEOUT)?, pace),
        })
    }

    /// Fetches and parses the tickers now.
    pub async fn snapshot(&self, timestamp_ms: i64) -> Result<Snapshot> {
        let (status, body) = body::read(&self.client, &self.url, body::MAX_TICKERS_BYTES).await?;
        body::successful(&self.url, status, &body)?;
        let tickers = match self.exchange {
            Exchange::BybitLinear | Exchange::BybitSpot => parse_bybit(&body),
            Exchange::Binance => parse_binance(&body),
        }
        .with_context(|| format!("GET {}: unexpected body", self.url))?;
        if tickers.is_empty() {
            bail!("GET {}: the exchange returned no tickers", self.url);
        }
        Ok(Snapshot {
            timestamp_ms,
            tickers,
            candles: Vec::new(),
        })
    }
}

fn number(text: &str) -> f64 {
    text.trim().parse().unwrap_or(f64::NAN)
}

/// Every Bybit v5 answer: a code (0 for success), a message, and the result.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BybitResponse<R> {
    ret_code: i64,
    ret_msg: String,
    result: Option<R>,
}

impl<R> BybitResponse<R> {
    /// The result of an answer that reports success, else the error it reports.
    pub(super) fn parse(body: &[u8]) -> Result<R>
    where
        R: serde::de::DeserializeOwned,
    {
        let response: Self = serde_json::from_slice(body)?;
        if response.ret_code != 0 {
            bail!("Bybit error {}: {}", response.ret_code, response.ret_msg);
        }
        response.result.context("Bybit response has no result")
    }
}

#[derive(Deserialize)]
struct BybitResult {
    /// Absent from error bodies (`"result": {}`), which `retCode` reports.
    #[serde(default)]
    list: Vec<BybitTicker>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitTicker {
    symbol: String,
    last_price: String,
    price_24h_pcnt: String,
    high_price_24h: String,
    low_price_24h: String,
    turnover_24h: String,
    volume_24h: String,
}

fn parse_bybit(body: &[u8]) -> Result<Vec<Ticker>> {
    let list = BybitResponse::<BybitResult>::parse(body)?.list;
    Ok(list
        .into_iter()
        .map(|t| Ticker {
            symbol: t.symbol,
            price: number(&t.last_price),
            change_24h: number(&t.price_24h_pcnt) * 100.0,
            volume_24h: number(&t.volume_24h),
            turnover_24h: number(&t.turnover_24h),
            high_24h: number(&t.high_price_24h),
            low_24h: number(&t.low_price_24h),
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BinanceTicker {
    symbol: String,
    price_change_percent: String,
    last_price: String,
    high_price: String,
    low_price: String,
    volume: String,
    quote_volume: String,
}

fn parse_binance(body: &[u8]) -> Result<Vec<Ticker>> {
    let list: Vec<BinanceTicker> = serde_json::from_slice(body)?;
    Ok(list
        .into_iter()
        .map(|t| Ticker {
            symbol: t.symbol,
            price: number(&t.last_price),
            change_24h: number(&t.price_change_percent),
            volume_24h: number(&t.volume),
            turnover_24h: number(&t.quote_volume),
            high_24h: number(&t.high_price),
            low_24h: number(&t.low_price),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bybit_fields_map_to_one_meaning_each() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
            {"symbol":"BTCUSDT","lastPrice":"95000.5","indexPrice":"95001","markPrice":"95000.9",
             "prevPrice24h":"93000","price24hPcnt":"0.021511","highPrice24h":"96000","lowPrice24h":"92500",
             "prevPrice1h":"94900","openInterest":"50000","openInterestValue":"4750000000",
             "turnover24h":"9000000000","volume24h":"95000.2","fundingRate":"0.0001",
             "nextFundingTime":"1700000000000","bid1Price":"95000","bid1Size":"1","ask1Price":"95001","ask1Size":"2"},
            {"symbol":"BADUSDT","lastPrice":"","price24hPcnt":"0","highPrice24h":"1","lowPrice24h":"1",
             "turnover24h":"1","volume24h":"1"}]},"retExtInfo":{},"time":1700000000000}"#;
        let tickers = parse_bybit(body).unwrap();
        let btc = &tickers[0];
        assert_eq!(
            (btc.symbol.as_str(), btc.price, btc.volume_24h),
            ("BTCUSDT", 95000.5, 95000.2)
        );
        assert!((btc.change_24h - 2.1511).abs() < 1e-9);
        assert_eq!((btc.turnover_24h, btc.high_24h, btc.low_24h), (9e9, 96000.0, 92500.0));
        assert!(tickers[1].price.is_nan(), "an empty number must not become 0");
        let error = parse_bybit(br#"{"retCode":10001,"retMsg":"params error","result":{},"time":1}"#);
        assert!(error.unwrap_err().to_string().contains("params error"));
    }

    #[test]
    fn binance_fields_map_to_one_meaning_each() {
        let body = br#"[{"symbol":"ETHUSDT","priceChange":"50.0","priceChangePercent":"1.493",
            "weightedAvgPrice":"3380","prevClosePrice":"3350","lastPrice":"3400.1","lastQty":"0.5",
            "bidPrice":"3400","bidQty":"1","askPrice":"3400.2","askQty":"2","openPrice":"3350.1",
            "highPrice":"3420","lowPrice":"3330","volume":"1500000","quoteVolume":"5100000000",
            "openTime":1,"closeTime":2,"firstId":1,"lastId":2,"count":2}]"#;
        let eth = &parse_binance(body).unwrap()[0];
        assert_eq!(
            (eth.price, eth.change_24h, eth.volume_24h),
            (3400.1, 1.493, 1_500_000.0)
        );
        assert_eq!((eth.turnover_24h, eth.high_24h, eth.low_24h), (5.1e9, 3420.0, 3330.0));
        assert!(parse_binance(br#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }
}
