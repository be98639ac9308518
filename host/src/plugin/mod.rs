//! WebAssembly plugins: the engine that compiles and sandboxes them, the compile cache, a
//! plugin's world, one loaded plugin and the checks on what it hands back, the admission rule
//! and the generation of serving plugins, and the reloader that hot-swaps them.

mod admission;
mod artifacts;
mod call;
mod call_env;
pub mod checks;
mod deadline;
mod engine;
mod failure;
mod feed;
mod file;
mod generation;
mod host_key;
mod kept_state;
mod limiter;
mod loaded;
mod log_budget;
mod output;
mod pool;
mod reload;
mod saved_state;
mod signature;
mod signing;
mod stage;
mod stager;
mod state;
mod world;

pub use call::{take_instructions, Stated};
pub use deadline::call_on_pool;
pub use engine::PluginEngine;
pub use failure::CallError;
pub use feed::PluginFeed;
pub use file::{is_shadow_file, PluginSource, SHADOW_DIR};
pub use generation::Generation;
pub use host_key::{is_missing as is_missing_host_key, HostKey};
pub use loaded::LoadedPlugin;
pub use log_budget::Dropped as LogDropped;

/// The WIT contract versions the host loads, newest first: `pulse --version` names them, so an
/// author can tell whether a daemon takes their plugin's contract.
pub fn contract_versions() -> impl Iterator<Item = &'static str> {
    world::Contract::ALL.into_iter().map(world::Contract::version)
}
pub use reload::{DirectoryWatch, Reloader};
pub use saved_state::StatesRestored;
pub use signature::signature_path;
pub use signing::{keygen, sign};
pub use stage::{Stage, StageError, TrialInput};
pub use stager::Stager;
pub use world::{Contract, PluginKind, Role};
