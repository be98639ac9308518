//! The integration tests that can run side by side, in one binary (as wasmtime's `tests/all`):
//! the real `pulse` binary, the real plugin components and a real memcached, each test with
//! parts of its own from `pulse_testkit`. Three groups have binaries of their own, for a
//! fixture they need whole: `ha` (an etcd pair, one pair at a time), `swaps` (the machine to
//! itself: swaps timed at a short interval, and this process's memory measured), and
//! `toolchains` (cargo, node and Python building plugins, which would load the cores under
//! the daemons here).

mod architecture;
#[cfg(feature = "bench")]
mod bench;
mod cache_writer;
mod candles;
mod contracts;
mod cost;
mod dashboard;
mod end_to_end;
mod evidence;
mod isolation;
mod klines;
mod operations;
mod sandbox;
mod sources;
mod state;
mod strategy;
mod streams;
mod traces;
mod trust;
