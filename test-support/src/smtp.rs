//! A real SMTP server on loopback that keeps every message it receives, so tests read
//! the emails the application really sent over the wire. It can offer STARTTLS with a
//! certificate from a test CA, to prove the application upgrades and verifies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
    /// Whether it arrived after a STARTTLS upgrade.
    pub encrypted: bool,
}

impl Mail {
    /// The first `http…` link in the body.
    pub fn link(&self) -> String {
        let start = self.data.find("http").expect("the message has a link");
        self.data[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    /// The `token` parameter of the message's link.
    pub fn token(&self) -> String {
        let link = self.link();
        link.split("token=")
            .nth(1)
            .expect("link has a token")
            .to_owned()
    }
}

/// The sink; cloning shares the mailbox.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    /// PEM of the certificate offered on STARTTLS (its own CA), when TLS is on.
    pub ca_pem: Option<String>,
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
    tls: Option<TlsAcceptor>,
    /// Clients that asked for STARTTLS and then did not complete the handshake (they
    /// did not trust the certificate).
    refused_tls: Arc<tokio::sync::watch::Sender<usize>>,
}

impl SmtpSink {
    /// A plain SMTP sink.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A sink that offers STARTTLS with a self-signed certificate for 127.0.0.1.
    pub async fn start_tls() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let mut sink = Self::start_with(Some(TlsAcceptor::from(Arc::new(config)))).await;
        sink.ca_pem = Some(certified.cert.pem());
        sink
    }

    async fn start_with(tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            port: listener.local_addr().unwrap().port(),
            ca_pem: None,
            mails: Arc::default(),
            arrived: Arc::default(),
            tls,
            refused_tls: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        let accepting = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = accepting.clone();
                tokio::spawn(async move { sink.session(stream).await });
            }
        });
        sink
    }

    async fn session(&self, stream: TcpStream) {
        let mut plain = BufReader::new(stream);
        if plain
            .get_mut()
            .write_all(b"220 sink ESMTP\r\n")
            .await
            .is_err()
        {
            return;
        }
        let upgrade = self.converse(&mut plain, false).await;
        if let (true, Some(acceptor)) = (upgrade, &self.tls) {
            match acceptor.accept(plain.into_inner()).await {
                Ok(tls) => {
                    self.converse(&mut BufReader::new(tls), true).await;
                }
                Err(_) => self.refused_tls.send_modify(|n| *n += 1),
            }
        }
    }

    /// Waits (up to 10 s) until a client has abandoned a STARTTLS handshake.
    pub async fn wait_for_refused_tls(&self) {
        let mut refused = self.refused_tls.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), refused.wait_for(|n| *n > 0));
        assert!(
            matches!(waited.await, Ok(Ok(_))),
            "no client gave up on the TLS handshake"
        );
    }

    /// Speaks SMTP until QUIT or EOF; returns true when the client asked for STARTTLS.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut BufReader<S>,
        encrypted: bool,
    ) -> bool {
        let offer_tls = self.tls.is_some() && !encrypted;
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if !matches!(stream.read_line(&mut line).await, Ok(n) if n > 0) {
                return false;
            }
            let command = line.trim_end().to_owned();
            let upper = command.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                if offer_tls {
                    b"250-sink\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
                } else {
                    b"250-sink\r\n250 8BITMIME\r\n"
                }
            } else if upper == "STARTTLS" && offer_tls {
                let _ = stream.get_mut().write_all(b"220 ready for TLS\r\n").await;
                return true;
            } else if upper.starts_with("RCPT TO:") {
                to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
                b"250 ok\r\n"
            } else if upper == "DATA" {
                let _ = stream.get_mut().write_all(b"354 go ahead\r\n").await;
                let data = read_data(stream).await;
                self.mails.lock().unwrap().push(Mail {
                    to: std::mem::take(&mut to),
                    data,
                    encrypted,
                });
                self.arrived.notify_waiters();
                b"250 queued\r\n"
            } else if upper == "QUIT" {
                let _ = stream.get_mut().write_all(b"221 bye\r\n").await;
                return false;
            } else {
                b"250 ok\r\n"
            };
            if stream.get_mut().write_all(reply).await.is_err() {
                return false;
            }
        }
    }

    /// Messages to `to` so far.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) for the `n`th message to `to` whose text contains `needle`.
    pub async fn wait_for(&self, to: &str, needle: &str, n: usize) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let arrived = self.arrived.notified();
            let found: Vec<Mail> = self
                .mails_to(to)
                .into_iter()
                .filter(|m| m.data.contains(needle))
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "no email #{n} to {to} containing {needle:?}; got {:?}",
                self.mails_to(to)
            );
        }
    }
}

/// The message after DATA, up to the lone `.` line, with dot-stuffing undone.
async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut BufReader<S>) -> String {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if !matches!(stream.read_line(&mut line).await, Ok(n) if n > 0) {
            return data;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            return data;
        }
        data.push_str(text.strip_prefix('.').unwrap_or(text));
        data.push('\n');
    }
}
