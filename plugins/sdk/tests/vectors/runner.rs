//! Runs the shared indicator vectors (`plugins/vectors/indicators.json`) against this SDK: every
//! case's expected outputs, bit for bit, from the batch functions and from the streaming types
//! (`peek` of another value, `peek` and `update` at every value, and again after `reset`), and
//! `last` over whole columns and parts of them.
//! The SDK's `vectors` test runs it natively; the `vectors` fixture plugin runs it inside the
//! daemon's sandbox, so it reports mismatches as errors rather than panics.

use pulse_sdk::indicators::*;
use pulse_sdk::math::{exp, ln};
use serde_json::Value;

/// What a whole run checked.
pub struct Checked {
    /// Cases run.
    pub cases: usize,
    /// Outputs compared bit for bit (batch; the streaming forms' are compared on the way).
    pub outputs: usize,
}

/// Runs every case of the vector file `text`; the first differences, if any, as the error.
pub fn check(text: &str) -> Result<Checked, String> {
    let file: Value = serde_json::from_str(text).map_err(|e| format!("the vector file: {e}"))?;
    if file["format"] != "pulse-indicator-vectors/1" {
        return Err(format!("the vector file's format is {}", file["format"]));
    }
    let cases = file["cases"].as_array().ok_or("the vector file has no cases")?;
    let (mut outputs, mut mismatches) = (0, Vec::new());
    for case in cases {
        let got = run_case(case, &file["series"])?;
        let names = case["indicator"].as_str().map_or(&["value"][..], output_names);
        for (column, output) in got.iter().zip(names) {
            let expected = case["outputs"][output].as_array().ok_or("a case lacks an output")?;
            if expected.len() != column.len() {
                return Err(format!(
                    "{} {output}: {} values, expected {}",
                    case["name"],
                    column.len(),
                    expected.len()
                ));
            }
            for (t, (g, e)) in column.iter().zip(expected).enumerate() {
                outputs += 1;
                if !same(*g, unhex(e)) {
                    mismatches.push(format!(
                        "{} {output}[{t}]: got {} ({g:e}), expected {e}",
                        case["name"].as_str().unwrap_or("?"),
                        hex(*g)
                    ));
                }
            }
        }
    }
    if mismatches.is_empty() {
        Ok(Checked {
            cases: cases.len(),
            outputs,
        })
    } else {
        Err(format!(
            "{} outputs differ; the first:\n{}",
            mismatches.len(),
            mismatches[..mismatches.len().min(10)].join("\n")
        ))
    }
}

/// A case's indicator, behind one face: its inputs (one column, or high, low, close) in, its
/// named outputs out.
trait Stream {
    fn update(&mut self, inputs: &[f64]) -> Vec<f64>;
    fn peek(&self, inputs: &[f64]) -> Vec<f64>;
    fn reset(&mut self);
    /// `last` over `columns` (one, or high, low and close).
    fn last(&mut self, columns: &[&[f64]]) -> Vec<f64>;
}

/// Outputs as a list, in the file's order.
trait Outputs {
    fn list(self) -> Vec<f64>;
}
impl Outputs for f64 {
    fn list(self) -> Vec<f64> {
        vec![self]
    }
}
impl Outputs for MacdValue {
    fn list(self) -> Vec<f64> {
        vec![self.macd, self.signal, self.histogram]
    }
}
impl Outputs for Bands {
    fn list(self) -> Vec<f64> {
        vec![self.upper, self.middle, self.lower]
    }
}

/// A one-column indicator.
struct One<I>(I);
impl<I: Indicator> Stream for One<I>
where
    I::Output: Outputs,
{
    fn update(&mut self, inputs: &[f64]) -> Vec<f64> {
        self.0.update(inputs[0]).list()
    }
    fn peek(&self, inputs: &[f64]) -> Vec<f64> {
        self.0.peek(inputs[0]).list()
    }
    fn reset(&mut self) {
        self.0.reset();
    }
    fn last(&mut self, columns: &[&[f64]]) -> Vec<f64> {
        self.0.last(columns[0]).list()
    }
}

impl Stream for TrueRange {
    fn update(&mut self, i: &[f64]) -> Vec<f64> {
        vec![TrueRange::update(self, i[0], i[1], i[2])]
    }
    fn peek(&self, i: &[f64]) -> Vec<f64> {
        vec![TrueRange::peek(self, i[0], i[1], i[2])]
    }
    fn reset(&mut self) {
        TrueRange::reset(self);
    }
    fn last(&mut self, c: &[&[f64]]) -> Vec<f64> {
        vec![TrueRange::last(self, c[0], c[1], c[2])]
    }
}

impl Stream for Atr {
    fn update(&mut self, i: &[f64]) -> Vec<f64> {
        vec![Atr::update(self, i[0], i[1], i[2])]
    }
    fn peek(&self, i: &[f64]) -> Vec<f64> {
        vec![Atr::peek(self, i[0], i[1], i[2])]
    }
    fn reset(&mut self) {
        Atr::reset(self);
    }
    fn last(&mut self, c: &[&[f64]]) -> Vec<f64> {
        vec![Atr::last(self, c[0], c[1], c[2])]
    }
}

/// The case's streaming indicator, and its batch outputs over `columns`.
fn indicator(name: &str, p: &[f64], columns: &[Vec<f64>]) -> (Box<dyn Stream>, Vec<Vec<f64>>) {
    let n = |i: usize| p[i] as usize;
    let c = &columns[0];
    match name {
        "sma" => (Box::new(One(Sma::new(n(0)))), vec![sma(c, n(0))]),
        "ema" => (Box::new(One(Ema::new(n(0)))), vec![ema(c, n(0))]),
        "rsi" => (Box::new(One(Rsi::new(n(0)))), vec![rsi(c, n(0))]),
        "true_range" => (
            Box::new(TrueRange::new()),
            vec![true_range(c, &columns[1], &columns[2])],
        ),
        "atr" => (Box::new(Atr::new(n(0))), vec![atr(c, &columns[1], &columns[2], n(0))]),
        "macd" => {
            let m = macd(c, n(0), n(1), n(2));
            (
                Box::new(One(Macd::new(n(0), n(1), n(2)))),
                vec![m.macd, m.signal, m.histogram],
            )
        }
        "bollinger" => {
            let b = bollinger(c, n(0), p[1]);
            (
                Box::new(One(Bollinger::new(n(0), p[1]))),
                vec![b.upper, b.middle, b.lower],
            )
        }
        "rolling_std" => (Box::new(One(RollingStd::new(n(0)))), vec![rolling_std(c, n(0))]),
        "realised_volatility" => (
            Box::new(One(RealisedVolatility::new(n(0)))),
            vec![realised_volatility(c, n(0))],
        ),
        "roc" => (Box::new(One(Roc::new(n(0)))), vec![roc(c, n(0))]),
        "rolling_max" => (Box::new(One(RollingMax::new(n(0)))), vec![rolling_max(c, n(0))]),
        "rolling_min" => (Box::new(One(RollingMin::new(n(0)))), vec![rolling_min(c, n(0))]),
        other => panic!("unknown indicator {other}"),
    }
}

/// A column of `len` values cut in three for `last`: the first 5, up to the last 3, the last 3
/// (those that are not empty).
fn parts(len: usize) -> Vec<(usize, usize)> {
    let head = len.min(5);
    let tail = len.saturating_sub(3).max(head);
    [(0, head), (head, tail), (tail, len)]
        .into_iter()
        .filter(|(from, to)| from < to)
        .collect()
}

/// The output names of an indicator, in the file's order.
pub fn output_names(name: &str) -> &'static [&'static str] {
    match name {
        "macd" => &["macd", "signal", "histogram"],
        "bollinger" => &["upper", "middle", "lower"],
        _ => &["value"],
    }
}

pub fn hex(x: f64) -> String {
    let bits = if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() };
    format!("{bits:016x}")
}

pub fn unhex(v: &Value) -> f64 {
    f64::from_bits(u64::from_str_radix(v.as_str().expect("a hex string"), 16).expect("16 hex digits"))
}

/// Whether `a` and `b` are the same bits, any NaN matching any NaN.
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Every case's outputs, from the batch form, checked against the streaming form on the way:
/// at each step a `peek` of another value, a `peek` of the value and `update` all agree with
/// the batch output; after `reset`, the first values give the same again; `last` gives the
/// batch's last output over the whole column on a fresh indicator, and over the rest of it on
/// the one the run after `reset` left part way.
pub fn run_case(case: &Value, series: &Value) -> Result<Vec<Vec<f64>>, String> {
    let columns: Vec<Vec<f64>> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| {
            series[name.as_str().unwrap()]
                .as_array()
                .unwrap()
                .iter()
                .map(unhex)
                .collect()
        })
        .collect();
    let label = case["name"].as_str().unwrap();
    if let Some(function) = case["function"].as_str() {
        let f = match function {
            "ln" => ln,
            "exp" => exp,
            other => panic!("unknown function {other}"),
        };
        return Ok(vec![columns[0].iter().map(|&x| f(x)).collect()]);
    }
    let name = case["indicator"].as_str().unwrap();
    let params: Vec<f64> = case["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    let (mut stream, batch) = indicator(name, &params, &columns);
    let len = columns[0].len();
    let at = |t: usize| columns.iter().map(|c| c[t]).collect::<Vec<f64>>();
    for t in 0..len {
        let other: Vec<f64> = at(t).iter().map(|x| x * 1.5 + 1.0).collect();
        stream.peek(&other);
        let (peeked, updated) = (stream.peek(&at(t)), stream.update(&at(t)));
        for (k, out) in batch.iter().enumerate() {
            if !(same(peeked[k], out[t]) && same(updated[k], out[t])) {
                return Err(format!(
                    "{label}, output {k}, value {t}: peek {:e}, update {:e}, batch {:e}",
                    peeked[k], updated[k], out[t]
                ));
            }
        }
    }
    stream.reset();
    let taken = len.min(40);
    for t in 0..taken {
        let again = stream.update(&at(t));
        for (k, out) in batch.iter().enumerate() {
            if !same(again[k], out[t]) {
                return Err(format!("{label} after reset, value {t}"));
            }
        }
    }
    // `last` over the whole column on a fresh indicator; over the rest of it on the one the run
    // after `reset` left part way; and on a fresh one in three parts (the first 5 values, all
    // but the last 3, the last 3), so what `last` leaves is what `update` would, even mid
    // warm-up: each time the batch's output at the last value taken.
    let part = |from: usize, to: usize| columns.iter().map(|c| &c[from..to]).collect::<Vec<&[f64]>>();
    let (mut fresh, _) = indicator(name, &params, &columns);
    let mut runs = vec![("fresh".to_string(), fresh.last(&part(0, len)), len)];
    if taken < len {
        runs.push(("after the first values".into(), stream.last(&part(taken, len)), len));
    }
    let (mut parted, _) = indicator(name, &params, &columns);
    for (from, to) in parts(len) {
        runs.push((
            format!("on values {from} to {to} after the first"),
            parted.last(&part(from, to)),
            to,
        ));
    }
    for (how, got, upto) in runs {
        for (k, out) in batch.iter().enumerate() {
            let expected = upto.checked_sub(1).map_or(f64::NAN, |t| out[t]);
            if !same(got[k], expected) {
                return Err(format!(
                    "{label}, output {k}: last ({how}) {:e}, batch {expected:e}",
                    got[k]
                ));
            }
        }
    }
    Ok(batch)
}
