//! What long-running subcommands share: binding with a printed address, and shutdown on signals.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Binds `addr` and prints `listening on http://HOST:PORT` (the bound port when 0 was asked),
/// the line scripts and tests wait for.
pub async fn bind(component: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {component}"))?;
    let bound = listener.local_addr()?;
    println!("{component} listening on http://{bound}");
    Ok(listener)
}

/// A token cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(err) => {
                tracing::warn!(target: "quartz", %err, "cannot watch SIGTERM; only Ctrl-C stops quartz");
                let _ = tokio::signal::ctrl_c().await;
                cancel.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!(target: "quartz", "shutting down");
        cancel.cancel();
    });
    token
}
