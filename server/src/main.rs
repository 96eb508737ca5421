//! `imagevault-server`: the command line in front of the library.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Parser, Subcommand};
use imagevault_common::email::EmailAddress;
use imagevault_common::password::Password;
use imagevault_server::app::{self, Application};
use imagevault_server::audit;
use imagevault_server::config::Config;
use imagevault_server::db::Db;
use imagevault_server::maintenance;
use imagevault_server::storage::BlobStore;
use imagevault_server::vault::MasterKeys;

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
    /// Add a master-key version (to `MASTER_KEY_FILE` or the token) and rewrap every user
    /// key with it (image blobs are untouched). Safe while servers run, and safe to re-run.
    RotateKeys {
        /// Then remove every older master-key version that no user key uses any more
        /// (its audit key is kept, so the audit log still verifies).
        #[arg(long)]
        retire: bool,
    },
    /// Give users fresh data keys and re-encrypt their images and thumbnails under them,
    /// while servers keep serving. Safe to interrupt and run again: it resumes.
    RotateUserKeys {
        /// The account whose key to replace.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        email: Option<String>,
        /// Every account's key.
        #[arg(long)]
        all: bool,
    },
    /// Remove blobs that no image row points to, and report rows whose blobs are missing.
    Sweep {
        /// Leave orphans younger than this many seconds (uploads may be in flight).
        #[arg(long, default_value_t = maintenance::SWEEP_GRACE.as_secs())]
        grace_seconds: u64,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the whole chain: exit 0 when it holds, 1 naming the first broken `seq`.
    Verify,
    /// Write every event, oldest first, as JSON lines to standard output.
    Export,
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
        Command::RotateKeys { retire } => rotate_keys(config, retire).await,
        Command::RotateUserKeys { email, all: _ } => rotate_user_keys(config, email).await,
        Command::Sweep { grace_seconds } => sweep(config, grace_seconds).await,
        Command::Audit { action } => audit(config, action).await,
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
    let email = EmailAddress::parse(email)
        .map_err(|_| anyhow::anyhow!("{email:?} is not a valid email address"))?;
    let password = read_password().context("reading the password")?;
    let password = match Password::parse(&password, &email) {
        Ok(password) => password,
        Err(weak) => {
            for rule in weak.failed {
                eprintln!("- {}", rule.message());
            }
            anyhow::bail!("the password does not meet the policy")
        }
    };
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    let state = app::state(config, db).await?;
    let id = imagevault_server::accounts::create_user(&state, &email, &password, admin).await?;
    println!("created {email} ({id})");
    Ok(())
}

async fn rotate_keys(config: Config, retire: bool) -> anyhow::Result<()> {
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    let keys = master_keys(&config, &db).await?;
    let report = maintenance::rotate_keys(&db, &keys, retire).await?;
    println!(
        "master key version {} added; {} user key(s) rewrapped",
        report.version, report.rewrapped
    );
    if retire {
        println!("master key version(s) retired: {:?}", report.retired);
    }
    Ok(())
}

async fn rotate_user_keys(config: Config, email: Option<String>) -> anyhow::Result<()> {
    use imagevault_server::rekey::{self, Whom};
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    let keys = master_keys(&config, &db).await?;
    let store = BlobStore::open(&config.storage)?;
    let whom = email.map_or(Whom::All, Whom::Email);
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |user, done: u64, left: i64| {
        // A line that rewrites itself on a terminal; whole lines in a log.
        if terminal {
            eprint!("\r{user}: {done} image(s) re-encrypted, {left} left   ");
        } else {
            eprintln!("{user}: {done} image(s) re-encrypted, {left} left");
        }
    };
    let done = rekey::rotate_user_keys(&db, &store, &keys, &whom, &mut progress).await?;
    if terminal {
        eprintln!();
    }
    for user in &done {
        println!(
            "{}: new key (epoch {}), {} image(s) re-encrypted",
            user.user, user.epoch, user.images
        );
    }
    println!("{} user key(s) replaced", done.len());
    Ok(())
}

/// The master keys, opened and checked against the database as the server does.
async fn master_keys(config: &Config, db: &Db) -> anyhow::Result<MasterKeys> {
    imagevault_server::keys::load_master_keys(config, db)
        .await
        .map_err(|reason| anyhow::anyhow!("master key: {reason}"))
}

async fn sweep(config: Config, grace_seconds: u64) -> anyhow::Result<()> {
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    let store = BlobStore::open(&config.storage)?;
    let report =
        maintenance::sweep(&db, &store, std::time::Duration::from_secs(grace_seconds)).await?;
    println!(
        "{} blob(s) checked, {} orphan(s) removed, {} young orphan(s) left",
        report.blobs, report.removed, report.young_orphans
    );
    for id in &report.rows_without_blobs {
        println!("image {id} has a row but its blobs are missing");
    }
    if report.rows_without_blobs.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} image row(s) point to missing blobs",
            report.rows_without_blobs.len()
        )
    }
}

async fn audit(config: Config, action: AuditAction) -> anyhow::Result<()> {
    let db = Db::connect(config.database_url.expose_secret()).await?;
    db.migrate().await?;
    match action {
        AuditAction::Verify => {
            let keys = master_keys(&config, &db).await?;
            let report = audit::verify(&db, &keys).await?;
            match report.broken {
                None => {
                    println!("audit log intact: {} event(s)", report.rows);
                    Ok(())
                }
                Some(broken) => {
                    eprintln!(
                        "audit log BROKEN at seq {}: {} ({} event(s) before it check out)",
                        broken.seq, broken.reason, report.rows
                    );
                    std::process::exit(1);
                }
            }
        }
        AuditAction::Export => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = audit::export(&db, &mut out).await?;
            std::io::Write::flush(&mut out)?;
            eprintln!("{written} event(s) exported");
            Ok(())
        }
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
