//! `imagevault-server`: the command line in front of the library.

use clap::{Parser, Subcommand};
use imagevault_server::app::Application;
use imagevault_server::config::Config;

#[derive(Parser)]
#[command(name = "imagevault-server", version, about = "ImageVault server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP until interrupted (the default).
    Serve,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let app = Application::build(&config).await?;
    let handle = app.handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.stop_graceful(std::time::Duration::from_secs(10));
        }
    });
    app.run().await;
    Ok(())
}
