//! Outgoing email: real SMTP through `lettre` when `EMAIL_HOST` is set, otherwise `.eml`
//! files in `DATA_DIR/outbox` (and a log line saying where), so the embedded default
//! works without a mail server.
//!
//! Messages are sent from a background task: a slow or failing relay must neither slow
//! registration down nor make it fail, or its timing would tell whether an address has
//! an account.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{Config, SmtpConfig};

/// Email failures; logged, never shown to the requester.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The message could not be built (a bad address).
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The relay refused or could not be reached.
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The outbox could not be written.
    #[error("outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Sends the account emails.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: Arc<str>,
    /// Background sends not yet finished (delivered or failed).
    in_flight: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Mailer {
    /// Builds the transport the configuration asks for.
    pub fn new(config: &Config) -> Result<Self, EmailError> {
        let transport = match &config.email {
            Some(smtp) => Transport::Smtp(smtp_transport(smtp)?),
            None => Transport::Outbox(config.data_dir.join("outbox")),
        };
        let from = config
            .email_from
            .parse()
            .map_err(|e: lettre::address::AddressError| EmailError::Build(e.to_string()))?;
        Ok(Self {
            transport,
            from,
            public_url: config.public_url.as_str().into(),
            in_flight: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// The link to verify an address.
    pub fn verification(&self, to: &str, token: &str) -> Outgoing {
        let link = format!("{}/verify?token={token}", self.public_url);
        Outgoing::new(
            to,
            "Confirm your ImageVault email address",
            format!(
                "Welcome to ImageVault.\n\nOpen this link within 24 hours to confirm your \
                 address and finish creating your account:\n\n{link}\n\nIf you did not sign \
                 up, ignore this message; no account will be activated.\n"
            ),
        )
    }

    /// Told to the owner of an address someone tried to register again.
    pub fn already_registered(&self, to: &str) -> Outgoing {
        let link = format!("{}/forgot-password", self.public_url);
        Outgoing::new(
            to,
            "Someone tried to create an ImageVault account with your address",
            format!(
                "Someone (perhaps you) tried to create an ImageVault account with this \
                 address, but you already have one.\n\nIf you forgot your password, reset it \
                 here:\n\n{link}\n\nOtherwise you can ignore this message.\n"
            ),
        )
    }

    /// The link to choose a new password.
    pub fn password_reset(&self, to: &str, token: &str) -> Outgoing {
        let link = format!("{}/reset-password?token={token}", self.public_url);
        Outgoing::new(
            to,
            "Reset your ImageVault password",
            format!(
                "Open this link within 1 hour to choose a new password:\n\n{link}\n\n\
                 Resetting signs you out on every device. If you did not ask for this, \
                 ignore this message; your password stays as it is.\n"
            ),
        )
    }

    /// Warns the owner that sign-in from new devices was locked after repeated failures,
    /// with a one-time link that lets one browser sign in past the lock.
    pub fn lockout(&self, to: &str, minutes: i64, unlock_token: &str) -> Outgoing {
        let unlock = format!("{}/unlock?token={unlock_token}", self.public_url);
        let reset = format!("{}/forgot-password", self.public_url);
        Outgoing::new(
            to,
            "Your ImageVault account was locked",
            format!(
                "Several wrong passwords or codes were tried on your ImageVault account, so                  sign-in from new devices is blocked for {minutes} minutes. Devices you have                  signed in with before can still sign in.\n\nTo sign in from this browser                  now, open this link within 24 hours (it works once; you still need your                  password):\n\n{unlock}\n\nIf this was not you, consider resetting your                  password:\n\n{reset}\n"
            ),
        )
    }

    /// Tells the owner that two-step sign-in was turned on or off.
    pub fn two_step_changed(&self, to: &str, on: bool) -> Outgoing {
        let (subject, what) = if on {
            (
                "Two-step sign-in is on for your ImageVault account",
                "Two-step sign-in was turned on: signing in now also asks for a code from \
                 your authenticator app (or one of your recovery codes).",
            )
        } else {
            (
                "Two-step sign-in is off for your ImageVault account",
                "Two-step sign-in was turned off: signing in now asks for your password \
                 only.",
            )
        };
        Outgoing::new(
            to,
            subject,
            format!(
                "{what}\n\nIf this was not you, reset your password at once:\n\n{}/forgot-password\n",
                self.public_url
            ),
        )
    }

    /// Tells the owner a passkey was added to or removed from the account.
    pub fn passkey_changed(&self, to: &str, name: &str, added: bool) -> Outgoing {
        let (subject, what) = if added {
            (
                "A passkey was added to your ImageVault account",
                format!(
                    "A passkey named \"{name}\" was added: it can now sign in to your account without the password."
                ),
            )
        } else {
            (
                "A passkey was removed from your ImageVault account",
                format!("The passkey named \"{name}\" was removed and can no longer sign in."),
            )
        };
        Outgoing::new(
            to,
            subject,
            format!(
                "{what}\n\nIf this was not you, reset your password at once and remove the passkey on your account page:\n\n{}/forgot-password\n",
                self.public_url
            ),
        )
    }

    /// Tells the owner a recovery code was used, and how many are left.
    pub fn recovery_code_used(&self, to: &str, left: i64) -> Outgoing {
        Outgoing::new(
            to,
            "A recovery code was used on your ImageVault account",
            format!(
                "One of your recovery codes was just used to sign in or change two-step \
                 sign-in. {left} unused codes are left; you can make new ones on your account \
                 page.\n\nIf this was not you, reset your password at once:\n\n{}/forgot-password\n",
                self.public_url
            ),
        )
    }

    /// An alert to an administrator.
    pub fn alert(&self, to: &str, title: &str, body: &str) -> Outgoing {
        Outgoing::new(
            to,
            &format!("ImageVault alert: {title}"),
            format!("{body}\nServer: {}\n", self.public_url),
        )
    }

    /// Sends in the background; failures are logged with the recipient, never the body
    /// (it may carry a token).
    pub fn send_later(&self, outgoing: Outgoing) {
        use tracing::Instrument;
        let mailer = self.clone();
        // Counted before the task starts, so a caller that queued mail and then asks
        // whether everything settled cannot be answered too early.
        self.in_flight.send_modify(|n| *n += 1);
        tokio::spawn(
            async move {
                if let Err(e) = mailer.send(&outgoing).await {
                    tracing::error!(to = %outgoing.to, subject = %outgoing.subject, error = %e, "email not sent");
                }
                mailer.in_flight.send_modify(|n| *n -= 1);
            }
            .in_current_span(),
        );
    }

    /// Waits until every message queued so far was delivered or given up on (graceful
    /// shutdown, and tests that must know a message will never come).
    pub async fn settled(&self) {
        let mut watching = self.in_flight.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = watching.wait_for(|n| *n == 0).await;
    }

    /// Sends now.
    pub async fn send(&self, outgoing: &Outgoing) -> Result<(), EmailError> {
        let to: Mailbox = outgoing
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| EmailError::Build(e.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&outgoing.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(plain_body(&outgoing.body))
            .map_err(|e| EmailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
                tracing::info!(to = %outgoing.to, subject = %outgoing.subject, "email sent");
            }
            Transport::Outbox(dir) => {
                let path = write_outbox(dir, &message.formatted()).await?;
                tracing::info!(to = %outgoing.to, subject = %outgoing.subject,
                    path = %path.display(), "email written to the outbox (EMAIL_HOST is unset)");
            }
        }
        Ok(())
    }
}

/// A message about to be sent.
#[derive(Clone)]
pub struct Outgoing {
    to: String,
    subject: String,
    body: String,
}

impl Outgoing {
    fn new(to: &str, subject: &str, body: String) -> Self {
        Self {
            to: to.to_owned(),
            subject: subject.to_owned(),
            body,
        }
    }
}

/// 7-bit text with lines up to SMTP's 998-byte limit, so long links survive intact in
/// every client and in raw captures. lettre picks quoted-printable for any line over 76
/// characters, which splits links and turns `token=` into `token=3D`; our bodies are
/// ASCII we wrote ourselves, so we can state the encoding — and fall back to lettre's
/// choice for anything that is not.
fn plain_body(text: &str) -> Body {
    let fits = text.is_ascii() && !text.contains('\r') && text.lines().all(|l| l.len() < 998);
    if fits {
        Body::dangerous_pre_encoded(
            text.replace('\n', "\r\n").into_bytes(),
            ContentTransferEncoding::SevenBit,
        )
    } else {
        Body::new(text.to_owned())
    }
}

fn smtp_transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
    let mut builder = if smtp.use_tls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
    };
    builder = builder
        .port(smtp.port)
        .timeout(Some(std::time::Duration::from_secs(20)));
    if smtp.use_tls
        && let Some(ca_file) = &smtp.ca_file
    {
        let pem = std::fs::read(ca_file)?;
        let params = TlsParameters::builder(smtp.host.clone())
            .add_root_certificate(Certificate::from_pem(&pem)?)
            .build_rustls()?;
        builder = builder.tls(Tls::Required(params));
    }
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// Writes `bytes` as a new `.eml` file: temporary name, fsync, then rename, so a reader
/// never sees half a message.
async fn write_outbox(dir: &std::path::Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = dir.to_owned();
    let bytes = bytes.to_vec();
    // Outbox messages carry live tokens: owner-only folder and files.
    tokio::task::spawn_blocking(move || {
        let name = format!(
            "{}-{}",
            time::OffsetDateTime::now_utc().unix_timestamp_nanos(),
            uuid::Uuid::new_v4()
        );
        let path = dir.join(format!("{name}.eml"));
        imagevault_durable::write_private(&path, &bytes)?;
        Ok(path)
    })
    .await
    .map_err(std::io::Error::other)?
}
