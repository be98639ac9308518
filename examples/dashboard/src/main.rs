//! `pulse-dashboard`: serves the reference dashboard. One command:
//! `cargo run --release -p pulse-dashboard -- --memcached 127.0.0.1:11211`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use pulse_dashboard::Dashboard;

/// Serves a mobile-first page of Pulse's market keys, read from memcached every 2 s.
#[derive(Debug, Parser)]
#[command(name = "pulse-dashboard", version)]
struct Args {
    /// Where to serve the page (use 0.0.0.0:8080 to reach it from a phone on the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The memcached server Pulse writes to (with several, run Pulse with --mirror).
    #[arg(long, default_value = "127.0.0.1:11211")]
    memcached: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dashboard = Arc::new(Dashboard::connect(&args.memcached).await?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    eprintln!(
        "pulse-dashboard on http://{}/ reading memcached at {}",
        listener.local_addr()?,
        args.memcached
    );
    axum::serve(listener, dashboard.router())
        .with_graceful_shutdown(stop_signal())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM (what systemd and container runtimes send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
