//! WebAssembly plugins: the engine that compiles and sandboxes them, the compile cache, one
//! loaded plugin, the registry of a generation, and the reloader that hot-swaps them.

mod artifacts;
pub mod bindings;
mod engine;
pub mod input;
mod loaded;
mod registry;
mod reload;
mod state;

pub use artifacts::ArtifactCache;
pub use engine::PluginEngine;
pub use loaded::{Identity, LoadedPlugin, PluginKind, PluginSource, StageError, TrialInput, BLOCKED_CALL_GRACE};
pub use registry::Registry;
pub use reload::{DirectoryWatch, Reloader};
