//! WebAssembly plugins: the engine that compiles and sandboxes them, one loaded plugin, and
//! the registry of everything loaded from the plugin directory.

pub mod bindings;
mod engine;
mod loaded;
mod registry;
mod state;

pub use engine::PluginEngine;
pub use loaded::{LoadedPlugin, PluginKind};
pub use registry::Registry;
