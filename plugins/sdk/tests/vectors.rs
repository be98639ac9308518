//! The shared indicator vectors (`plugins/vectors/indicators.json`), natively: `runner` checks
//! every case bit for bit. The JavaScript and Python SDKs run the same file, and the `vectors`
//! fixture plugin runs `runner` inside the daemon's sandbox.
//!
//! The file is written from this SDK by `PULSE_WRITE_VECTORS=1 cargo test -p pulse-sdk --test
//! vectors` (with the host's target), and only on purpose: a change that moves any output must
//! say why in its commit, and the other two SDKs must follow it.

#[path = "vectors/runner.rs"]
mod runner;

use runner::{hex, output_names, run_case};
use serde_json::{json, Value};

/// The vector file, from this crate's folder.
const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/indicators.json");

#[test]
fn every_vector_gives_its_expected_bits_in_batch_and_streaming() {
    let checked =
        runner::check(&std::fs::read_to_string(FILE).expect("the vector file")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        checked.cases > 200 && checked.outputs > 20_000,
        "{} cases, {} outputs",
        checked.cases,
        checked.outputs
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
    // A column that ends in a gap, as a series of the last call may (the indicator's value at
    // its end is NaN, whatever came before).
    let mut gap_last = walk[..50].to_vec();
    gap_last[20] = f64::NAN;
    gap_last[49] = f64::NAN;
    out.push(("gappy".into(), gappy));
    out.push(("gappy-high".into(), gappy_high));
    out.push(("gap-last".into(), gap_last));
    // Columns that open with gaps, and one that is nothing but gaps.
    let mut gap_first = vec![f64::NAN, f64::NEG_INFINITY, f64::NAN];
    gap_first.extend_from_slice(&walk[..40]);
    out.push(("gap-first".into(), gap_first));
    out.push((
        "all-gaps".into(),
        vec![f64::NAN, f64::INFINITY, f64::NAN, f64::NEG_INFINITY],
    ));
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
    // Sums that overflow: ±∞ and NaN as IEEE arithmetic gives them.
    out.push((
        "overflow".into(),
        vec![
            1e308, -1e308, 1e308, 5.0, 6.0, -1e308, 7.0, 8.0, 9.0, 10.0, 1.7e308, 1.7e308, 11.0,
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
    let single = [
        "ramp",
        "constant",
        "short",
        "walk",
        "gappy",
        "gap-last",
        "gap-first",
        "all-gaps",
        "extremes",
        "ties",
        "overflow",
    ];
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

/// The whole vector file as this SDK writes it: the inputs above, and its outputs for them.
fn generated() -> Value {
    let series: serde_json::Map<String, Value> = series()
        .into_iter()
        .map(|(name, values)| (name, json!(values.iter().map(|&v| hex(v)).collect::<Vec<_>>())))
        .collect();
    let series = Value::Object(series);
    let mut cases = cases();
    for case in &mut cases {
        let outputs = run_case(case, &series).unwrap();
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
    json!({
        "format": "pulse-indicator-vectors/1",
        "about": "Inputs and expected outputs of the Pulse SDKs' indicators, checked bit for bit by the Rust, JavaScript and Python SDKs. Every number is the 16 hex digits of its IEEE-754 binary64 bits; any NaN matches any NaN. Written by plugins/sdk/tests/vectors.rs (PULSE_WRITE_VECTORS=1); docs/plugins/indicators.md defines each indicator.",
        "series": series,
        "cases": cases,
    })
}

/// The file is exactly what the generator writes (so its inputs cannot drift from the code
/// that made them). `PULSE_WRITE_VECTORS=1` rewrites it first: on purpose only, saying why in
/// the commit, with the other two SDKs following.
#[test]
fn the_file_is_what_the_generator_writes() {
    let generated = generated();
    if std::env::var("PULSE_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(FILE, serde_json::to_string(&generated).unwrap() + "\n").unwrap();
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(FILE).expect("the vector file")).unwrap();
    assert!(
        file == generated,
        "{FILE} is not what the generator writes: rerun with PULSE_WRITE_VECTORS=1 if the change is meant"
    );
}
