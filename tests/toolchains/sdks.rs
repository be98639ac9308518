//! The three SDKs inside the daemon's sandbox, through plugins built from `plugins/fixtures`:
//! - the shared indicator vectors (`plugins/vectors/indicators.json`): `pulse check` runs a
//!   plugin of each language once, and each runs its SDK's own vector runner on every case
//!   (batch, and streaming with `peek` at every step) and reports what it compared (natively the
//!   same file is checked by `cargo test`, `node --test` and `pytest`);
//! - ports of the bundled `trend` plugin's RSI to JavaScript and Python, served beside it: the
//!   breakdown keys show the same `rsi` for every symbol, to the last bit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pulse_testkit::{plugin_dir, plugin_wasm, pulse, repo_root, text, wait_for, Daemon, Memcached};

/// Every case of the vector file, and the outputs each plugin must report comparing.
fn expected() -> (usize, usize) {
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("plugins/vectors/indicators.json")).unwrap())
            .unwrap();
    let cases = file["cases"].as_array().unwrap();
    let outputs = cases
        .iter()
        .map(|c| {
            c["outputs"]
                .as_object()
                .unwrap()
                .values()
                .map(|o| o.as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    (cases.len(), outputs)
}

/// Runs `program args` in `dir`, failing with its output (and how to install it if absent).
fn run(dir: &Path, program: &str, args: &[&str], missing: &str) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): {missing}"));
    assert!(out.status.success(), "{program} {args:?} failed:\n{}", text(&out));
}

/// Copies `from` (a file or folder) to `to`.
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// The vector file as a module of one string, `TEXT`, in JavaScript or Python.
fn data_module(language: &str) -> String {
    let json = std::fs::read_to_string(repo_root().join("plugins/vectors/indicators.json")).unwrap();
    let literal = serde_json::to_string(&json).unwrap();
    match language {
        "js" => format!("export const TEXT = {literal};\n"),
        _ => format!("TEXT = {literal}\n"),
    }
}

/// How to install node.
const NODE: &str = "install node 20.19 or later with npm (scripts/setup-node)";

/// The JavaScript template's project in `dir`, its pinned packages installed: where
/// componentize-js runs.
fn js_tools(dir: &Path) -> PathBuf {
    let project = dir.join("js-tools");
    if !project.join("node_modules").is_dir() {
        let out = pulse(&[
            "new",
            "analyzer",
            "js-tools",
            "--lang",
            "js",
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        run(
            &project,
            "npm",
            &["ci", "--prefer-offline", "--no-audit", "--no-fund"],
            NODE,
        );
    }
    project
}

/// `fixture` (`vectors-js`, `rsi-port-js`) built with componentize-js, from a copy of the
/// JavaScript SDK beside it (with the vectors' runner and data), into `dir/FIXTURE.wasm`.
fn build_js(dir: &Path, fixture: &str) -> PathBuf {
    let project = js_tools(dir);
    let plugins = repo_root().join("plugins");
    let build = project.join("build");
    copy(&plugins.join("sdk-js/src"), &build.join("sdk-js/src"));
    copy(
        &plugins.join("sdk-js/test/vectors.js"),
        &build.join("sdk-js/test/vectors.js"),
    );
    let entry = format!("fixtures/{fixture}/plugin.js");
    copy(&plugins.join(&entry), &build.join(&entry));
    std::fs::create_dir_all(build.join("fixtures/vectors-js")).unwrap();
    std::fs::write(build.join("fixtures/vectors-js/vectors-data.js"), data_module("js")).unwrap();
    let wasm = dir.join(format!("{}.wasm", fixture.replace('-', "_")));
    let entry = format!("build/{entry}");
    let args = [
        "componentize-js",
        &entry,
        "--wit",
        "wit",
        "--world-name",
        "analyzer",
        "--disable",
        "http",
        "fetch-event",
        "--out",
        wasm.to_str().unwrap(),
    ];
    run(&project, "npx", &args, NODE);
    wasm
}

/// `fixture` (`vectors-python`, `rsi-port-python`) built with componentize-py against the
/// Python SDK (with the vectors' runner and data) into `dir/FIXTURE.wasm`.
fn build_python(dir: &Path, fixture: &str) -> PathBuf {
    let data = dir.join("py-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("vectors_data.py"), data_module("python")).unwrap();
    let plugins = repo_root().join("plugins");
    // A copy of the SDK: componentize-py writes bytecode beside what it imports, and the `pulse`
    // binary embeds the repository's SDK folder whole.
    let sdk = dir.join("py-sdk");
    copy(&plugins.join("sdk-python/src/pulse_sdk"), &sdk.join("pulse_sdk"));
    let wasm = dir.join(format!("{}.wasm", fixture.replace('-', "_")));
    let path = |p: &str| plugins.join(p).to_str().unwrap().to_string();
    run(
        dir,
        "componentize-py",
        &[
            "-d",
            &path("sdk/wit"),
            "-w",
            "analyzer",
            "componentize",
            "app",
            "-p",
            &path(&format!("fixtures/{fixture}")),
            "-p",
            sdk.to_str().unwrap(),
            "-p",
            &path("sdk-python/tests"),
            "-p",
            data.to_str().unwrap(),
            "-o",
            wasm.to_str().unwrap(),
        ],
        "install componentize-py: python3 -m pip install 'componentize-py==0.25.1' (scripts/setup-tests)",
    );
    wasm
}

#[test]
fn every_sdk_gives_the_vectors_bits_inside_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    // The interpreters' plugins run the whole file in one call: seconds, not the default 250 ms.
    let config = dir.path().join("pulse.toml");
    std::fs::write(
        &config,
        "[sandbox.plugin.vectors-js]\ncall_timeout_ms = 60000\nmemory_mib = 256\n\n\
         [sandbox.plugin.vectors-python]\ncall_timeout_ms = 60000\nmemory_mib = 256\n",
    )
    .unwrap();
    let rust = dir.path().join("vectors_rust.wasm");
    std::fs::copy(plugin_wasm("vectors"), &rust).unwrap();
    let built = [
        rust,
        build_js(dir.path(), "vectors-js"),
        build_python(dir.path(), "vectors-python"),
    ];
    let (cases, outputs) = expected();
    assert!(cases > 200 && outputs > 20_000, "{cases} cases, {outputs} outputs");
    for wasm in built {
        let out = pulse(&[
            "check",
            wasm.to_str().unwrap(),
            "--symbols",
            "2",
            "--config",
            config.to_str().unwrap(),
        ]);
        let shown = text(&out);
        assert!(out.status.success(), "{shown}");
        let counts = format!("cases={cases}.0000 outputs={outputs}.0000");
        assert_eq!(shown.matches(&counts).count(), 2, "{counts} for both symbols:\n{shown}");
    }
}

#[test]
fn ports_of_trends_rsi_give_its_bits_in_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    let ports = ["rsi-port-js", "rsi-port-python"];
    for wasm in [build_js(dir.path(), ports[0]), build_python(dir.path(), ports[1])] {
        std::fs::copy(&wasm, plugins.path().join(wasm.file_name().unwrap())).unwrap();
    }
    let _daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5"],
    );
    // Compiling a component that carries an interpreter takes seconds the first time; then each
    // breakdown holds the three plugins' RSI of one cycle.
    for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"] {
        let key = format!("analysis:breakdown:{symbol}");
        let (trend, ported) = wait_for(
            &format!("{symbol}'s RSI from all three"),
            Duration::from_secs(180),
            || {
                let bytes = memcached.get(&key)?;
                let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
                let rsi = |plugin: &str| v["analyzers"][plugin]["components"]["rsi"].as_f64();
                Some((rsi("trend")?, [rsi(ports[0])?, rsi(ports[1])?]))
            },
        );
        assert!((0.0..=100.0).contains(&trend), "{symbol}: {trend}");
        for (port, value) in ports.iter().zip(ported) {
            assert_eq!(
                value.to_bits(),
                trend.to_bits(),
                "{symbol}: {port} gives {value:e}, trend {trend:e}"
            );
        }
    }
}
