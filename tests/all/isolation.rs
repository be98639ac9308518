//! A plugin's identity is its file name: a plugin that calls itself by another's name, claims
//! another's keys, or shares a name with a serving plugin never takes that plugin's place, at
//! start-up or on hot swap, whatever the file names and their order.

use std::path::Path;
use std::time::Duration;

use pulse_testkit::{fixture_wasm, http_get, plugin_dir, wait_for, Daemon, Memcached};
use serde_json::Value;

/// The plugins `/plugins` lists, by name and file name.
fn serving(url: &str) -> Vec<(String, String)> {
    let (code, body) = http_get(&format!("{url}/plugins"));
    assert_eq!(code, 200, "{body}");
    let plugins: Value = serde_json::from_str(&body).unwrap();
    plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let file = Path::new(p["file"].as_str().unwrap());
            (
                p["name"].as_str().unwrap().to_string(),
                file.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect()
}

fn serves(url: &str, name: &str, file: &str) -> bool {
    serving(url).contains(&(name.to_string(), file.to_string()))
}

/// The dashboard's keys come from the real dashboard, not from an impostor.
fn assert_real_dashboard(memcached: &Memcached) {
    let overview = memcached.json("market:overview");
    assert_eq!(
        overview["total_symbols"], 30,
        "market:overview was not written by the dashboard: {overview}"
    );
}

#[test]
fn impostors_and_greedy_plugins_never_displace_the_dashboard_at_start_up() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path();
    // The impostor calls itself `dashboard`, under names sorting before and after the real one.
    for name in ["aaa.wasm", "zzz.wasm"] {
        std::fs::copy(fixture_wasm("fault_impostor"), dir.join(name)).unwrap();
    }
    // Greedy aggregators claim `market:` without a grant, sorting before and after `dashboard`.
    for name in ["a_greedy", "z_greedy"] {
        std::fs::copy(fixture_wasm(name), dir.join(format!("{name}.wasm"))).unwrap();
    }
    let mut daemon = Daemon::serve(dir.to_str().unwrap(), &memcached.addr, &["--interval", "0.5"]);
    let url = daemon.status_url();
    wait_for("cycle 3", Duration::from_secs(60), || {
        pulse_testkit::status_cycle(&memcached).filter(|&c| c >= 3)
    });
    assert_real_dashboard(&memcached);
    assert!(serves(&url, "dashboard", "dashboard.wasm"), "{:?}", serving(&url));
    assert_eq!(
        serving(&url).len(),
        3,
        "only the bundled plugins serve: {:?}",
        serving(&url)
    );
    let log = daemon.log();
    for file in ["aaa.wasm", "zzz.wasm"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("rejected plugin {:?}", dir.join(file)))
                    && l.contains("at name")
                    && l.contains("describe() names the plugin \"dashboard\"")),
            "no rejection by name for {file}:\n{log}"
        );
    }
    for (file, name) in [("a_greedy.wasm", "a-greedy"), ("z_greedy.wasm", "z-greedy")] {
        assert!(
            log.lines().any(|l| l.contains(file)
                && l.contains("at describe")
                && l.contains(&format!("{name} wants to write under \"market:\""))),
            "no refused grant for {file}:\n{log}"
        );
    }
    assert!(daemon.stop());
}

#[test]
fn plugins_of_one_identity_are_refused_together_at_start_up() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path();
    for name in ["fault_liar.wasm", "fault-liar.wasm"] {
        std::fs::copy(fixture_wasm("fault_liar"), dir.join(name)).unwrap();
    }
    let mut daemon = Daemon::serve(dir.to_str().unwrap(), &memcached.addr, &["--interval", "0.5"]);
    let url = daemon.status_url();
    wait_for("cycle 2", Duration::from_secs(60), || {
        pulse_testkit::status_cycle(&memcached).filter(|&c| c >= 2)
    });
    assert!(
        !serving(&url).iter().any(|(name, _)| name == "fault-liar"),
        "{:?}",
        serving(&url)
    );
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("rejected plugins at admit"))
        .unwrap_or_else(|| panic!("no single line for the clash:\n{log}"));
    assert!(
        line.contains("fault-liar.wasm")
            && line.contains("fault_liar.wasm")
            && line.contains("both are named \"fault-liar\""),
        "{line}"
    );
    assert_real_dashboard(&memcached);
    assert!(daemon.stop());
}

#[test]
fn a_newcomer_of_a_serving_identity_is_refused_on_hot_swap_in_either_spelling() {
    let memcached = Memcached::start();
    let plugins = plugin_dir(&["trend", "volatility", "dashboard"]);
    let dir = plugins.path();
    let mut daemon = Daemon::serve(dir.to_str().unwrap(), &memcached.addr, &["--interval", "0.5"]);
    let url = daemon.status_url();
    for (serving_file, newcomer) in [
        ("fault_liar.wasm", "fault-liar.wasm"),
        ("fault-liar.wasm", "fault_liar.wasm"),
    ] {
        // Write under a hidden name and rename, as a deploy would.
        let place = |file: &str| {
            let tmp = dir.join(format!(".{file}.tmp"));
            std::fs::copy(fixture_wasm("fault_liar"), &tmp).unwrap();
            std::fs::rename(&tmp, dir.join(file)).unwrap();
        };
        place(serving_file);
        wait_for(&format!("{serving_file} to serve"), Duration::from_secs(30), || {
            serves(&url, "fault-liar", serving_file).then_some(())
        });
        place(newcomer);
        let refusal = format!("rejected plugin {:?} at admit", dir.join(newcomer));
        wait_for(&format!("{newcomer} to be refused"), Duration::from_secs(30), || {
            daemon.log().lines().any(|l| l.contains(&refusal)).then_some(())
        });
        let log = daemon.log();
        let line = log.lines().find(|l| l.contains(&refusal)).unwrap();
        assert!(
            line.contains("which keeps serving") && line.contains(serving_file),
            "{line}"
        );
        let cycle = pulse_testkit::status_cycle(&memcached).unwrap();
        wait_for("two more cycles", Duration::from_secs(30), || {
            pulse_testkit::status_cycle(&memcached).filter(|&c| c >= cycle + 2)
        });
        assert!(serves(&url, "fault-liar", serving_file), "{:?}", serving(&url));
        assert_eq!(serving(&url).iter().filter(|(n, _)| n == "fault-liar").count(), 1);
        // Clear both for the other order.
        std::fs::remove_file(dir.join(newcomer)).unwrap();
        std::fs::remove_file(dir.join(serving_file)).unwrap();
        wait_for("fault-liar to unload", Duration::from_secs(30), || {
            (!serving(&url).iter().any(|(n, _)| n == "fault-liar")).then_some(())
        });
    }
    assert_real_dashboard(&memcached);
    assert!(daemon.stop());
}

/// Twenty analyzers, each returning as much as the default bound allows, are handed whole to
/// the real dashboard aggregator, which runs within its default 64 MiB memory cap.
#[test]
fn twenty_analyzers_at_the_bound_fit_an_aggregators_default_cap() {
    use pulse::config::Config;
    use pulse::plugin::checks::{handed_over_bytes, MAX_COMPONENT_NAMES};
    use pulse::plugin::PluginSource;
    use pulse::shared::contract::{Analyses, AnalyzerOutput, Signal, Verdict};

    // Its memory cap stays the default; its deadline is raised, since what is measured is
    // memory, and 13 MB of input takes ~150-250 ms here, near the default 250 ms deadline.
    let mut config = Config::from_toml(
        "[plugin.dashboard]\nmax_breakdowns = 50\n[sandbox.plugin.dashboard]\ncall_timeout_ms = 10000\n",
    )
    .unwrap();
    config.compile_cache = Some(pulse_testkit::repo_root().join("target/test-compile-cache"));
    let policy = config.policy("dashboard");
    assert_eq!(policy.memory_bytes, 64 << 20, "the default memory cap");
    // As many symbols as one result at the bound covers, with the most component names allowed.
    let per_symbol = 16 + 8 * MAX_COMPONENT_NAMES;
    let symbols = (policy.max_result_bytes - MAX_COMPONENT_NAMES * 40) / per_symbol;
    let mut simulated = pulse::source::SimulatedMarket::new(&config.simulated, symbols);
    let snapshot = simulated.snapshot(pulse::shared::clock::now_ms());
    let market = snapshot.to_market(1, "simulated", Duration::ZERO);
    let outputs: Vec<AnalyzerOutput> = (0..20)
        .map(|a| AnalyzerOutput {
            plugin: format!("analyzer-{a:02}"),
            version: "1.0.0".into(),
            analyses: Analyses {
                verdicts: vec![
                    Some(Verdict {
                        score: 50.0,
                        signal: Signal::Neutral
                    });
                    symbols
                ],
                component_names: (0..MAX_COMPONENT_NAMES).map(|c| format!("component-{c:06}")).collect(),
                components: vec![0.5; symbols * MAX_COMPONENT_NAMES],
            },
        })
        .collect();
    let handed: usize = outputs.iter().map(handed_over_bytes).sum();
    assert!(
        handed <= policy.memory_bytes / 4,
        "{handed} bytes exceed the input budget"
    );
    assert!(
        handed >= 20 * policy.max_result_bytes * 9 / 10,
        "only {handed} bytes: not at the bound"
    );

    let source = PluginSource::read(&pulse_testkit::plugin_wasm("dashboard")).unwrap();
    let (dashboard, _) = pulse::startup::stager(&config)
        .unwrap()
        .stage(&source, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let widest = pulse::shared::market_view::WidestMarket::from(market);
    let entries = dashboard
        .aggregate(&widest.view(), &outputs, &[])
        .unwrap_or_else(|e| panic!("the dashboard failed on {handed} bytes of results: {e}"))
        .result;
    assert!(entries.iter().any(|e| e.key == "analysis:signals"));
    let peak = dashboard.last_peak_memory();
    println!(
        "20 analyzers x {symbols} symbols x {MAX_COMPONENT_NAMES} components: {handed} bytes handed over, \
         dashboard peak memory {:.1} MiB of {}",
        peak as f64 / 1048576.0,
        policy.memory_bytes >> 20
    );
    assert!(peak <= policy.memory_bytes);
}
