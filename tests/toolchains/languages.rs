//! Plugins in JavaScript (componentize-js) and Python (componentize-py), each the author's way:
//! `pulse new --lang` for an analyzer (on the language's SDK and its SMA) and an aggregator,
//! their native tests, the builds,
//! `pulse check`, and serving in the daemon beside the bundled Rust plugins: the analyzer's
//! verdicts in `analysis:breakdown:<SYMBOL>`, the aggregator's key under its granted prefix.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pulse_testkit::{plugin_dir, pulse, text, wait_for, Daemon, Memcached};

/// Runs `program args` in `dir`; `missing` says how to install the program if it is absent.
fn run(dir: &Path, program: &str, args: &[&str], missing: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): {missing}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed in {}:\n{}",
        dir.display(),
        text(&out)
    );
    text(&out)
}

/// `pulse new KIND NAME --lang LANG` in `dir`.
fn scaffold(dir: &Path, kind: &str, name: &str, lang: &str) -> PathBuf {
    let out = pulse(&["new", kind, name, "--lang", lang, "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    dir.join(name)
}

/// `pulse check`s both components with `config` (the aggregator's `pulse.toml`, its grant, as
/// `pulse new` wrote it), serves them with the bundled plugins under the same config, and checks
/// that the analyzer's verdicts reach BTCUSDT's breakdown, the aggregator writes its key, and
/// both plugins' first-cycle log lines reach the daemon's log.
fn check_and_serve(analyzer: (&str, &Path), aggregator: (&str, &Path), config: &Path) {
    // A config the analyzer refuses fails the check with the analyzer's own reason.
    let side = analyzer.1.with_extension("toml");
    std::fs::write(&side, "perod = 5\n").unwrap();
    let out = pulse(&["check", analyzer.1.to_str().unwrap()]);
    assert!(
        !out.status.success() && text(&out).contains("init failed: config: unknown field(s) perod"),
        "{}",
        text(&out)
    );
    std::fs::remove_file(&side).unwrap();

    // Each keeps state (the analyzer its signals, the aggregator what it listed): check calls
    // it again from what it returned.
    let held = [
        format!("(declared at most 1048576, format {}-signals/1)", analyzer.0),
        format!("(declared at most 4096, format {}-listed/1)", aggregator.0),
    ];
    for ((name, wasm), held) in [analyzer, aggregator].into_iter().zip(held) {
        let out = pulse(&["check", wasm.to_str().unwrap(), "--config", config.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(&format!("{name} 0.1.0")), "{}", text(&out));
        assert!(text(&out).contains(&held), "{}", text(&out));
    }
    let (name, top) = (analyzer.0, aggregator.0);

    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    for (_, wasm) in [analyzer, aggregator] {
        std::fs::copy(wasm, plugins.path().join(wasm.file_name().unwrap())).unwrap();
    }
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5", "--config", config.to_str().unwrap()],
    );
    // Compiling a component that carries an interpreter takes seconds the first time.
    let breakdown = wait_for(&format!("{name}'s verdicts"), Duration::from_secs(120), || {
        let bytes = memcached.get("analysis:breakdown:BTCUSDT")?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v["analyzers"][name]["components"]["distance_pct"]
            .is_number()
            .then_some(v)
    });
    assert_eq!(breakdown["analyzers"][name]["version"], "0.1.0", "{breakdown}");
    assert!(breakdown["analyzers"][name]["score"].is_number(), "{breakdown}");
    assert!(breakdown["analyzers"]["trend"].is_object(), "{breakdown}");
    // Inside the sandbox, the analyzer's signals went into its state and came back.
    // `/plugins` shows a cycle once it is done, which is a moment after its keys are written.
    let mine = wait_for(&format!("{name} on /plugins"), Duration::from_secs(10), || {
        let (_, body) = pulse_testkit::http_get(&format!("{}/plugins", daemon.status_url()));
        let listed: Vec<serde_json::Value> = serde_json::from_str(&body).ok()?;
        listed.into_iter().find(|p| p["name"] == name)
    });
    assert!(mine["state_bytes"].as_u64() > Some(30 * 10), "{mine}");
    assert_eq!(mine["state_format"], format!("{name}-signals/1"), "{mine}");
    assert!(mine["failures"] == 0, "{mine}");

    let listed = wait_for(&format!("{top}'s key"), Duration::from_secs(60), || {
        let bytes = memcached.get(&format!("{top}:top"))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        (v.as_array()?.len() == 5).then_some(v)
    });
    for entry in listed.as_array().unwrap() {
        assert!(entry["symbol"].as_str().unwrap().ends_with("USDT"), "{listed}");
        assert!((0.0..=100.0).contains(&entry["score"].as_f64().unwrap()), "{listed}");
    }
    for line in [format!("{name} scoring 30 symbols"), format!("{top} aggregating ")] {
        assert!(
            daemon.log().contains(&line),
            "the plugin's host log line {line:?} is missing:\n{}",
            daemon.log()
        );
    }
}

#[test]
fn javascript_plugins_are_scaffolded_built_checked_and_served() {
    let install = "install node 20.19 or later with npm (apt-get install nodejs npm gives Debian 12 node 18, too old)";
    let dir = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    // Each template has a test of what it holds between calls (hysteresis).
    for (kind, name, tests) in [("analyzer", "js-signal", 3), ("aggregator", "js-top", 3)] {
        let project = scaffold(dir.path(), kind, name, "js");
        run(&project, "node", &["--version"], install);
        run(
            &project,
            "npm",
            &["ci", "--prefer-offline", "--no-audit", "--no-fund"],
            install,
        );
        // Node's TAP reporter says "# pass 2", its spec reporter (node 23 on) "ℹ pass 2".
        let (passed, out) = (format!("pass {tests}"), run(&project, "npm", &["test"], install));
        assert!(out.contains(&passed) && out.contains("fail 0"), "{out}");
        run(&project, "npm", &["run", "typecheck"], install);
        run(&project, "npm", &["run", "build"], install);
        built.push(project.join(format!("{}.wasm", name.replace('-', "_"))));
    }
    let config = dir.path().join("js-top/pulse.toml");
    check_and_serve(("js-signal", &built[0]), ("js-top", &built[1]), &config);
}

#[test]
fn python_plugins_are_scaffolded_built_checked_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    for (kind, name, tests) in [("analyzer", "py-signal", 3), ("aggregator", "py-top", 3)] {
        let project = scaffold(dir.path(), kind, name, "python");
        // The tests run with the SDK pulse new wrote beside the project on the path.
        let out = run(
            &project,
            "./build.sh",
            &["test"],
            "build.sh is written executable by pulse new",
        );
        assert!(
            out.contains(&format!("Ran {tests} tests")) && out.contains("OK"),
            "{out}"
        );
        // build.sh names the install command if componentize-py is missing (scripts/setup-tests installs it).
        run(
            &project,
            "./build.sh",
            &[],
            "build.sh is written executable by pulse new",
        );
        built.push(project.join(format!("{}.wasm", name.replace('-', "_"))));
    }
    let config = dir.path().join("py-top/pulse.toml");
    check_and_serve(("py-signal", &built[0]), ("py-top", &built[1]), &config);
}
