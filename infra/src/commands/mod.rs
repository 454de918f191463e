//! The handlers of `scimctl`'s commands, one module each; `main` dispatches the parsed
//! [`crate::cli::Command`] to them. What they print on stdout is for scripts (ids, tokens,
//! secrets, tables, JSON); what they print on stderr is for the person at the terminal.

pub mod client;
pub mod emergency_logout;
pub mod events;
pub mod import;
pub mod log;
pub mod roles;
pub mod serve;
pub mod table;
pub mod tenant;
pub mod token;
pub mod webhook;

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
