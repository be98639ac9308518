//! The WIT contract is language-neutral: an analyzer written in Python (componentize-py) is
//! built, passes `pulse check`, and serves in the daemon beside the Rust plugins.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{plugin_dir, repo_root, wait_for, Daemon, Memcached};

#[test]
fn the_python_analyzer_is_loaded_and_called() {
    let build = repo_root().join("examples/python-analyzer/build.sh");
    let out = Command::new(&build)
        .output()
        .expect("run the Python analyzer's build.sh");
    assert!(
        out.status.success(),
        "{} failed (it needs python3 and pip to install componentize-py):\n{}",
        build.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = repo_root().join("target/python/pyrevert.wasm");

    let check = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(["check", wasm.to_str().unwrap()])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        report.contains("pyrevert 0.2.0") && report.contains("z_score="),
        "{report}"
    );

    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "dashboard"]);
    std::fs::copy(&wasm, plugins.path().join("pyrevert.wasm")).unwrap();
    let daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5"],
    );
    // Compiling the 18 MB component takes seconds the first time; later runs use the cache.
    let breakdown = wait_for("the Python analyzer's output", Duration::from_secs(120), || {
        let bytes = memcached.get("analysis:breakdown:BTCUSDT")?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v["analyzers"]["pyrevert"]["components"]["z_score"]
            .is_number()
            .then_some(v)
    });
    assert_eq!(breakdown["analyzers"]["pyrevert"]["version"], "0.2.0");
    assert!(breakdown["analyzers"]["trend"].is_object(), "{breakdown}");
    assert!(
        daemon.log().contains("pyrevert scoring 30 symbols"),
        "the Python plugin's host log line is missing"
    );
}
