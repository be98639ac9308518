//! The checks on each dashboard key, and on how the keys agree with each other.

use std::fmt::Write as _;

use anyhow::Result;
use pulse_keys::{
    Breadth, Breakdown, Mover, Movers, Overview, Signals, Tickers, BREADTH_SENTIMENTS, REGIMES, SIGNAL_NAMES,
};

use super::{Reader, Status};

/// `market:overview`: ranges, regime, staleness, and a cycle no older than the status's.
pub(super) fn overview(o: &Overview, status: Option<&Status>, out: &mut String, problems: &mut Vec<String>) {
    let _ = writeln!(
        out,
        "market    {} symbols, regime {} (trend strength {:.0}), avg change {:+.2} %, BTC dominance {:.1} %",
        o.total_symbols, o.market_regime, o.trend_strength, o.average_change_24h, o.btc_dominance
    );
    in_range(problems, "market:overview.trend_strength", o.trend_strength, 0.0, 100.0);
    in_range(problems, "market:overview.btc_dominance", o.btc_dominance, 0.0, 100.0);
    in_range(
        problems,
        "market:overview.current_volatility",
        o.current_volatility,
        0.0,
        f64::MAX,
    );
    in_range(
        problems,
        "market:overview.total_volume_24h",
        o.total_quote_volume_24h,
        0.0,
        f64::MAX,
    );
    if o.stale {
        problems.push(format!(
            "market:overview is stale: the source failed and its snapshot is {:.1} s old",
            o.snapshot_age_ms as f64 / 1000.0
        ));
    }
    if !REGIMES.contains(&o.market_regime.as_str()) {
        problems.push(format!(
            "market:overview.market_regime {:?} is not one of {REGIMES:?}",
            o.market_regime
        ));
    }
    if let Some(s) = status {
        if o.cycle + 1 < s.cycle {
            problems.push(format!(
                "market:overview is from cycle {}, status is at {}",
                o.cycle, s.cycle
            ));
        }
    }
}

/// `analysis:market_regime`: present and one of the regimes.
pub(super) fn regime(regime: Option<&str>, problems: &mut Vec<String>) {
    match regime {
        None => problems.push("analysis:market_regime is missing".into()),
        Some(r) if !REGIMES.contains(&r) => {
            problems.push(format!("analysis:market_regime {r:?} is not one of {REGIMES:?}"))
        }
        _ => {}
    }
}

/// `market:tickers` and each symbol's breakdown: signals, prices within their range, and as
/// many symbols as the market has at most.
pub(super) async fn tickers(
    reader: &Reader,
    t: &Tickers,
    overview: Option<&Overview>,
    problems: &mut Vec<String>,
) -> Result<()> {
    if let Some(o) = overview {
        if t.is_empty() || t.len() > o.total_symbols {
            problems.push(format!(
                "market:tickers has {} symbols for a market of {}",
                t.len(),
                o.total_symbols
            ));
        }
    }
    for (symbol, ticker) in t {
        if !SIGNAL_NAMES.contains(&ticker.signal.as_str()) {
            problems.push(format!("market:tickers.{symbol}.signal {:?} is unknown", ticker.signal));
        }
        if !(ticker.low_24h <= ticker.price && ticker.price <= ticker.high_24h) {
            problems.push(format!("market:tickers.{symbol}: price outside its 24 h range"));
        }
        if ticker.quote_volume_24h < 0.0 || ticker.score.is_some_and(|s| !(0.0..=100.0).contains(&s)) {
            problems.push(format!(
                "market:tickers.{symbol}: negative volume or score outside 0..100"
            ));
        }
    }
    for symbol in t.keys() {
        let key = pulse_keys::breakdown_key(symbol);
        if let Some(b) = reader.json::<Breakdown>(&key, problems).await? {
            if &b.symbol != symbol || !SIGNAL_NAMES.contains(&b.signal.as_str()) {
                problems.push(format!("{key}: wrong symbol or unknown signal"));
            }
            for (name, v) in &b.analyzers {
                if v.score.is_some() != v.signal.is_some() {
                    problems.push(format!(
                        "{key}: analyzer {name} has a score without a signal or vice versa"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `market:movers`: gainers positive and largest first, losers negative and most negative
/// first, at most five each, every one in `market:tickers`.
pub(super) fn movers(m: &Movers, tickers: Option<&Tickers>, out: &mut String, problems: &mut Vec<String>) {
    let line = |list: &[Mover]| {
        list.iter()
            .map(|m| format!("{} {:+.2} %", m.symbol, m.change_24h))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "gainers   {}", line(&m.gainers));
    let _ = writeln!(out, "losers    {}", line(&m.losers));
    if m.gainers.windows(2).any(|w| w[0].change_24h < w[1].change_24h) || m.gainers.iter().any(|g| g.change_24h <= 0.0)
    {
        problems.push("market:movers.gainers must be positive changes, largest first".into());
    }
    if m.losers.windows(2).any(|w| w[0].change_24h > w[1].change_24h) || m.losers.iter().any(|l| l.change_24h >= 0.0) {
        problems.push("market:movers.losers must be negative changes, most negative first".into());
    }
    if m.gainers.len() > 5 || m.losers.len() > 5 {
        problems.push("market:movers lists more than 5 gainers or losers".into());
    }
    for mover in m.gainers.iter().chain(&m.losers) {
        if tickers.is_some_and(|t| !t.contains_key(&mover.symbol)) {
            problems.push(format!(
                "market:movers names {} which market:tickers lacks",
                mover.symbol
            ));
        }
    }
}

/// `market:breadth`: counts that add up to the market, a percentage, a known sentiment.
pub(super) fn breadth(b: &Breadth, overview: Option<&Overview>, out: &mut String, problems: &mut Vec<String>) {
    let _ = writeln!(
        out,
        "breadth   {} up / {} down / {} flat, {:.0} % ({})",
        b.up_count, b.down_count, b.flat_count, b.breadth_percentage, b.market_sentiment
    );
    if let Some(o) = overview {
        if b.up_count + b.down_count + b.flat_count != o.total_symbols {
            problems.push("market:breadth counts do not add up to market:overview.total_symbols".into());
        }
    }
    in_range(
        problems,
        "market:breadth.breadth_percentage",
        b.breadth_percentage,
        0.0,
        100.0,
    );
    if !BREADTH_SENTIMENTS.contains(&b.market_sentiment.as_str()) {
        problems.push(format!(
            "market:breadth.market_sentiment {:?} is unknown",
            b.market_sentiment
        ));
    }
}

/// `analysis:signals`: a count that matches, sorted by score, known names, scores in range.
pub(super) fn signals(s: &Signals, out: &mut String, problems: &mut Vec<String>) {
    let top: Vec<String> = s
        .signals
        .iter()
        .take(5)
        .map(|e| format!("{} {:.1} {}", e.symbol, e.score, e.signal))
        .collect();
    let _ = writeln!(out, "signals   {} scored; top: {}", s.count, top.join(", "));
    if s.count != s.signals.len() || s.count > s.symbols_scored {
        problems.push(format!(
            "analysis:signals.count is {} but it lists {}",
            s.count,
            s.signals.len()
        ));
    }
    if s.signals.windows(2).any(|w| w[0].score < w[1].score) {
        problems.push("analysis:signals is not sorted by score, highest first".into());
    }
    for e in &s.signals {
        if !SIGNAL_NAMES.contains(&e.signal.as_str()) || !REGIMES.contains(&e.sentiment.as_str()) {
            problems.push(format!(
                "analysis:signals entry {} has an unknown signal or sentiment",
                e.symbol
            ));
        }
        in_range(
            problems,
            &format!("analysis:signals {} score", e.symbol),
            e.score,
            0.0,
            100.0,
        );
    }
}

fn in_range(problems: &mut Vec<String>, what: &str, value: f64, low: f64, high: f64) {
    if !(low..=high).contains(&value) {
        problems.push(format!("{what} is {value}, outside {low}..{high}"));
    }
}
