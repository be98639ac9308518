//! Candles from an exchange's public REST API: the kline request for a symbol and time frame,
//! and its answer parsed into candles, oldest first.
//!
//! - Bybit v5: `GET /v5/market/kline?category=linear|spot&symbol=S&interval=1|5|15|60|240|D&limit=N`.
//!   `result.list` holds rows newest first, each `[startTime, open, high, low, close, volume,
//!   turnover]`, every field a string.
//! - Binance spot: `GET /api/v3/klines?symbol=S&interval=1m|5m|15m|1h|4h|1d&limit=N`, an array
//!   of rows oldest first, each `[openTime, open, high, low, close, volume, closeTime,
//!   quoteVolume, trades, ...]`, times as integers and prices as strings.
//!
//! Both include the candle still forming. A field that does not parse becomes NaN (a start
//! time, -1), so the candle store refuses that row and counts it, and the rest are kept.

use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

use super::exchange::{BybitResponse, Exchange};
use crate::shared::candle::Candle;
use crate::shared::contract::Timeframe;

/// The path and query of the kline request for `limit` candles of `symbol`, newest included.
pub(super) fn kline_path(exchange: Exchange, symbol: &str, timeframe: Timeframe, limit: u32) -> String {
    match exchange {
        Exchange::BybitLinear | Exchange::BybitSpot => {
            let category = if exchange == Exchange::BybitSpot {
                "spot"
            } else {
                "linear"
            };
            let interval = match timeframe {
                Timeframe::M1 => "1",
                Timeframe::M5 => "5",
                Timeframe::M15 => "15",
                Timeframe::H1 => "60",
                Timeframe::H4 => "240",
                Timeframe::D1 => "D",
            };
            format!("/v5/market/kline?category={category}&symbol={symbol}&interval={interval}&limit={limit}")
        }
        Exchange::Binance => {
            let interval = crate::shared::timeframe::label(timeframe);
            format!("/api/v3/klines?symbol={symbol}&interval={interval}&limit={limit}")
        }
    }
}

/// The most candles one request asks for (both exchanges serve up to 1,000).
pub(super) const MAX_LIMIT: u32 = 1_000;

/// Parses a kline answer into candles, oldest first.
pub(super) fn parse_klines(exchange: Exchange, body: &[u8]) -> Result<Vec<Candle>> {
    match exchange {
        Exchange::BybitLinear | Exchange::BybitSpot => parse_bybit(body),
        Exchange::Binance => parse_binance(body),
    }
}

#[derive(Deserialize)]
struct BybitKlineList {
    #[serde(default)]
    list: Vec<Vec<Value>>,
}

fn parse_bybit(body: &[u8]) -> Result<Vec<Candle>> {
    let list = BybitResponse::<BybitKlineList>::parse(body)?.list;
    // Newest first: turned around.
    Ok(list
        .iter()
        .rev()
        .map(|row| candle(row, [0, 1, 2, 3, 4, 5, 6]))
        .collect())
}

fn parse_binance(body: &[u8]) -> Result<Vec<Candle>> {
    let rows: Vec<Vec<Value>> = serde_json::from_slice(body)?;
    Ok(rows.iter().map(|row| candle(row, [0, 1, 2, 3, 4, 5, 7])).collect())
}

/// The candle in `row`, reading start, open, high, low, close, volume and turnover from the
/// positions in `at`.
fn candle(row: &[Value], at: [usize; 7]) -> Candle {
    let number = |i: usize| match row.get(at[i]) {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(f64::NAN),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    let start = number(0);
    Candle {
        start_ms: if start.is_finite() && start.fract() == 0.0 {
            start as i64
        } else {
            -1
        },
        open: number(1),
        high: number(2),
        low: number(3),
        close: number(4),
        volume: number(5),
        turnover: number(6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bybit_rows_come_newest_first_as_strings() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSDT","category":"linear","list":[
            ["1670608860000","17055.5","17080","17050","17071","12.5","213400.5"],
            ["1670608800000","17071","17073","17027","17055.5","268611","4582257.8"],
            ["1670608740000","oops","17073","17027","17055.5","1","1"]]},"retExtInfo":{},"time":1670608866000}"#;
        let candles = parse_klines(Exchange::BybitLinear, body).unwrap();
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
        assert!(parse_klines(Exchange::BybitSpot, error)
            .unwrap_err()
            .to_string()
            .contains("Invalid period"));
    }

    #[test]
    fn binance_rows_come_oldest_first_with_integer_times() {
        let body = br#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"],
            [1499040060000,"0.01577100","0.01600000","0.01570000","0.01590000","10.5",1499040119999,"0.1665",3,"1","1","0"],
            ["x"]]"#;
        let candles = parse_klines(Exchange::Binance, body).unwrap();
        assert_eq!(candles[0].start_ms, 1_499_040_000_000);
        assert_eq!(
            (candles[0].close, candles[0].volume, candles[0].turnover),
            (0.015771, 148976.11427815, 2434.19055334)
        );
        assert_eq!(candles[1].start_ms, 1_499_040_060_000);
        assert_eq!(candles[2].start_ms, -1);
        assert!(parse_klines(Exchange::Binance, br#"{"code":-1121,"msg":"Invalid symbol."}"#).is_err());
    }

    #[test]
    fn requests_name_each_exchange_s_interval() {
        assert_eq!(
            kline_path(Exchange::BybitLinear, "BTCUSDT", Timeframe::D1, 61),
            "/v5/market/kline?category=linear&symbol=BTCUSDT&interval=D&limit=61"
        );
        assert_eq!(
            kline_path(Exchange::BybitSpot, "ETHUSDT", Timeframe::H4, 2),
            "/v5/market/kline?category=spot&symbol=ETHUSDT&interval=240&limit=2"
        );
        assert_eq!(
            kline_path(Exchange::Binance, "ETHUSDT", Timeframe::H1, 31),
            "/api/v3/klines?symbol=ETHUSDT&interval=1h&limit=31"
        );
    }
}
