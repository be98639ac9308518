//! `pulse-bench`: measures Pulse end to end, with the release daemon, the real plugin
//! components and a memcached of its own on a free loopback port. Results are printed as
//! Markdown, ready for BENCHMARKS.md.

mod harness;
mod swap;
mod write;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Benchmarks for Pulse.
#[derive(Debug, Parser)]
#[command(name = "pulse-bench")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Hot-swap latency: from a plugin file's rename to the first cycle it serves, and the
    /// staging time alone.
    Swap(swap::Args),
    /// Cache write throughput: one cycle's batch through Pulse's writer beside a raw pipelined
    /// `set … noreply` burst on the same server.
    Write(write::Args),
}

fn main() -> Result<()> {
    match Cli::parse().scenario {
        Scenario::Swap(args) => swap::run(&args),
        Scenario::Write(args) => write::run(&args),
    }
}
