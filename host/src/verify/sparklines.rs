//! The check on `market:sparklines`: one-minute closes of symbols the tickers list, each a
//! positive number, no more than an hour and the forming minute, from the overview's cycle.

use std::fmt::Write as _;

use pulse_keys::{Overview, Sparklines, Tickers, SPARKLINE_POINTS, SPARKLINE_TIMEFRAME};

/// Checks `lines` against the documented shape and the other keys.
pub(super) fn check(
    lines: &Sparklines,
    tickers: Option<&Tickers>,
    overview: Option<&Overview>,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    let key = pulse_keys::SPARKLINES;
    let longest = lines.symbols.values().map(|l| l.closes.len()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "sparklines {} symbols, up to {longest} closes of {}",
        lines.symbols.len(),
        lines.timeframe
    );
    if lines.timeframe != SPARKLINE_TIMEFRAME {
        problems.push(format!(
            "{key}.timeframe is {:?}, not {SPARKLINE_TIMEFRAME:?}",
            lines.timeframe
        ));
    }
    if let Some(o) = overview {
        if lines.cycle + 1 < o.cycle {
            problems.push(format!(
                "{key} is from cycle {}, market:overview from {}",
                lines.cycle, o.cycle
            ));
        }
    }
    for (symbol, line) in &lines.symbols {
        if tickers.is_some_and(|t| !t.contains_key(symbol)) {
            problems.push(format!("{key} has {symbol}, which market:tickers does not list"));
        }
        if line.closes.is_empty() || line.closes.len() > SPARKLINE_POINTS {
            problems.push(format!(
                "{key}.{symbol} has {} closes, not 1 to {SPARKLINE_POINTS}",
                line.closes.len()
            ));
        }
        if let Some(bad) = line.closes.iter().find(|c| !c.is_finite() || **c <= 0.0) {
            problems.push(format!("{key}.{symbol} holds the close {bad}, not a positive number"));
        }
        if line.start.rem_euclid(60) != 0 {
            problems.push(format!("{key}.{symbol}.start {} is not on a minute", line.start));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use pulse_keys::Sparkline;

    use super::*;

    #[test]
    fn names_each_thing_wrong_with_a_line() {
        let line = |closes: Vec<f64>, start| Sparkline {
            start,
            closes,
            forming: true,
        };
        let lines = Sparklines {
            timeframe: "1h".to_string(),
            symbols: BTreeMap::from([
                ("AUSDT".to_string(), line(vec![1.0, 2.0], 120)),
                ("BUSDT".to_string(), line(vec![1.0, f64::NAN], 61)),
                ("CUSDT".to_string(), line(vec![1.0; SPARKLINE_POINTS + 1], 60)),
            ]),
            cycle: 3,
            timestamp: 0,
        };
        let (mut out, mut problems) = (String::new(), Vec::new());
        check(&lines, None, None, &mut out, &mut problems);
        assert!(out.starts_with("sparklines 3 symbols, up to 62 closes of 1h"), "{out}");
        let all = problems.join("\n");
        for expected in [
            "not \"1m\"",
            "BUSDT holds the close NaN",
            "BUSDT.start 61 is not on a minute",
            "CUSDT has 62 closes",
        ] {
            assert!(all.contains(expected), "{expected:?} not in:\n{all}");
        }
        assert_eq!(problems.len(), 4, "{all}");
    }
}
