//! Hot swap at unit level: reconciling a real plugin directory, shadows included.

use std::path::Path;

use super::*;
use crate::config::Config;
use crate::plugin::engine::PluginEngine;
use crate::shared::call::Rollback;

/// A built plugin of the test command's build.
fn built(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/wasm32-wasip2/release/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-plugins", path.display()))
}

fn reloader(dir: &Path) -> (Reloader, PluginFeed) {
    let config = Config {
        plugin_dir: dir.to_path_buf(),
        compile_cache: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache")),
        ..Config::default()
    };
    Reloader::new(
        Stager::new(
            PluginEngine::new(&config.sandbox).unwrap(),
            &config,
            Some(HostKey::for_tests()),
        )
        .unwrap(),
        dir.to_path_buf(),
    )
}

fn versions(generation: &Generation) -> Vec<(String, String)> {
    generation
        .plugins()
        .map(|p| (p.id.to_string(), p.info.version.clone()))
        .collect()
}

#[test]
fn reconcile_follows_the_directory_and_publishes_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut reloader, mut feed) = reloader(dir.path());
    std::fs::write(dir.path().join("trend.wasm"), built("trend")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a plugin").unwrap();
    reloader.reconcile().unwrap();
    let first = feed.generation();
    assert_eq!(versions(&first), [("trend".into(), "0.3.0".into())]);

    // Nothing changed: no new generation.
    reloader.reconcile().unwrap();
    assert!(Arc::ptr_eq(&first, &feed.generation()));

    // A broken file is refused and remembered; the serving plugins stay.
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm garbage").unwrap();
    reloader.reconcile().unwrap();
    assert!(Arc::ptr_eq(&first, &feed.generation()));
    assert!(reloader.rejected.contains(&dir.path().join("broken.wasm")));

    // A new version swaps in; a file whose plugin names itself otherwise is refused.
    std::fs::write(dir.path().join("trend.wasm"), built("trend_v2")).unwrap();
    std::fs::write(dir.path().join("broken.wasm"), built("volatility")).unwrap();
    reloader.reconcile().unwrap();
    assert_eq!(versions(&feed.generation()), [("trend".into(), "2.0.0".into())]);

    // Renamed to its own name, it loads; a removed file unloads.
    std::fs::rename(dir.path().join("broken.wasm"), dir.path().join("volatility.wasm")).unwrap();
    std::fs::remove_file(dir.path().join("trend.wasm")).unwrap();
    reloader.reconcile().unwrap();
    assert_eq!(versions(&feed.generation()), [("volatility".into(), "0.2.0".into())]);
    assert!(reloader.rejected.is_empty(), "files gone are forgotten");
}

#[test]
fn a_shadow_is_loaded_beside_the_serving_version_and_unloaded_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut reloader, mut feed) = reloader(dir.path());
    std::fs::write(dir.path().join("trend.wasm"), built("trend")).unwrap();
    std::fs::create_dir(dir.path().join(SHADOW_DIR)).unwrap();
    std::fs::write(dir.path().join(SHADOW_DIR).join("trend.wasm"), built("trend_v2")).unwrap();
    reloader.reconcile().unwrap();
    let generation = feed.generation();
    assert_eq!(versions(&generation), [("trend".into(), "0.3.0".into())]);
    let shadows: Vec<(String, String)> = generation
        .shadows
        .iter()
        .map(|p| (p.id.to_string(), p.info.version.clone()))
        .collect();
    assert_eq!(shadows, [("trend".into(), "2.0.0".into())]);

    std::fs::remove_file(dir.path().join(SHADOW_DIR).join("trend.wasm")).unwrap();
    reloader.reconcile().unwrap();
    let generation = feed.generation();
    assert!(generation.shadows.is_empty());
    assert_eq!(versions(&generation), [("trend".into(), "0.3.0".into())]);
}

#[test]
fn a_rollback_restores_the_replaced_version_and_refuses_the_file_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut reloader, mut feed) = reloader(dir.path());
    let file = dir.path().join("trend.wasm");
    std::fs::write(&file, built("trend")).unwrap();
    reloader.reconcile().unwrap();
    std::fs::write(&file, built("trend_v2")).unwrap();
    reloader.reconcile().unwrap();
    let bad = feed.generation().get("trend").unwrap().clone();
    assert_eq!(bad.info.version, "2.0.0");

    let rollback = |hash: &str| Rollback {
        plugin: "trend".into(),
        hash: hash.into(),
        reason: "it failed 3 cycles in a row".into(),
        cycle: 9,
    };
    reloader.roll_back(&rollback("not-the-serving-hash"));
    assert_eq!(versions(&feed.generation()), [("trend".into(), "2.0.0".into())]);
    reloader.roll_back(&rollback(&bad.fingerprint.hash));
    assert_eq!(versions(&feed.generation()), [("trend".into(), "0.3.0".into())]);
    reloader.reconcile().unwrap();
    assert_eq!(
        versions(&feed.generation()),
        [("trend".into(), "0.3.0".into())],
        "the file that failed stays refused"
    );
    std::fs::write(dir.path().join("trend.toml"), "").unwrap();
    reloader.reconcile().unwrap();
    assert_eq!(
        versions(&feed.generation()),
        [("trend".into(), "2.0.0".into())],
        "a changed file (here its config) is staged again"
    );
}

#[test]
fn a_restart_keeps_a_rollback_and_a_shadow_of_the_same_bytes_is_only_a_shadow() {
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bad_hash = rolled_back_trend(dir.path(), state.path());

    // Restarted on the same state: the failing file is refused, the old version serves.
    let (mut reloader, mut feed) = reloader(dir.path());
    reloader.remember_rollbacks_in(state.path(), HostKey::for_tests());
    reloader.reconcile().unwrap();
    assert_eq!(versions(&feed.generation()), [("trend".into(), "0.3.0".into())]);
    // The same bytes as a shadow run as a shadow, and do not touch the rollback.
    std::fs::create_dir(dir.path().join(SHADOW_DIR)).unwrap();
    std::fs::write(dir.path().join(SHADOW_DIR).join("trend.wasm"), built("trend_v2")).unwrap();
    reloader.reconcile().unwrap();
    let generation = feed.generation();
    assert_eq!(generation.shadows[0].fingerprint.hash, bad_hash);
    assert_eq!(versions(&generation), [("trend".into(), "0.3.0".into())]);
    let (mut again, mut feed_again) = self::reloader(dir.path());
    again.remember_rollbacks_in(state.path(), HostKey::for_tests());
    again.reconcile().unwrap();
    assert_eq!(versions(&feed_again.generation()), [("trend".into(), "0.3.0".into())]);

    // A changed file stages as usual, and the rollback is forgotten.
    std::fs::write(dir.path().join("trend.toml"), "").unwrap();
    again.reconcile().unwrap();
    assert_eq!(versions(&feed_again.generation()), [("trend".into(), "2.0.0".into())]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("rolled-back/index.json")).unwrap()).unwrap();
    assert_eq!(index["entries"], serde_json::json!({}));
}

/// A reloader of `dir` that remembers rollbacks in `state`, with `trend` rolled back from
/// `trend_v2` to the bundled version; returns the failing version's hash.
fn rolled_back_trend(dir: &Path, state: &Path) -> String {
    let (mut reloader, mut feed) = reloader(dir);
    reloader.remember_rollbacks_in(state, HostKey::for_tests());
    let file = dir.join("trend.wasm");
    std::fs::write(&file, built("trend")).unwrap();
    reloader.reconcile().unwrap();
    std::fs::write(&file, built("trend_v2")).unwrap();
    reloader.reconcile().unwrap();
    let bad = feed.generation().get("trend").unwrap().fingerprint.hash.clone();
    reloader.roll_back(&Rollback {
        plugin: "trend".into(),
        hash: bad.clone(),
        reason: "it failed 3 cycles in a row".into(),
        cycle: 9,
    });
    bad
}

#[test]
fn bytes_planted_as_a_saved_version_never_run() {
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    rolled_back_trend(dir.path(), state.path());
    // Another plugin's bytes in place of the saved version: the index's fingerprint refuses
    // them, and the rolled-back file stays refused, so nothing of the name serves.
    std::fs::write(state.path().join("rolled-back/trend.wasm"), built("volatility")).unwrap();
    let (mut reloader, mut feed) = reloader(dir.path());
    reloader.remember_rollbacks_in(state.path(), HostKey::for_tests());
    reloader.reconcile().unwrap();
    assert!(versions(&feed.generation()).is_empty());
}

#[test]
fn an_index_changed_or_written_under_another_key_is_ignored_whole() {
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bad = rolled_back_trend(dir.path(), state.path());
    // Under another key (another host's, or a forger's), the index is not trusted: the
    // rollback is not remembered, and the file in the directory serves.
    let (mut reloader, mut feed) = reloader(dir.path());
    reloader.remember_rollbacks_in(state.path(), HostKey::ephemeral());
    reloader.reconcile().unwrap();
    assert_eq!(feed.generation().get("trend").unwrap().fingerprint.hash, bad);

    // An index changed to make a good file refused is not trusted either.
    let (dir, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bad = rolled_back_trend(dir.path(), state.path());
    drop((reloader, feed));
    let index_path = state.path().join("rolled-back/index.json");
    let index = std::fs::read_to_string(&index_path).unwrap();
    std::fs::write(&index_path, index.replace("it failed 3 cycles", "it failed 4 cycles")).unwrap();
    let (mut reloader, mut feed) = self::reloader(dir.path());
    reloader.remember_rollbacks_in(state.path(), HostKey::for_tests());
    reloader.reconcile().unwrap();
    assert_eq!(feed.generation().get("trend").unwrap().fingerprint.hash, bad);
}
