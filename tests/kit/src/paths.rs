//! Where the real parts are: the repository, the `pulse` binary cargo built beside the caller,
//! and the plugin components `scripts/build-plugins` built.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/kit is two folders below the root")
        .to_path_buf()
}

/// The `pulse` binary of the caller's build: beside it (`pulse-bench`), or one folder up from
/// an integration test's `deps/`.
pub(crate) fn pulse_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the running executable: {e}"))?;
    let dir = exe.parent().ok_or("the running executable has no folder")?;
    [dir, dir.parent().unwrap_or(dir)]
        .iter()
        .map(|d| d.join("pulse"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no pulse binary beside {}: build it with `cargo build -p pulse` (with `--release --features bench` for pulse-bench)",
                exe.display()
            )
        })
}

/// `file` of the plugins' release build (`trend.wasm`, `examples/fault_loop.wasm`).
fn built(file: &str) -> Result<PathBuf, String> {
    let path = repo_root().join("target/wasm32-wasip2/release").join(file);
    match path.is_file() {
        true => Ok(path),
        false => Err(format!(
            "{} is missing: build the plugins first with scripts/build-plugins",
            path.display()
        )),
    }
}

/// The built component of plugin crate `name` (`trend`, `dashboard`, `wrong_world`, ...).
pub fn try_plugin_wasm(name: &str) -> Result<PathBuf, String> {
    built(&format!("{name}.wasm"))
}

/// The built component of fixture `name`, an example of a fixture crate (`fault_loop` of
/// `faults`, `trend_shifted` of `candidates`, `bench_analyzer`).
pub fn try_fixture_wasm(name: &str) -> Result<PathBuf, String> {
    built(&format!("examples/{name}.wasm"))
}

/// [`try_plugin_wasm`], for a test: panics with how to build it.
pub fn plugin_wasm(name: &str) -> PathBuf {
    try_plugin_wasm(name).unwrap_or_else(|why| panic!("{why}"))
}

/// [`try_fixture_wasm`], for a test: panics with how to build it.
pub fn fixture_wasm(name: &str) -> PathBuf {
    try_fixture_wasm(name).unwrap_or_else(|why| panic!("{why}"))
}

/// A temporary plugin directory holding copies of the named plugin components.
pub fn plugin_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        std::fs::copy(plugin_wasm(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

/// Runs the `pulse` binary to its end (`pulse check`, `replay`, `verify`, ...), with the
/// tests' compile cache (`pulse check` uses one as the daemon does).
pub fn pulse(args: &[&str]) -> std::process::Output {
    Command::new(pulse_binary().unwrap_or_else(|why| panic!("{why}")))
        .args(args)
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", repo_root().join("target/test-xdg-cache"))
        .output()
        .expect("run pulse")
}

/// What a finished command printed, stdout then stderr.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
