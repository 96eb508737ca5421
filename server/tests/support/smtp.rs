//! A real SMTP server on loopback that keeps every message it receives, so tests read
//! the emails the application really sent over the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
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
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            port: listener.local_addr().unwrap().port(),
            mails: Arc::default(),
            arrived: Arc::default(),
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

    async fn session(&self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let mut to = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("RCPT TO:") {
                to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                b"250 ok\r\n"
            } else if upper.starts_with("DATA") {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                self.mails.lock().unwrap().push(Mail {
                    to: std::mem::take(&mut to),
                    data,
                });
                self.arrived.notify_waiters();
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"250 ok\r\n"
            };
            if write.write_all(reply).await.is_err() {
                return;
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
