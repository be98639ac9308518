//! The plugin author's loop with the real tools: `pulse new`, a native test, a wasm build,
//! `pulse check`, the running daemon; `pulse check` on faulty plugins; and `pulse replay` as a
//! deterministic backtest.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pulse_testkit::{fixture_wasm, plugin_dir, plugin_wasm, pulse, repo_root, text, wait_for, Daemon, Memcached};

fn cargo(dir: &Path, args: &[&str]) {
    let out = Command::new("cargo")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", repo_root().join("target/authoring"))
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// An author with nothing but the `pulse` binary: a copy of it alone in a fresh directory
/// writes a crate (and the SDK it carries) that builds, passes its test and `pulse check`, and
/// serves in the daemon.
#[test]
fn a_new_plugin_from_the_binary_alone_builds_checks_and_serves() {
    let home = tempfile::tempdir().unwrap();
    let lone = home.path().join("pulse");
    std::fs::copy(env!("CARGO_BIN_EXE_pulse"), &lone).unwrap();
    let work = home.path().join("plugins");
    std::fs::create_dir(&work).unwrap();
    let new = |args: &[&str]| {
        let out = Command::new(&lone).args(args).current_dir(&work).output().unwrap();
        assert!(out.status.success(), "pulse {args:?}: {}", text(&out));
    };
    new(&["new", "analyzer", "demo-signal"]);
    new(&["new", "aggregator", "demo-top"]);
    let readme = std::fs::read_to_string(work.join("demo-signal/README.md")).unwrap();
    assert!(readme.contains("`pulse guide rust`"), "{readme}");
    let guide = Command::new(&lone).args(["guide", "rust"]).output().unwrap();
    assert!(
        guide.status.success() && text(&guide).contains("pulse new analyzer"),
        "the guide the README points to is in the binary: {}",
        text(&guide)
    );

    let generated = files_under(&work);
    let repo = repo_root().canonicalize().unwrap();
    for file in &generated {
        let body = std::fs::read_to_string(file).unwrap();
        assert!(
            !body.contains(repo.to_str().unwrap()),
            "{} names the repository's path {}",
            file.display(),
            repo.display()
        );
    }
    let sdks: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("pulse-sdk"))
        .collect();
    assert_eq!(sdks.len(), 1, "the two crates share one SDK: {sdks:?}");
    let crate_dir = work.join("demo-signal");
    let config = std::fs::read_to_string(crate_dir.join(".cargo/config.toml")).unwrap();
    assert!(config.contains("+simd128"), "the wasm build takes SIMD: {config}");
    let check = |args: &[&str]| {
        let out = Command::new(&lone)
            .args(args)
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    let built = repo_root().join("target/authoring/wasm32-wasip2/release");
    for name in ["demo-signal", "demo-top"] {
        cargo(&work.join(name), &["test", "--quiet"]);
        cargo(
            &work.join(name),
            &["build", "--quiet", "--release", "--target", "wasm32-wasip2"],
        );
    }
    let wasm = built.join("demo_signal.wasm");
    let report = check(&["check", wasm.to_str().unwrap()]);
    assert!(
        report.contains("demo-signal 0.1.0") && report.contains("distance_pct="),
        "{report}"
    );
    // The aggregator's check takes the key grant `pulse new` wrote beside it.
    let grant = work.join("demo-top/pulse.toml");
    let report = check(&[
        "check",
        built.join("demo_top.wasm").to_str().unwrap(),
        "--config",
        grant.to_str().unwrap(),
    ]);
    assert!(report.contains("demo-top:top") && report.contains("ok"), "{report}");

    let memcached = Memcached::start();
    let plugins = plugin_dir(&["dashboard"]);
    std::fs::copy(&wasm, plugins.path().join("demo_signal.wasm")).unwrap();
    let _daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.3"],
    );
    let signals = wait_for("the new plugin's output", Duration::from_secs(30), || {
        let bytes = memcached.get("analysis:signals")?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v["signals"][0]["components"].get("demo-signal").is_some().then_some(v)
    });
    assert!(
        signals["signals"][0]["components"]["demo-signal"]["distance_pct"].is_number(),
        "{signals}"
    );
}

#[test]
fn check_names_the_fault_of_every_faulty_plugin() {
    let grants = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        grants.path(),
        "[sandbox.plugin.fault-writer]\nkey_prefixes = [\"fault:\"]\n[sandbox.plugin.fault-flood]\nkey_prefixes = [\"flood:\"]\nmemory_mib = 512\ncall_timeout_ms = 5000\n",
    )
    .unwrap();
    for (fault, reason) in [
        ("fault_loop", "exceeded its call deadline"),
        ("fault_bomb", "exceeded its memory cap"),
        ("fault_trap", "unreachable"),
        ("fault_panic_init", "init failed"),
        ("fault_liar", "3 verdicts with a score that is not a finite number"),
        ("fault_huge", "returned 30000 verdicts for 30 symbols"),
        ("fault_fat", "handed the host more than 655360 bytes in one call"),
        ("fault_bloat", "handed the host more than 65536 bytes in one call"),
        (
            "fault_impostor",
            "describe() names the plugin \"dashboard\" but its file \"fault_impostor.wasm\" makes it \"fault-impostor\"",
        ),
        ("fault_forger", "analyze failed: failed\\n2026-11-24T10:00:00.000000Z ERROR"),
        ("fault_flood", "returned 300000 cache entries, above the limit"),
        ("fault_writer", "is outside the prefixes fault-writer may write"),
    ] {
        let wasm = fixture_wasm(fault);
        let out = pulse(&[
            "check",
            wasm.to_str().unwrap(),
            "--config",
            grants.path().to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "pulse check passed {fault}:\n{}", text(&out));
        assert!(
            text(&out).contains(reason),
            "{fault}: expected {reason:?} in:\n{}",
            text(&out)
        );
    }
    let out = pulse(&["check", fixture_wasm("fault_writer").to_str().unwrap()]);
    assert!(
        text(&out).contains("key_prefixes = [\"fault:\"]"),
        "without a grant, check says how to grant:\n{}",
        text(&out)
    );
    let out = pulse(&["check", plugin_wasm("wrong_world").to_str().unwrap()]);
    assert!(
        !out.status.success() && text(&out).contains("exports neither"),
        "{}",
        text(&out)
    );
}

/// `pulse check` stages a plugin as the daemon does, so the `NAME.toml` beside it reaches its
/// `init` exactly as in the daemon: a good one is used, a bad one fails the check.
#[test]
fn check_reads_the_side_config_the_daemon_reads() {
    let dir = plugin_dir(&["trend"]);
    let wasm = dir.path().join("trend.wasm");
    let side = dir.path().join("trend.toml");
    std::fs::write(&side, "fast = 3\nslow = 9\n").unwrap();
    let out = pulse(&["check", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("init      ok with config {\"fast\":3,\"slow\":9}"),
        "{}",
        text(&out)
    );

    std::fs::write(&side, "fast = 9\nslow = 3\n").unwrap();
    let out = pulse(&["check", wasm.to_str().unwrap()]);
    assert!(
        !out.status.success() && text(&out).contains("config: fast (9) must be at least 1 and below slow (3)"),
        "{}",
        text(&out)
    );

    std::fs::write(&side, "fast = [\n").unwrap();
    let out = pulse(&["check", wasm.to_str().unwrap()]);
    assert!(
        !out.status.success() && text(&out).contains("config failed: bad config file"),
        "{}",
        text(&out)
    );
}

#[test]
fn replay_is_deterministic_and_shows_a_changed_analyzer() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("market.jsonl");
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let mut daemon = Daemon::serve(
        plugins.path().to_str().unwrap(),
        &memcached.addr,
        &[
            "--interval",
            "0.1",
            "--cycles",
            "8",
            "--record",
            recording.to_str().unwrap(),
        ],
    );
    assert!(daemon.wait(), "{}", daemon.log());

    let backtest = |plugins: &Path, out: &Path| {
        let result = pulse(&[
            "replay",
            "--plugins",
            plugins.to_str().unwrap(),
            "--input",
            recording.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(result.status.success(), "{}", text(&result));
        assert!(text(&result).contains("replayed 8 cycles"), "{}", text(&result));
        std::fs::read_to_string(out).unwrap()
    };
    let first = backtest(plugins.path(), &dir.path().join("a.jsonl"));
    let second = backtest(plugins.path(), &dir.path().join("b.jsonl"));
    assert_eq!(first, second, "two replays of the same market differ");
    assert_eq!(
        first
            .lines()
            .filter(|l| l.contains("\"key\":\"market:overview\""))
            .count(),
        8
    );
    assert!(!first.contains("pulse:status"));

    std::fs::copy(plugin_wasm("trend_v2"), plugins.path().join("trend.wasm")).unwrap();
    let swapped = backtest(plugins.path(), &dir.path().join("c.jsonl"));
    assert_ne!(first, swapped, "a different analyzer should change the output");
    assert!(swapped.contains("v2_marker") && !first.contains("v2_marker"));
}
