//! WebAssembly plugins: the engine that compiles and sandboxes them, the compile cache, a
//! plugin's world, one loaded plugin and the checks on what it hands back, the admission rule
//! and registry of a generation, and the reloader that hot-swaps them.

mod admission;
mod artifacts;
pub mod checks;
mod engine;
mod failure;
mod loaded;
mod log_budget;
mod output;
mod registry;
mod reload;
mod state;
mod world;

pub use artifacts::ArtifactCache;
pub use engine::PluginEngine;
pub use failure::CallError;
pub use loaded::{LoadedPlugin, PluginSource, StageError, TrialInput, BLOCKED_CALL_GRACE};
pub use log_budget::Dropped as LogDropped;
pub use registry::Registry;
pub use reload::{DirectoryWatch, Reloader};
pub use world::PluginKind;
