//! The shared indicator vectors (`plugins/vectors/indicators.json`) inside the daemon's sandbox,
//! through a plugin of each language: `pulse check` runs each once, and each runs its SDK's own
//! vector runner on every case (batch, and streaming with `peek` at every step) and reports what
//! it compared. Natively the same file is checked by `cargo test`, `node --test` and `pytest`.

use std::path::{Path, PathBuf};
use std::process::Command;

use pulse_testkit::{plugin_wasm, pulse, repo_root, text};

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

/// `vectors-js`, built with componentize-js from the JavaScript template's pinned packages.
fn build_js(dir: &Path) -> PathBuf {
    let install = "install node 20.19 or later with npm (scripts/setup-node)";
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
    let project = dir.join("js-tools");
    run(
        &project,
        "npm",
        &["ci", "--prefer-offline", "--no-audit", "--no-fund"],
        install,
    );
    let plugins = repo_root().join("plugins");
    let build = project.join("build");
    copy(&plugins.join("sdk-js/src"), &build.join("sdk-js/src"));
    copy(
        &plugins.join("sdk-js/test/vectors.js"),
        &build.join("sdk-js/test/vectors.js"),
    );
    copy(
        &plugins.join("fixtures/vectors-js/plugin.js"),
        &build.join("fixtures/vectors-js/plugin.js"),
    );
    std::fs::write(build.join("fixtures/vectors-js/vectors-data.js"), data_module("js")).unwrap();
    let wasm = dir.join("vectors_js.wasm");
    run(
        &project,
        "npx",
        &[
            "componentize-js",
            "build/fixtures/vectors-js/plugin.js",
            "--wit",
            "wit",
            "--world-name",
            "analyzer",
            "--disable",
            "http",
            "fetch-event",
            "--out",
            wasm.to_str().unwrap(),
        ],
        install,
    );
    wasm
}

/// `vectors-python`, built with componentize-py.
fn build_python(dir: &Path) -> PathBuf {
    let data = dir.join("py-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("vectors_data.py"), data_module("python")).unwrap();
    let plugins = repo_root().join("plugins");
    let wasm = dir.join("vectors_python.wasm");
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
            &path("fixtures/vectors-python"),
            "-p",
            &path("sdk-python/src"),
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
    let built = [rust, build_js(dir.path()), build_python(dir.path())];
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
