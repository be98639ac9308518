//! The compile cache at unit level: real components of the bundled plugins in a real
//! directory, the checks that keep anything but this host's own compilations from loading, and
//! the bound that keeps it from growing.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;

use super::{ArtifactCache, STALE_PARTIAL};
use crate::plugin::host_key::HostKey;

/// A bundled plugin as the test command builds it.
fn bundled(name: &str) -> (Vec<u8>, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/wasm32-wasip2/release/{name}.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-plugins", path.display()));
    (bytes, format!("{name}-hash"))
}

/// An engine for components, as the daemon's compiles them.
fn engine() -> Engine {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    Engine::new(&config).unwrap()
}

/// A file of `len` bytes, last modified `old` ago.
fn file(dir: &Path, name: &str, len: usize, old: Duration) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![0u8; len]).unwrap();
    age(&path, old);
    path
}

/// The names of the files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn opening_removes_the_least_recently_used_until_the_rest_fit() {
    let dir = tempfile::tempdir().unwrap();
    let hour = Duration::from_secs(3600);
    file(dir.path(), "oldest.cwasm", 400, 3 * hour);
    file(dir.path(), "older.cwasm", 400, 2 * hour);
    file(dir.path(), "newest.cwasm", 400, hour);
    file(dir.path(), "notes.txt", 10_000, 4 * hour);
    file(dir.path(), "dead-writer.tmp123_0", 400, STALE_PARTIAL + hour);
    file(dir.path(), "live-writer.tmp456_0", 400, Duration::ZERO);

    ArtifactCache::new(
        &engine(),
        Some(dir.path().to_path_buf()),
        900,
        Some(HostKey::ephemeral()),
    );

    assert_eq!(
        names(dir.path()),
        ["live-writer.tmp456_0", "newest.cwasm", "notes.txt", "older.cwasm"],
        "the oldest artifact and the dead writer's partial file go; other files stay"
    );
}

/// Sets a file's modification time to `age` ago.
fn age(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn a_load_keeps_an_artifact_and_a_store_pushes_out_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let plugins = ["trend", "volatility", "dashboard"].map(bundled);
    let sizing = ArtifactCache::new(
        &engine,
        Some(dir.path().to_path_buf()),
        u64::MAX,
        Some(HostKey::ephemeral()),
    );
    let [trend, volatility, dashboard] = plugins.each_ref().map(|(bytes, hash)| {
        assert!(!sizing.component(&engine, bytes, hash).unwrap().cached);
        let path = sizing.path(hash).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::remove_file(&path).unwrap();
        (bytes, hash, path, len)
    });

    // Room for the trend artifact and either of the others, not for all three.
    let bound = trend.3 + volatility.3.max(dashboard.3);
    let cache = ArtifactCache::new(
        &engine,
        Some(dir.path().to_path_buf()),
        bound,
        Some(HostKey::ephemeral()),
    );
    assert!(!cache.component(&engine, trend.0, trend.1).unwrap().cached);
    age(&trend.2, Duration::from_secs(7200));
    assert!(!cache.component(&engine, volatility.0, volatility.1).unwrap().cached);
    age(&volatility.2, Duration::from_secs(3600));
    assert!(
        cache.component(&engine, trend.0, trend.1).unwrap().cached,
        "trend loads from the cache"
    );
    let refreshed = std::fs::metadata(&trend.2).unwrap().modified().unwrap();
    assert!(
        SystemTime::now().duration_since(refreshed).unwrap() < Duration::from_secs(60),
        "a load refreshes the artifact's time"
    );

    assert!(!cache.component(&engine, dashboard.0, dashboard.1).unwrap().cached);
    assert!(trend.2.is_file(), "the artifact loaded since is kept");
    assert!(dashboard.2.is_file(), "the artifact just stored is kept");
    assert!(!volatility.2.exists(), "the least recently used artifact goes");
}

#[test]
fn an_artifact_larger_than_the_bound_is_still_stored_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let (trend, hash) = bundled("trend");
    let cache = ArtifactCache::new(&engine, Some(dir.path().to_path_buf()), 1, Some(HostKey::ephemeral()));
    assert!(!cache.component(&engine, &trend, &hash).unwrap().cached);
    assert!(
        cache.component(&engine, &trend, &hash).unwrap().cached,
        "the lone artifact is kept though it passes the bound"
    );
}

#[test]
fn the_artifact_of_a_version_still_staged_is_not_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let [(trend, trend_hash), (volatility, volatility_hash), (dashboard, dashboard_hash)] =
        ["trend", "volatility", "dashboard"].map(bundled);
    let cache = ArtifactCache::new(&engine, Some(dir.path().to_path_buf()), 1, Some(HostKey::ephemeral()));
    let serving = cache.component(&engine, &trend, &trend_hash).unwrap();
    age(&cache.path(&trend_hash).unwrap(), Duration::from_secs(7200));
    drop(cache.component(&engine, &volatility, &volatility_hash).unwrap());
    drop(cache.component(&engine, &dashboard, &dashboard_hash).unwrap());

    assert!(
        cache.path(&trend_hash).unwrap().is_file(),
        "the leased artifact stays, though oldest"
    );
    assert!(
        !cache.path(&volatility_hash).unwrap().exists(),
        "an artifact no version holds goes"
    );
    assert!(
        cache.path(&dashboard_hash).unwrap().is_file(),
        "the artifact just stored stays"
    );
    let marked = std::fs::metadata(cache.path(&trend_hash).unwrap())
        .unwrap()
        .modified()
        .unwrap();
    assert!(
        SystemTime::now().duration_since(marked).unwrap() < Duration::from_secs(60),
        "the leased artifact is marked used at the pruning, for other processes"
    );

    drop(serving);
    drop(cache.component(&engine, &volatility, &volatility_hash).unwrap());
    assert!(
        !cache.path(&trend_hash).unwrap().exists(),
        "let go, it goes as any other"
    );
}

/// A cache in `dir` under `key`, unbounded.
fn cache_in(dir: &Path, key: &HostKey) -> ArtifactCache {
    ArtifactCache::new(&engine(), Some(dir.to_path_buf()), u64::MAX, Some(key.clone()))
}

#[test]
fn an_artifact_changed_swapped_truncated_or_of_another_key_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, key) = (engine(), HostKey::ephemeral());
    let [(trend, trend_hash), (volatility, volatility_hash)] = ["trend", "volatility"].map(bundled);
    let cache = cache_in(dir.path(), &key);
    assert!(!cache.component(&engine, &trend, &trend_hash).unwrap().cached);
    assert!(!cache.component(&engine, &volatility, &volatility_hash).unwrap().cached);
    let path = cache.path(&trend_hash).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(
        good.windows(4).any(|w| w == b"\x7fELF"),
        "the artifact is compiled code"
    );
    let loads = |cache: &ArtifactCache| cache.component(&engine, &trend, &trend_hash).unwrap().cached;
    assert!(loads(&cache), "the stored artifact loads");

    let mut changed = good.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    let tampered: [Vec<u8>; 3] = [
        changed,
        std::fs::read(cache.path(&volatility_hash).unwrap()).unwrap(),
        good[..good.len() / 2].to_vec(),
    ];
    for (what, bytes) in ["one byte changed", "another plugin's", "truncated"]
        .iter()
        .zip(tampered)
    {
        std::fs::write(&path, bytes).unwrap();
        assert!(!loads(&cache), "an artifact {what} is compiled again");
        assert!(loads(&cache), "and stored again over the bad one ({what})");
    }

    let other = cache_in(dir.path(), &HostKey::ephemeral());
    assert!(!loads(&other), "an artifact made under another key is not trusted");
    assert!(loads(&other), "the one compiled again under this key is");
}

#[test]
fn a_directory_or_artifact_another_user_may_write_is_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (engine, key) = (engine(), HostKey::ephemeral());
    let (trend, hash) = bundled("trend");
    let cache = cache_in(dir.path(), &key);
    assert!(!cache.component(&engine, &trend, &hash).unwrap().cached);
    let path = cache.path(&hash).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(
        !cache.component(&engine, &trend, &hash).unwrap().cached,
        "an artifact anyone may write is compiled again"
    );
    assert!(cache.component(&engine, &trend, &hash).unwrap().cached);

    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let open = cache_in(dir.path(), &key);
    assert!(open.path(&hash).is_none(), "a directory anyone may write is not used");
    let compiled = open.component(&engine, &trend, &hash).unwrap();
    assert!(
        !compiled.cached && compiled.lease.is_none(),
        "plugins compile in memory"
    );
}

#[test]
fn without_a_host_key_nothing_is_read_or_stored() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let (trend, hash) = bundled("trend");
    let cache = ArtifactCache::new(&engine, Some(dir.path().to_path_buf()), u64::MAX, None);
    assert!(!cache.component(&engine, &trend, &hash).unwrap().cached);
    assert!(names(dir.path()).is_empty());
}
