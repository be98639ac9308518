//! The Debian package, built by `scripts/package` and checked without changing the machine:
//! its contents and control files with `dpkg-deb`; an install into a throwaway root with
//! `dpkg --root` (maintainer scripts included, as `DPKG_ROOT`); `pulse --version` from it; the
//! live plugin directory seeded on the first install and left alone on an upgrade; a purge; and
//! `systemd-analyze verify` of the unit it installs.

use std::path::Path;
use std::process::Command;

use pulse_testkit::{fixture_wasm, repo_root};

/// Runs `program args`, failing the test with its output unless it succeeds; its stdout.
fn run(program: &str, args: &[&str], missing: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); {missing}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `dpkg` acting on the throwaway root `root` only: its database there, maintainer scripts run
/// outside a chroot with `DPKG_ROOT` set, and the libraries the binary links (the real
/// machine's) not asked of the empty root's database.
fn dpkg(root: &Path, args: &[&str]) -> String {
    let root_arg = format!("--root={}", root.display());
    let mut all = vec![
        root_arg.as_str(),
        "--force-script-chrootless",
        "--force-depends",
        "--log=/dev/null",
    ];
    all.extend_from_slice(args);
    run("dpkg", &all, "dpkg is Debian's own")
}

/// The version host/Cargo.toml gives the `pulse` package.
fn package_version() -> String {
    let manifest = std::fs::read_to_string(repo_root().join("host/Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("version = \""))
        .expect("host/Cargo.toml has a version");
    line.trim_start_matches("version = \"")
        .trim_end_matches('"')
        .to_string()
}

#[test]
fn the_package_installs_into_a_throwaway_root_seeds_plugins_once_and_purges() {
    // The dev build: the package is the release one's but for the binary's optimisation, and
    // it builds in a minute from the tests' dependencies instead of 6-9 from nothing.
    run(
        "scripts/package",
        &["--profile", "dev"],
        "scripts/package needs cargo and network access to crates.io",
    );
    let version = package_version();
    let deb = repo_root().join(format!("target/debian/dev/pulse_{version}_amd64.deb"));
    let deb = deb.to_str().unwrap();

    // What it holds: the binary, the config, the bundled plugins, the unit, the board, the docs.
    let contents = run("dpkg-deb", &["--contents", deb], "dpkg-deb is Debian's own");
    for path in [
        "./usr/bin/pulse",
        "./etc/pulse/pulse.toml",
        "./usr/share/pulse/plugins/trend.wasm",
        "./usr/share/pulse/plugins/volatility.wasm",
        "./usr/share/pulse/plugins/dashboard.wasm",
        "/systemd/system/pulse.service",
        "./usr/share/pulse/grafana/pulse.json",
        "./usr/share/doc/pulse/operations.md",
    ] {
        assert!(contents.contains(path), "the package lacks {path}:\n{contents}");
    }
    assert!(
        !contents.contains("./var/lib/pulse"),
        "the package itself writes the live plugins:\n{contents}"
    );
    let control = run("dpkg-deb", &["--info", deb], "dpkg-deb is Debian's own");
    for field in [
        "Package: pulse".to_string(),
        format!("Version: {version}"),
        "Architecture: amd64".to_string(),
        "Depends: libc6".to_string(),
        "Recommends: memcached".to_string(),
    ] {
        assert!(control.contains(&field), "the control file lacks {field:?}:\n{control}");
    }
    let conffiles = run("dpkg-deb", &["--info", deb, "conffiles"], "dpkg-deb is Debian's own");
    assert!(conffiles.contains("/etc/pulse/pulse.toml"), "{conffiles}");
    let postinst = run("dpkg-deb", &["--info", deb, "postinst"], "dpkg-deb is Debian's own");
    assert!(postinst.contains("deb-systemd-helper enable"), "{postinst}");

    // A first install into a throwaway root.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/dpkg/updates")).unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/dpkg/info")).unwrap();
    std::fs::write(root.path().join("var/lib/dpkg/status"), "").unwrap();
    dpkg(root.path(), &["--install", deb]);
    let pulse = root.path().join("usr/bin/pulse");
    let printed = run(
        pulse.to_str().unwrap(),
        &["--version"],
        "the package installs usr/bin/pulse",
    );
    assert!(printed.starts_with(&format!("pulse {version} (commit ")), "{printed}");
    assert!(printed.contains("contracts: 0.4.0"), "{printed}");
    let live = root.path().join("var/lib/pulse/plugins");
    for plugin in ["trend", "volatility", "dashboard"] {
        let seeded = std::fs::read(live.join(format!("{plugin}.wasm"))).expect("seeded on the first install");
        let bundled = std::fs::read(root.path().join(format!("usr/share/pulse/plugins/{plugin}.wasm"))).unwrap();
        assert!(seeded == bundled, "{plugin}.wasm was not seeded from the bundled copy");
    }
    let enabled = root
        .path()
        .join("etc/systemd/system/multi-user.target.wants/pulse.service");
    // A link to the unit, absolute as systemd makes them (not followed: here it would point
    // at the real machine's /usr).
    let link = std::fs::read_link(&enabled).expect("the unit is enabled in the root");
    assert!(link.ends_with("systemd/system/pulse.service"), "{}", link.display());

    // The unit, as systemd reads it in that root (ExecStart's bare `pulse` found in usr/bin).
    let unit = ["lib", "usr/lib"]
        .iter()
        .map(|dir| root.path().join(dir).join("systemd/system/pulse.service"))
        .find(|p| p.exists())
        .expect("the unit is installed");
    // What any system has and the root lacks: systemd's targets (the unit's default
    // dependencies) and /bin/kill (its ExecReload), copied in from this machine.
    let units = unit.parent().unwrap();
    for target in std::fs::read_dir("/usr/lib/systemd/system").expect("systemd is installed (apt-get install systemd)")
    {
        let target = target.unwrap().path();
        if target.extension().is_some_and(|e| e == "target") && !units.join(target.file_name().unwrap()).exists() {
            std::fs::copy(&target, units.join(target.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::copy("/usr/bin/kill", root.path().join("bin/kill")).expect("kill is installed (procps)");
    let root_arg = format!("--root={}", root.path().display());
    let verify = Command::new("systemd-analyze")
        .args([root_arg.as_str(), "verify", unit.to_str().unwrap()])
        .output()
        .expect("systemd-analyze runs (apt-get install systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success() && !said.contains("pulse.service"), "{said}");

    // An upgrade (the same package again) leaves a promoted version where it is.
    let promoted = std::fs::read(fixture_wasm("trend_shifted")).unwrap();
    std::fs::write(live.join("trend.wasm"), &promoted).unwrap();
    dpkg(root.path(), &["--install", deb]);
    assert!(
        std::fs::read(live.join("trend.wasm")).unwrap() == promoted,
        "the upgrade overwrote the promoted trend.wasm"
    );

    // A purge takes the binary, the config and the live plugins.
    dpkg(root.path(), &["--purge", "pulse"]);
    for gone in ["usr/bin/pulse", "etc/pulse/pulse.toml", "var/lib/pulse"] {
        assert!(!root.path().join(gone).exists(), "{gone} outlived the purge");
    }
    assert!(
        std::fs::symlink_metadata(&enabled).is_err(),
        "the unit stayed enabled after the purge"
    );
}
