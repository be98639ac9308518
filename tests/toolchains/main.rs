//! Plugin authors' tools, for real: `pulse new` and the SDK built with cargo, and JavaScript
//! and Python plugins built with their toolchains, then checked and served; and the operators'
//! Debian package, built with cargo-deb and installed into a throwaway root. Apart from the
//! other tests because those builds take both cores.

mod authoring;
mod languages;
mod package;
mod sdks;
