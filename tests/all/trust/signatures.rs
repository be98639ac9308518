//! Plugin signatures under `[trust]`: with signatures required, an unsigned, an untrusted or a
//! wrongly signed plugin is refused with the reason while the version serving keeps serving, and
//! a rightly signed one serves, its signer shown in `/plugins`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::files::logged;
use pulse_testkit::{http_get, plugin_dir, plugin_wasm, pulse, status_cycle, text, wait_for, Daemon, Memcached};

/// Signs `wasm` with the secret key `key` through `pulse sign`.
fn sign(wasm: &Path, key: &Path) {
    let out = pulse(&["sign", wasm.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Puts `from` in place as `to`, as a deploy would: written aside, then renamed.
fn place(from: &Path, to: &Path) {
    let aside = to.with_file_name(".incoming");
    std::fs::copy(from, &aside).unwrap();
    std::fs::rename(&aside, to).unwrap();
}

/// Each serving plugin's name, version and signer, as `/plugins` shows them.
fn serving(url: &str) -> Vec<(String, String, Option<String>)> {
    let (status, body) = http_get(&format!("{url}/plugins"));
    assert_eq!(status, 200, "{body}");
    let plugins: Vec<Value> = serde_json::from_str(&body).unwrap();
    let mut serving: Vec<_> = plugins
        .iter()
        .map(|p| {
            let field = |name: &str| p[name].as_str().map(str::to_string);
            (field("name").unwrap(), field("version").unwrap(), field("signer"))
        })
        .collect();
    serving.sort();
    serving
}

#[test]
fn with_signatures_required_only_rightly_signed_plugins_serve() {
    let keys = tempfile::tempdir().unwrap();
    for name in ["alice", "mallory"] {
        let out = pulse(&["keygen", name, "--dir", keys.path().to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let (alice, mallory) = (keys.path().join("alice.key"), keys.path().join("mallory.key"));
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path();
    sign(&dir.join("trend.wasm"), &alice);
    sign(&dir.join("dashboard.wasm"), &alice);
    let config = keys.path().join("pulse.toml");
    std::fs::write(
        &config,
        format!(
            "[trust]\nrequire_signatures = true\nkeys = [{:?}]\n",
            keys.path().join("alice.pub").to_str().unwrap()
        ),
    )
    .unwrap();

    let memcached = Memcached::start();
    let daemon = Daemon::serve(
        dir.to_str().unwrap(),
        &memcached.addr,
        &["--interval", "0.5", "--config", config.to_str().unwrap()],
    );
    wait_for("a push", Duration::from_secs(60), || status_cycle(&memcached));
    let url = daemon.status_url();
    let alice_signed = Some("alice".to_string());
    assert_eq!(
        serving(&url),
        [
            ("dashboard".into(), "0.2.0".into(), alice_signed.clone()),
            ("trend".into(), "0.3.0".into(), alice_signed.clone())
        ]
    );
    assert!(
        daemon
            .log()
            .contains("volatility.wasm\" at signature: it is not signed"),
        "{}",
        daemon.log()
    );

    // A new version signed by a key the operator does not trust.
    let v2 = dir.join(".trend_v2.wasm");
    std::fs::copy(plugin_wasm("trend_v2"), &v2).unwrap();
    sign(&v2, &mallory);
    place(&dir.join(".trend_v2.wasm.sig"), &dir.join("trend.wasm.sig"));
    place(&v2, &dir.join("trend.wasm"));
    logged(
        &daemon,
        "signed by \"mallory\", whose key [trust] keys does not list; still serving trend 0.3.0",
        1,
    );
    // Alice's signature of another file.
    sign(&v2, &alice);
    std::fs::copy(plugin_wasm("trend"), dir.join(".trend.wasm")).unwrap();
    sign(&dir.join(".trend.wasm"), &alice);
    place(&dir.join(".trend.wasm.sig"), &dir.join("trend.wasm.sig"));
    logged(&daemon, "its signature by \"alice\" does not verify", 1);
    assert_eq!(serving(&url)[1], ("trend".into(), "0.3.0".into(), alice_signed.clone()));

    // Rightly signed: it serves.
    place(&dir.join(".trend_v2.wasm.sig"), &dir.join("trend.wasm.sig"));
    logged(&daemon, "swapped plugin trend 0.3.0 -> 2.0.0", 1);
    wait_for("the swap", Duration::from_secs(30), || {
        (serving(&url)[1] == ("trend".into(), "2.0.0".into(), alice_signed.clone())).then_some(())
    });
    super::holds(&daemon, &memcached, Duration::from_millis(500));
}
