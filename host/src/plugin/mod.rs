//! WebAssembly plugins: the engine that compiles and sandboxes them, the compile cache, a
//! plugin's identity and world, one loaded plugin and the checks on what it hands back, the
//! admission rule and registry of a generation, and the reloader that hot-swaps them.

mod admission;
mod artifacts;
pub mod bindings;
pub mod checks;
mod engine;
mod failure;
mod identity;
pub mod input;
mod loaded;
mod log_budget;
mod output;
mod registry;
mod reload;
mod state;
pub mod text;
mod world;

pub use artifacts::ArtifactCache;
pub use engine::PluginEngine;
pub use failure::{CallError, Failure};
pub use identity::{normalise_key, PluginId};
pub use loaded::{Fingerprint, LoadedPlugin, PluginSource, StageError, TrialInput, BLOCKED_CALL_GRACE};
pub use log_budget::Dropped as LogDropped;
pub use registry::Registry;
pub use reload::{DirectoryWatch, Reloader};
pub use world::PluginKind;
