//! `chat-server`: the reference chat server. `chat-server --help` lists every flag.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use chat_server::cli::Cli;
use chat_server::{Database, Server};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match EnvFilter::try_new(&cli.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("chat-server: invalid --log filter {:?}: {e}", cli.log);
            return ExitCode::from(2);
        }
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();

    if let Some(command) = &cli.command {
        return match chat_server::commands::run_with_attachments_dir(command, &cli.db, cli.attachments_dir.as_deref()) {
            Ok(out) => {
                println!("{}", out.trim_end());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("chat-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = cli.config();
    let db = match &config.database {
        Database::File(path) => path.display().to_string(),
        _ => "(memory)".to_owned(),
    };
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("chat-server: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!("chat-server {} is running (database: {db})", env!("CARGO_PKG_VERSION"));
    for url in server.urls() {
        println!("  {url}");
    }
    if let (Some(fingerprint), Some((path, generated))) = (server.tls_fingerprint(), server.tls_certificate()) {
        let what = if generated { "generated" } else { "using" };
        println!("TLS certificate ({what} {}):", path.display());
        println!("  SHA-256 {fingerprint}");
        println!("  Browsers warn about a self-signed certificate once; check this fingerprint.");
    }
    println!("Press Ctrl+C to stop.");

    wait_for_signal().await;
    println!("Shutting down…");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// SIGINT (Ctrl+C) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
