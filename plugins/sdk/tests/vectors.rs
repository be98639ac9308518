//! The shared indicator vectors (`plugins/vectors/indicators.json`): every case's expected
//! outputs, bit for bit, from the batch functions and from the streaming types (`peek` then
//! `update` at every value, and again after `reset`). The JavaScript and Python SDKs run the
//! same file.
//!
//! The file is written from this SDK by `cargo test -p pulse-sdk --test vectors -- --ignored
//! write_vectors` (with the host's target), and only on purpose: a change that moves any
//! output must say why in its commit, and the other two SDKs must follow it.

use pulse_sdk::indicators::*;
use pulse_sdk::math::{exp, ln};
use serde_json::{json, Value};

/// The vector file, from this crate's folder.
const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/indicators.json");

/// A case's indicator, behind one face: its inputs (one column, or high, low, close) in, its
/// named outputs out.
trait Stream {
    fn update(&mut self, inputs: &[f64]) -> Vec<f64>;
    fn peek(&self, inputs: &[f64]) -> Vec<f64>;
    fn reset(&mut self);
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

/// The output names of an indicator, in the file's order.
fn output_names(name: &str) -> &'static [&'static str] {
    match name {
        "macd" => &["macd", "signal", "histogram"],
        "bollinger" => &["upper", "middle", "lower"],
        _ => &["value"],
    }
}

fn hex(x: f64) -> String {
    let bits = if x.is_nan() { f64::NAN.to_bits() } else { x.to_bits() };
    format!("{bits:016x}")
}

fn unhex(v: &Value) -> f64 {
    f64::from_bits(u64::from_str_radix(v.as_str().expect("a hex string"), 16).expect("16 hex digits"))
}

/// Whether `a` and `b` are the same bits, any NaN matching any NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Every case's outputs, from the batch form, checked against the streaming form on the way:
/// at each step a `peek` of another value, a `peek` of the value and `update` all agree with
/// the batch output; after `reset`, the first values give the same again.
fn run_case(case: &Value, series: &Value) -> Vec<Vec<f64>> {
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
        return vec![columns[0].iter().map(|&x| f(x)).collect()];
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
            assert!(
                same(peeked[k], out[t]) && same(updated[k], out[t]),
                "{label}, output {k}, value {t}: peek {:e}, update {:e}, batch {:e}",
                peeked[k],
                updated[k],
                out[t]
            );
        }
    }
    stream.reset();
    for t in 0..len.min(40) {
        let again = stream.update(&at(t));
        for (k, out) in batch.iter().enumerate() {
            assert!(same(again[k], out[t]), "{label} after reset, value {t}");
        }
    }
    batch
}

#[test]
fn every_vector_gives_its_expected_bits_in_batch_and_streaming() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(FILE).expect("the vector file")).unwrap();
    assert_eq!(file["format"], "pulse-indicator-vectors/1");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() > 100, "{} cases", cases.len());
    let mut mismatches = Vec::new();
    for case in cases {
        let got = run_case(case, &file["series"]);
        let names = case["indicator"].as_str().map_or(&["value"][..], output_names);
        for (column, output) in got.iter().zip(names) {
            let expected = case["outputs"][output].as_array().expect("every output of the case");
            assert_eq!(expected.len(), column.len(), "{} {output}", case["name"]);
            for (t, (g, e)) in column.iter().zip(expected).enumerate() {
                if !same(*g, unhex(e)) {
                    mismatches.push(format!(
                        "{} {output}[{t}]: got {} ({g:e}), expected {e}",
                        case["name"].as_str().unwrap(),
                        hex(*g)
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} outputs differ; the first:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
}

/// A deterministic stream of numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The inputs: named columns.
fn series() -> Vec<(String, Vec<f64>)> {
    let mut rng = Lcg(20_261_207);
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    out.push(("ramp".into(), (1..=30).map(f64::from).collect()));
    out.push(("constant".into(), vec![100.0; 40]));
    out.push(("short".into(), vec![100.0, 101.0]));
    // Candles on a random walk: close, and a high and a low around it.
    for (name, len) in [("walk", 150), ("long", 600)] {
        let (mut close, mut high, mut low) = (Vec::new(), Vec::new(), Vec::new());
        let mut price = 100.0;
        for _ in 0..len {
            price *= 1.0 + (rng.next() - 0.5) * 0.02;
            close.push(price);
            high.push(price * (1.0 + rng.next() * 0.01));
            low.push(price * (1.0 - rng.next() * 0.01));
        }
        if name == "walk" {
            out.push(("walk-high".into(), high));
            out.push(("walk-low".into(), low));
        }
        out.push((name.into(), close));
    }
    // The walk with gaps (NaN, ±∞), a zero and a negative price, and a spike.
    let walk = out.iter().find(|(n, _)| n == "walk").unwrap().1.clone();
    let mut gappy = walk[..100].to_vec();
    for (at, v) in [
        (10, f64::NAN),
        (25, f64::INFINITY),
        (26, f64::NEG_INFINITY),
        (27, f64::NAN),
        (60, f64::NAN),
        (80, 0.0),
        (81, -5.0),
        (90, 1e6),
    ] {
        gappy[at] = v;
    }
    let mut gappy_high: Vec<f64> = out.iter().find(|(n, _)| n == "walk-high").unwrap().1[..100].to_vec();
    gappy_high[40] = f64::NAN;
    gappy_high[70] = f64::INFINITY;
    out.push(("gappy".into(), gappy));
    out.push(("gappy-high".into(), gappy_high));
    // Extreme magnitudes, signed zeros and ties.
    out.push((
        "extremes".into(),
        vec![
            1e300,
            -1e300,
            1e300,
            1e300,
            1e-300,
            5e-324,
            -5e-324,
            0.0,
            -0.0,
            1.7976931348623157e308,
            1.0,
            -1.7976931348623157e308,
            2.0,
            3.0,
            1e-310,
            4.0,
            1e300,
            1e300,
            1e300,
            7.0,
        ],
    ));
    out.push((
        "ties".into(),
        vec![
            0.0, -0.0, 0.0, -0.0, -0.0, 0.0, 1.0, 1.0, 1.0, -1.0, -1.0, 2.0, 2.0, -0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0,
        ],
    ));
    // ln over every scale, exp over its whole range, with the special values.
    let mut ln_in = vec![
        0.0,
        -0.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0,
        2.0,
        0.5,
        std::f64::consts::E,
        std::f64::consts::SQRT_2,
        std::f64::consts::FRAC_1_SQRT_2,
        5e-324,
        2.2250738585072014e-308,
        2.225073858507201e-308,
        1.7976931348623157e308,
        1.0 + f64::EPSILON,
        1.0 - f64::EPSILON / 2.0,
    ];
    for _ in 0..400 {
        let exponent = (rng.next() * 2098.0) as i32 - 1074;
        ln_in.push((1.0 + rng.next()) * 2f64.powi(exponent));
    }
    for _ in 0..100 {
        ln_in.push(1.0 + (rng.next() - 0.5) * 0.6);
    }
    out.push(("ln".into(), ln_in));
    let mut exp_in = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        709.782712893384,
        709.7827128933841,
        -745.1332191019411,
        -745.1332191019412,
        -708.4,
        -720.0,
        -740.0,
        1e-300,
        -1e-300,
        0.34657359027997264,
        -0.34657359027997264,
    ];
    for _ in 0..500 {
        exp_in.push(rng.next() * 1460.0 - 748.0);
    }
    for _ in 0..100 {
        exp_in.push((rng.next() - 0.5) * 2.0);
    }
    out.push(("exp".into(), exp_in));
    out
}

/// The cases: indicators by name, their parameters, and the series they run on.
fn cases() -> Vec<Value> {
    let single = ["ramp", "constant", "short", "walk", "gappy", "extremes", "ties"];
    let candles = [
        ["walk-high", "walk-low", "walk"],
        ["gappy-high", "walk-low", "gappy"],
        ["ramp", "ramp", "ramp"],
    ];
    let mut cases = Vec::new();
    let mut add = |indicator: &str, params: Vec<f64>, inputs: Vec<&str>| {
        let shown: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        cases.push(json!({
            "name": format!("{indicator}({}) on {}", shown.join(", "), inputs.join(", ")),
            "indicator": indicator,
            "params": params,
            "inputs": inputs,
        }));
    };
    let periods: &[(&str, &[&[f64]])] = &[
        ("sma", &[&[1.0], &[3.0], &[14.0]]),
        ("ema", &[&[1.0], &[3.0], &[12.0], &[26.0]]),
        ("rsi", &[&[1.0], &[2.0], &[14.0]]),
        ("macd", &[&[12.0, 26.0, 9.0], &[3.0, 6.0, 4.0], &[5.0, 3.0, 1.0]]),
        ("bollinger", &[&[20.0, 2.0], &[5.0, 1.5], &[1.0, 2.0]]),
        ("rolling_std", &[&[1.0], &[5.0], &[20.0]]),
        ("realised_volatility", &[&[2.0], &[5.0], &[30.0]]),
        ("roc", &[&[1.0], &[5.0], &[12.0]]),
        ("rolling_max", &[&[1.0], &[3.0], &[14.0]]),
        ("rolling_min", &[&[1.0], &[3.0], &[14.0]]),
    ];
    for (indicator, sets) in periods {
        for params in *sets {
            for input in single {
                add(indicator, params.to_vec(), vec![input]);
            }
        }
    }
    for (indicator, params) in [
        ("sma", vec![7.0]),
        ("rolling_std", vec![7.0]),
        ("bollinger", vec![7.0, 2.0]),
        ("rolling_max", vec![7.0]),
        ("rolling_min", vec![7.0]),
        ("realised_volatility", vec![7.0]),
    ] {
        add(indicator, params, vec!["long"]);
    }
    for inputs in candles {
        add("true_range", vec![], inputs.to_vec());
        for period in [1.0, 3.0, 14.0] {
            add("atr", vec![period], inputs.to_vec());
        }
    }
    for function in ["ln", "exp"] {
        cases.push(json!({ "name": function, "function": function, "inputs": [function] }));
    }
    cases
}

#[test]
#[ignore = "writes the vector file: run on purpose"]
fn write_vectors() {
    let series: serde_json::Map<String, Value> = series()
        .into_iter()
        .map(|(name, values)| (name, json!(values.iter().map(|&v| hex(v)).collect::<Vec<_>>())))
        .collect();
    let series = Value::Object(series);
    let mut cases = cases();
    for case in &mut cases {
        let outputs = run_case(case, &series);
        let names = case["indicator"].as_str().map_or(&["value"][..], output_names);
        let outputs: serde_json::Map<String, Value> = names
            .iter()
            .zip(outputs)
            .map(|(name, column)| {
                (
                    name.to_string(),
                    json!(column.iter().map(|&v| hex(v)).collect::<Vec<_>>()),
                )
            })
            .collect();
        case["outputs"] = Value::Object(outputs);
    }
    let file = json!({
        "format": "pulse-indicator-vectors/1",
        "about": "Inputs and expected outputs of the Pulse SDKs' indicators, checked bit for bit by the Rust, JavaScript and Python SDKs. Every number is the 16 hex digits of its IEEE-754 binary64 bits; any NaN matches any NaN. Written by plugins/sdk/tests/vectors.rs (write_vectors); docs/plugins/indicators.md defines each indicator.",
        "series": series,
        "cases": cases,
    });
    std::fs::write(FILE, serde_json::to_string(&file).unwrap() + "\n").unwrap();
}
