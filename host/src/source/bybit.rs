//! Bybit's v5 public REST API, linear perpetuals (`bybit`, `bybit:linear`) and spot
//! (`bybit:spot`):
//! - tickers: `GET /v5/market/tickers?category=linear|spot`. Numbers are strings;
//!   `price24hPcnt` is a fraction (`0.0123` is +1.23 %); `volume24h` is base volume and
//!   `turnover24h` quote turnover.
//! - klines: `GET /v5/market/kline?category=linear|spot&symbol=S&interval=1|5|15|60|240|D&limit=N`;
//!   `result.list` holds rows newest first, each `[startTime, open, high, low, close, volume,
//!   turnover]`, every field a string.
//!
//! Errors come as `retCode != 0` with `retMsg`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::dialect::{candle, number, Dialect};
use super::exchange;
use super::{Opened, Registration};
use crate::config::Config;
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;

/// `bybit` (linear perpetuals, also `bybit:linear`) and `bybit:spot`: Bybit's v5 tickers.
pub(super) const BYBIT: Registration = Registration {
    name: "bybit",
    usage: "bybit, bybit:spot",
    paced: false,
    resumable: true,
    open,
};

fn open(config: &Config, argument: Option<&str>) -> Result<Opened> {
    let spot = match argument {
        None | Some("linear") => false,
        Some("spot") => true,
        Some(other) => bail!("source bybit:{other}: the market is linear or spot"),
    };
    exchange::open(config, Box::new(Bybit { spot }))
}

/// Bybit v5, on one market.
struct Bybit {
    /// Spot, else linear perpetuals.
    spot: bool,
}

impl Bybit {
    /// The `category` of every request.
    fn category(&self) -> &'static str {
        if self.spot {
            "spot"
        } else {
            "linear"
        }
    }
}

impl Dialect for Bybit {
    fn name(&self) -> &'static str {
        if self.spot {
            "bybit:spot"
        } else {
            "bybit"
        }
    }

    fn default_url(&self) -> &'static str {
        "https://api.bybit.com"
    }

    fn tickers_path(&self) -> String {
        format!("/v5/market/tickers?category={}", self.category())
    }

    fn parse_tickers(&self, body: &[u8]) -> Result<Vec<Ticker>> {
        parse_tickers(body)
    }

    fn kline_path(&self, symbol: &str, timeframe: Timeframe, limit: u32) -> String {
        let interval = match timeframe {
            Timeframe::M1 => "1",
            Timeframe::M5 => "5",
            Timeframe::M15 => "15",
            Timeframe::H1 => "60",
            Timeframe::H4 => "240",
            Timeframe::D1 => "D",
        };
        let category = self.category();
        format!("/v5/market/kline?category={category}&symbol={symbol}&interval={interval}&limit={limit}")
    }

    fn parse_klines(&self, body: &[u8]) -> Result<Vec<Candle>> {
        parse_klines(body)
    }

    /// 600 requests in 5 s an IP; half of it.
    fn default_kline_rate(&self) -> u32 {
        60
    }
}

/// Every Bybit v5 answer: a code (0 for success), a message, and the result.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitResponse<R> {
    ret_code: i64,
    ret_msg: String,
    result: Option<R>,
}

impl<R> BybitResponse<R> {
    /// The result of an answer that reports success, else the error it reports.
    fn parse(body: &[u8]) -> Result<R>
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

fn parse_tickers(body: &[u8]) -> Result<Vec<Ticker>> {
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
struct BybitKlineList {
    #[serde(default)]
    list: Vec<Vec<Value>>,
}

fn parse_klines(body: &[u8]) -> Result<Vec<Candle>> {
    let list = BybitResponse::<BybitKlineList>::parse(body)?.list;
    // Newest first: turned around.
    Ok(list
        .iter()
        .rev()
        .map(|row| candle(row, [0, 1, 2, 3, 4, 5, 6]))
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
        let tickers = parse_tickers(body).unwrap();
        let btc = &tickers[0];
        assert_eq!(
            (btc.symbol.as_str(), btc.price, btc.volume_24h),
            ("BTCUSDT", 95000.5, 95000.2)
        );
        assert!((btc.change_24h - 2.1511).abs() < 1e-9);
        assert_eq!((btc.turnover_24h, btc.high_24h, btc.low_24h), (9e9, 96000.0, 92500.0));
        assert!(tickers[1].price.is_nan(), "an empty number must not become 0");
        let error = parse_tickers(br#"{"retCode":10001,"retMsg":"params error","result":{},"time":1}"#);
        assert!(error.unwrap_err().to_string().contains("params error"));
    }

    #[test]
    fn bybit_rows_come_newest_first_as_strings() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSDT","category":"linear","list":[
            ["1670608860000","17055.5","17080","17050","17071","12.5","213400.5"],
            ["1670608800000","17071","17073","17027","17055.5","268611","4582257.8"],
            ["1670608740000","oops","17073","17027","17055.5","1","1"]]},"retExtInfo":{},"time":1670608866000}"#;
        let candles = parse_klines(body).unwrap();
        assert_eq!(candles.len(), 3);
        assert!(
            candles[0].open.is_nan(),
            "the bad row is kept as NaN, for the store to refuse"
        );
        assert_eq!(
            candles[1],
            Candle {
                start_ms: 1_670_608_800_000,
                open: 17071.0,
                high: 17073.0,
                low: 17027.0,
                close: 17055.5,
                volume: 268611.0,
                turnover: 4582257.8
            }
        );
        assert_eq!(candles[2].start_ms, 1_670_608_860_000);
        let error = br#"{"retCode":10001,"retMsg":"Invalid period!","result":{},"time":1}"#;
        assert!(parse_klines(error).unwrap_err().to_string().contains("Invalid period"));
    }

    #[test]
    fn kline_requests_name_bybit_s_intervals() {
        assert_eq!(
            Bybit { spot: false }.kline_path("BTCUSDT", Timeframe::D1, 61),
            "/v5/market/kline?category=linear&symbol=BTCUSDT&interval=D&limit=61"
        );
        assert_eq!(
            Bybit { spot: true }.kline_path("ETHUSDT", Timeframe::H4, 2),
            "/v5/market/kline?category=spot&symbol=ETHUSDT&interval=240&limit=2"
        );
    }
}
