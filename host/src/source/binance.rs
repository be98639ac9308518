//! Binance's public spot REST API (`binance`):
//! - tickers: `GET /api/v3/ticker/24hr`, an array. `priceChangePercent` is already in percent;
//!   `volume` is base volume and `quoteVolume` quote turnover.
//! - klines: `GET /api/v3/klines?symbol=S&interval=1m|5m|15m|1h|4h|1d&limit=N`, an array of
//!   rows oldest first, each `[openTime, open, high, low, close, volume, closeTime,
//!   quoteVolume, trades, ...]`, times as integers and prices as strings.
//!
//! Errors come as a non-2xx status with `{"code": -1121, "msg": "..."}`.

use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

use super::dialect::{candle, number, Dialect};
use super::exchange;
use super::{no_argument, Opened, Registration};
use crate::config::Config;
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;
use crate::shared::market::Ticker;

/// `binance`: Binance's spot 24 h tickers.
pub(super) const BINANCE: Registration = Registration {
    name: "binance",
    usage: "binance",
    paced: false,
    resumable: true,
    open,
};

fn open(config: &Config, argument: Option<&str>) -> Result<Opened> {
    no_argument("binance", argument)?;
    exchange::open(config, Box::new(Binance))
}

/// Binance spot.
struct Binance;

impl Dialect for Binance {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn default_url(&self) -> &'static str {
        "https://api.binance.com"
    }

    fn tickers_path(&self) -> String {
        "/api/v3/ticker/24hr".to_string()
    }

    fn parse_tickers(&self, body: &[u8]) -> Result<Vec<Ticker>> {
        parse_tickers(body)
    }

    fn kline_path(&self, symbol: &str, timeframe: Timeframe, limit: u32) -> String {
        let interval = crate::shared::timeframe::label(timeframe);
        format!("/api/v3/klines?symbol={symbol}&interval={interval}&limit={limit}")
    }

    fn parse_klines(&self, body: &[u8]) -> Result<Vec<Candle>> {
        parse_klines(body)
    }

    /// 6,000 weight a minute an IP, 2 a kline request; half of it.
    fn default_kline_rate(&self) -> u32 {
        25
    }
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

fn parse_tickers(body: &[u8]) -> Result<Vec<Ticker>> {
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

fn parse_klines(body: &[u8]) -> Result<Vec<Candle>> {
    let rows: Vec<Vec<Value>> = serde_json::from_slice(body)?;
    Ok(rows.iter().map(|row| candle(row, [0, 1, 2, 3, 4, 5, 7])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_fields_map_to_one_meaning_each() {
        let body = br#"[{"symbol":"ETHUSDT","priceChange":"50.0","priceChangePercent":"1.493",
            "weightedAvgPrice":"3380","prevClosePrice":"3350","lastPrice":"3400.1","lastQty":"0.5",
            "bidPrice":"3400","bidQty":"1","askPrice":"3400.2","askQty":"2","openPrice":"3350.1",
            "highPrice":"3420","lowPrice":"3330","volume":"1500000","quoteVolume":"5100000000",
            "openTime":1,"closeTime":2,"firstId":1,"lastId":2,"count":2}]"#;
        let eth = &parse_tickers(body).unwrap()[0];
        assert_eq!(
            (eth.price, eth.change_24h, eth.volume_24h),
            (3400.1, 1.493, 1_500_000.0)
        );
        assert_eq!((eth.turnover_24h, eth.high_24h, eth.low_24h), (5.1e9, 3420.0, 3330.0));
        assert!(parse_tickers(br#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }

    #[test]
    fn binance_rows_come_oldest_first_with_integer_times() {
        let body = br#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"],
            [1499040060000,"0.01577100","0.01600000","0.01570000","0.01590000","10.5",1499040119999,"0.1665",3,"1","1","0"],
            ["x"]]"#;
        let candles = parse_klines(body).unwrap();
        assert_eq!(candles[0].start_ms, 1_499_040_000_000);
        assert_eq!(
            (candles[0].close, candles[0].volume, candles[0].turnover),
            (0.015771, 148976.11427815, 2434.19055334)
        );
        assert_eq!(candles[1].start_ms, 1_499_040_060_000);
        assert_eq!(candles[2].start_ms, -1);
        assert!(parse_klines(br#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }

    #[test]
    fn kline_requests_name_binance_s_intervals() {
        assert_eq!(
            Binance.kline_path("ETHUSDT", Timeframe::H1, 31),
            "/api/v3/klines?symbol=ETHUSDT&interval=1h&limit=31"
        );
    }
}
