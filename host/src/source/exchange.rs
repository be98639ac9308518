//! An exchange source, whichever its dialect (`bybit.rs`, `binance.rs`): streamed
//! (`stream/`) by default, else its 24 h tickers polled from its public REST API each cycle;
//! candles fetched off the cycle either way (`backfill.rs`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;

use super::backfill::{Backfill, Fetch, Pace};
use super::body;
use super::dialect::Dialect;
use super::stream::{self, wire::Wire};
use super::{MarketSource, Opened};
use crate::config::Config;
use crate::shared::candle::{CandleDemand, CandleFetches};
use crate::shared::market::{Snapshot, Ticker};

/// A source of `dialect` at `market.exchange_url` (its public API by default), fetching
/// candles at the configured pace: streamed through `wire` unless `market.stream` is off, else
/// polled.
pub(super) fn open(config: &Config, dialect: Arc<dyn Dialect>, wire: Arc<dyn Wire>) -> Result<Opened> {
    let pace = Pace {
        per_second: config
            .market
            .kline_requests_per_second
            .map_or(dialect.default_kline_rate(), |r| u32::try_from(r.0).unwrap_or(u32::MAX))
            .min(MAX_KLINE_RATE),
        in_flight: usize::try_from(config.market.kline_in_flight.0).unwrap_or(usize::MAX),
    };
    let name = dialect.name();
    let base = config
        .market
        .exchange_url
        .as_deref()
        .unwrap_or(dialect.default_url())
        .trim_end_matches('/')
        .to_string();
    let tickers_url = format!("{base}{}", dialect.tickers_path());
    let tickers_client = client(config.request_timeout())?;
    let backfill = Backfill::new(kline_fetch(dialect.clone(), base, client(KLINE_TIMEOUT)?), pace);
    if config.market.stream {
        return stream::open(config, dialect, wire, backfill, (tickers_client, tickers_url));
    }
    Ok(Opened {
        market: Box::new(ExchangeSource {
            dialect,
            url: tickers_url,
            client: tickers_client,
            backfill,
        }),
        name,
    })
}

/// An HTTPS client whose requests give up after `timeout`. HTTPS uses rustls with the ring
/// provider, installed for the process by the first exchange source (a later call finds it
/// installed and changes nothing).
fn client(timeout: Duration) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("pulse/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTPS client")
}

/// How the backfill asks `dialect` at `base` for klines, through `klines`.
fn kline_fetch(dialect: Arc<dyn Dialect>, base: String, klines: reqwest::Client) -> Fetch {
    Arc::new(move |symbol: String, timeframe, limit| {
        let (dialect, client) = (dialect.clone(), klines.clone());
        let url = format!("{base}{}", dialect.kline_path(&symbol, timeframe, limit));
        let fetched: futures_util::future::BoxFuture<'static, Result<_>> = Box::pin(async move {
            let (status, body) = body::read(&client, &url, body::MAX_KLINES_BYTES).await?;
            body::successful(&url, status, &body)?;
            dialect
                .parse_klines(&body)
                .with_context(|| format!("GET {url}: unexpected body"))
        });
        fetched
    })
}

/// The most kline requests per second a source starts, whatever the config says (no exchange
/// allows more to one address).
const MAX_KLINE_RATE: u32 = 1_000;

/// How long a kline request may take: it runs off the cycle, so longer than a ticker poll.
const KLINE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Polls one exchange.
struct ExchangeSource {
    /// How the exchange's answers read.
    dialect: Arc<dyn Dialect>,
    /// The tickers endpoint.
    url: String,
    /// The client of the ticker polls, with their timeout.
    client: reqwest::Client,
    /// The candles it fetches off the cycle.
    backfill: Backfill,
}

impl ExchangeSource {
    /// Fetches and parses the tickers now.
    async fn snapshot(&self, timestamp_ms: i64) -> Result<Snapshot> {
        let (status, body) = body::read(&self.client, &self.url, body::MAX_TICKERS_BYTES).await?;
        body::successful(&self.url, status, &body)?;
        let tickers = self
            .dialect
            .parse_tickers(&body)
            .with_context(|| format!("GET {}: unexpected body", self.url))?
            .tickers
            .into_iter()
            // A polled row is as old as its snapshot (the contract's `data-age-ms`); a row's own
            // time (Binance's closeTime) serves a stream's reconciliation only.
            .map(|t| Ticker { data_ms: None, ..t })
            .collect::<Vec<_>>();
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
