//! Nothing but plugins is trusted either: the daemon's other inputs (its own files on disk, the
//! compile cache, what it saved for itself) are tried as an attacker with local access would,
//! against the real daemon, real plugins and a real memcached. Each test shows the daemon keeps
//! its cadence and its keys fresh, says what it refused and why, and never writes a forged value.

#[path = "../common/mod.rs"]
mod common;

mod artifacts;
mod files;
mod peers;
mod server;
mod signatures;
