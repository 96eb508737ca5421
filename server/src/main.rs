//! `imagevault-server`: the command line in front of the library.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Parser, Subcommand};
use imagevault_server::app::{self, Application};
use imagevault_server::config::Config;
use imagevault_server::db::Db;

#[derive(Parser)]
#[command(name = "imagevault-server", version, about = "ImageVault server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP(S) until interrupted (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a verified account; the password is read from a prompt, or from standard
    /// input when it is not a terminal.
    CreateUser {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Configuration errors are one clear line, before logging is even set up.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("imagevault-server: configuration error: {e}");
            std::process::exit(2);
        }
    };
    init_logging(config.debug);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = Db::connect(config.database_url.expose_secret()).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::CreateUser { email, admin } => create_user(config, &email, admin).await,
    }
}

/// Human-readable logs in development, JSON lines in production.
fn init_logging(debug: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if debug {
        builder.init();
    } else {
        builder.json().init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(config = ?config, "starting");
    let app = Application::build(config).await?;
    let handle = app.handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.stop_graceful(std::time::Duration::from_secs(10));
        }
    });
    app.run().await;
    Ok(())
}

async fn create_user(config: Config, email: &str, admin: bool) -> anyhow::Result<()> {
    let password = read_password().context("reading the password")?;
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    let state = app::state(config, db).await?;
    match imagevault_server::accounts::create_user(&state, email, &password, admin).await {
        Ok(id) => {
            let shown = imagevault_common::email::EmailAddress::parse(email)
                .map_or_else(|_| email.to_owned(), |e| e.to_string());
            println!("created {shown} ({id})");
            Ok(())
        }
        Err(imagevault_server::error::ApiError::WeakPassword(weak)) => {
            for rule in weak.failed {
                eprintln!("- {}", rule.message());
            }
            anyhow::bail!("the password does not meet the policy")
        }
        Err(e) => anyhow::bail!("{e}"),
    }
}

fn read_password() -> std::io::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password (again): ")?;
        if first != second {
            return Err(std::io::Error::other("the passwords differ"));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
