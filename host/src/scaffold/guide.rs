//! `pulse guide [TOPIC]`: the plugin guide, carried in the binary and printed as markdown, so an
//! author with nothing but `pulse` reads the same pages as one with the repository.

/// A page of the guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topic {
    /// The hub: languages, checking, backtests, deploying, debugging, versioning.
    Plugins,
    /// Rust plugins on the SDK.
    Rust,
    /// JavaScript plugins (componentize-js).
    Js,
    /// Python plugins (componentize-py).
    Python,
    /// The indicators every SDK carries, bit-identical across the three languages.
    Indicators,
    /// The contract: every type and call, the limits, the rules for keys.
    Contract,
    /// The WIT file the contract is written in.
    Wit,
}

impl Topic {
    /// The page's text; links between pages name the repository's files (`plugins/rust.md`
    /// is `pulse guide rust`, `plugin-contract.md` is `pulse guide contract`).
    pub fn text(self) -> &'static str {
        match self {
            Topic::Plugins => include_str!("../../../docs/plugin-guide.md"),
            Topic::Rust => include_str!("../../../docs/plugins/rust.md"),
            Topic::Js => include_str!("../../../docs/plugins/javascript.md"),
            Topic::Python => include_str!("../../../docs/plugins/python.md"),
            Topic::Indicators => include_str!("../../../docs/plugins/indicators.md"),
            Topic::Contract => include_str!("../../../docs/plugin-contract.md"),
            Topic::Wit => super::sdk::WIT,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_page_is_carried_and_the_hub_names_the_command() {
        for topic in Topic::value_variants() {
            assert!(topic.text().len() > 500, "{topic:?} is nearly empty");
        }
        assert!(
            Topic::Plugins.text().contains("pulse guide"),
            "the hub says how to read the rest"
        );
        assert!(Topic::Wit.text().contains("package pulse:plugin@"));
    }
}
