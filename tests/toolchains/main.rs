//! Plugin authors' tools, for real: `pulse new` and the SDK built with cargo, and JavaScript
//! and Python plugins built with their toolchains, then checked and served. Apart from the
//! other tests because those builds take both cores.

mod authoring;
mod languages;
