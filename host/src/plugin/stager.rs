//! What staging a plugin file needs, built once from the config: the engine, the compile
//! cache, the keys trusted to sign plugins, each plugin's policy and its config. The daemon's reloader and `pulse check` stage
//! through the same [`Stager`], so both judge a file the same way, side config included.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use tracing::warn;

use super::artifacts::ArtifactCache;
use super::engine::PluginEngine;
use super::file::PluginSource;
use super::host_key::HostKey;
use super::loaded::LoadedPlugin;
use super::signature::TrustedKeys;
use super::stage::{StageError, TrialInput};
use crate::config::Config;
use crate::shared::text::quoted_path;

/// Stages plugin files under one config.
pub struct Stager {
    /// The engine every plugin is compiled by and called in.
    engine: Arc<PluginEngine>,
    /// Compiled components kept between runs.
    artifacts: ArtifactCache,
    /// The keys whose signatures `[trust]` requires; `None` when it requires none.
    trusted: Option<TrustedKeys>,
    /// The daemon's settings: the sandbox and the `[plugin.NAME]` tables.
    config: Config,
}

impl Stager {
    /// A stager for `config`, compiling with `engine` into the config's compile cache, whose
    /// artifacts `key` authenticates; without a key, every plugin compiles in memory. Fails when
    /// a key file `[trust]` lists cannot be read.
    pub fn new(engine: Arc<PluginEngine>, config: &Config, key: Option<HostKey>) -> Result<Self> {
        let trust = &config.trust;
        let trusted = match trust.require_signatures {
            true => Some(TrustedKeys::load(&trust.keys)?),
            false => None,
        };
        Ok(Self {
            trusted,
            artifacts: ArtifactCache::new(
                engine.engine(),
                config.compile_cache_dir(),
                config.compile_cache_max_bytes(),
                key,
            ),
            engine,
            config: config.clone(),
        })
    }

    /// Stages `source` as the daemon does: identity, compile (or the compile cache), world,
    /// `describe`, its config through `init`, and one trial call on `trial` if given, each
    /// call under the plugin's policy and deadline. Returns the plugin and whether compilation
    /// was skipped.
    pub fn stage(
        &self,
        source: &PluginSource,
        trial: Option<&TrialInput>,
    ) -> Result<(Arc<LoadedPlugin>, bool), StageError> {
        LoadedPlugin::stage(
            &self.engine,
            &self.artifacts,
            source,
            |name| self.config.policy(name),
            |name| self.config_json(name, source),
            |source| self.signer(source),
            trial,
        )
    }

    /// Who signed `source`, when signatures are required (and why it is refused when it is not
    /// rightly signed); `None` when they are not.
    fn signer(&self, source: &PluginSource) -> Result<Option<String>> {
        let Some(trusted) = &self.trusted else {
            return Ok(None);
        };
        let signature = source.fingerprint.signature.as_deref();
        trusted.signer(&source.fingerprint.hash, signature).map(Some)
    }

    /// A plugin's config as JSON: its side file `NAME.toml` if there is one, else its
    /// `[plugin.NAME]` table from the daemon's config, else `{}`.
    fn config_json(&self, name: &str, source: &PluginSource) -> Result<String> {
        let table = match &source.fingerprint.side_config {
            Some(text) => {
                let side = source.path.with_extension("toml");
                if self.config.plugin.contains_key(name) {
                    warn!(
                        plugin = name,
                        "{} overrides the [plugin.{name}] table of the daemon's config",
                        quoted_path(&side)
                    );
                }
                toml::from_str::<toml::Table>(text)
                    .map_err(|e| anyhow!("bad config file {}: {e}", quoted_path(&side)))?
            }
            None => self.config.plugin.get(name).cloned().unwrap_or_default(),
        };
        Ok(serde_json::to_string(&table)?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::shared::call::Fingerprint;

    fn source(side_config: Option<&str>) -> PluginSource {
        PluginSource {
            path: PathBuf::from("/plugins/trend.wasm"),
            bytes: Arc::from(&b""[..]),
            fingerprint: Fingerprint {
                hash: "0".repeat(64),
                side_config: side_config.map(str::to_string),
                signature: None,
            },
        }
    }

    #[test]
    fn a_plugin_gets_its_side_file_else_its_config_table_else_nothing() {
        let config = Config::from_toml("[plugin.trend]\nfast = 3\nslow = 9\n").unwrap();
        let stager = Stager::new(PluginEngine::new(&config.sandbox).unwrap(), &config, None).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&stager.config_json("trend", &source(None)).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"fast": 3, "slow": 9}));
        assert_eq!(stager.config_json("other", &source(None)).unwrap(), "{}");
        let side = stager.config_json("trend", &source(Some("fast = 5\n"))).unwrap();
        assert_eq!(side, "{\"fast\":5}");
        let err = stager
            .config_json("trend", &source(Some("fast = \n")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad config file \"/plugins/trend.toml\""), "{err}");
    }
}
