//! Plugins in JavaScript (componentize-js) and Python (componentize-py), each the author's way:
//! `pulse new --lang`, the native test, the build, `pulse check`, and serving in the daemon
//! beside the bundled Rust plugins, its verdicts in `analysis:breakdown:<SYMBOL>`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{plugin_dir, pulse, text, wait_for, Daemon, Memcached};

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

/// `pulse new analyzer NAME --lang LANG` in `dir`.
fn scaffold(dir: &Path, name: &str, lang: &str) -> std::path::PathBuf {
    let out = pulse(&["new", "analyzer", name, "--lang", lang, "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    dir.join(name)
}

/// `pulse check`s `wasm`, serves it with the bundled plugins, and returns BTCUSDT's breakdown
/// once it holds the plugin's verdict; the plugin's first-cycle log line must reach the log.
fn check_and_serve(wasm: &Path, name: &str) -> serde_json::Value {
    let out = pulse(&["check", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{name} 0.1.0")) && text(&out).contains("30 of 30 symbols scored"),
        "{}",
        text(&out)
    );

    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    std::fs::copy(wasm, plugins.path().join(wasm.file_name().unwrap())).unwrap();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5"],
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
    assert!(
        daemon.log().contains(&format!("{name} scoring 30 symbols")),
        "the plugin's host log line is missing:\n{}",
        daemon.log()
    );
    breakdown
}

#[test]
fn a_javascript_analyzer_is_scaffolded_built_checked_and_served() {
    let install = "install node 20 and npm: apt-get install nodejs npm";
    let dir = tempfile::tempdir().unwrap();
    let project = scaffold(dir.path(), "js-signal", "js");
    run(&project, "node", &["--version"], install);
    run(
        &project,
        "npm",
        &["ci", "--prefer-offline", "--no-audit", "--no-fund"],
        install,
    );
    let tests = run(&project, "npm", &["test"], install);
    assert!(tests.contains("# pass 2") && tests.contains("# fail 0"), "{tests}");
    run(&project, "npm", &["run", "build"], install);
    check_and_serve(&project.join("js_signal.wasm"), "js-signal");
}

#[test]
fn a_python_analyzer_is_scaffolded_built_checked_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let project = scaffold(dir.path(), "py-signal", "python");
    let tests = run(&project, "python3", &["-m", "unittest"], "install python3");
    assert!(tests.contains("Ran 2 tests") && tests.contains("OK"), "{tests}");
    // build.sh names the install command if componentize-py is missing (scripts/setup installs it).
    run(
        &project,
        "./build.sh",
        &[],
        "build.sh is written executable by pulse new",
    );
    check_and_serve(&project.join("py_signal.wasm"), "py-signal");
}
