//! Single sign-on from the app, the way RFC 8252 says a native app does it: the system
//! browser (where the person's provider session and password manager are) opens the
//! server's start page; the provider sends the browser back to a one-off listener on
//! this computer's loopback address with the code; the server exchanges the code with
//! its client secret. PKCE (RFC 7636, S256) binds the code to this app — a code some
//! other program catches on the way is useless without the verifier, which never
//! leaves this process — and `state` makes the listener ignore anything it did not ask
//! for.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use imagevault_common::api::{ErrorCode, SsoExchange};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::sign_in::{SignInOutcome, Step};
use super::{AccountInfo, Session};
use crate::client::{Api, SsoLogin};
use crate::error::{Error, Result};

/// How long the listener waits for the person to finish at the provider.
const BROWSER_WAIT: Duration = Duration::from_mins(10);
/// How long one browser connection may take to send its request.
const REQUEST_WAIT: Duration = Duration::from_secs(10);
/// The most of a request the listener reads (its line and headers).
const MAX_REQUEST: usize = 16 * 1024;
/// The path the provider sends the browser back to.
const CALLBACK: &str = "/callback";

impl Session {
    /// Signs in through the server's identity provider. `open` shows `url` in the
    /// system browser; this waits (up to ten minutes) for the browser to come back.
    /// The result is signed in, a code to ask for (two-step sign-in), or the password
    /// of the account the provider's email names, asked once to link it.
    pub async fn sign_in_sso(
        &self,
        open: impl FnOnce(&Url) -> Result<()>,
    ) -> Result<SignInOutcome> {
        self.forget_pending();
        let api = Api::new(&self.settings())?;
        let loopback = Loopback::bind().await?;
        let (verifier, challenge) = pkce();
        let state = random_text();
        open(&api.sso_start_url(&loopback.redirect_uri, &challenge, &state))?;
        let redirect_uri = loopback.redirect_uri.clone();
        let code = loopback.receive(&state).await?;
        let exchange = SsoExchange {
            code: code.expose_secret().to_owned(),
            code_verifier: verifier.expose_secret().to_owned(),
            redirect_uri,
        };
        match api.sso_exchange(&exchange).await? {
            SsoLogin::Done(login) => {
                let account = self.finish(api, login).await?;
                Ok(SignInOutcome::SignedIn { account })
            }
            SsoLogin::CodeNeeded(mfa_token) => {
                self.wait_for(api, mfa_token, Step::Code);
                Ok(SignInOutcome::CodeNeeded)
            }
            SsoLogin::LinkNeeded(link_token) => {
                self.wait_for(api, link_token, Step::Link);
                Ok(SignInOutcome::LinkNeeded)
            }
        }
    }

    /// The password (and, with two-step sign-in on, a code) of the account a single
    /// sign-on found by its email: the account is linked to the provider and signed in.
    pub async fn sign_in_sso_link(
        &self,
        password: SecretString,
        code: &str,
    ) -> Result<AccountInfo> {
        let (api, link_token, generation) = self.live_pending(Step::Link)?;
        match api.sso_link(&link_token, password, code.trim()).await {
            Ok(login) => self.finish_pending(api, login, generation).await,
            Err(
                e @ Error::Server {
                    code: ErrorCode::InvalidCredentials | ErrorCode::InvalidCode,
                    ..
                },
            ) => Err(self.failed_try(e)),
            Err(Error::Server {
                code: ErrorCode::InvalidToken,
                ..
            }) => {
                self.forget_pending();
                Err(Error::SignInExpired)
            }
            Err(e) => Err(e),
        }
    }
}

/// A verifier (256 random bits, base64url) and its S256 challenge.
fn pkce() -> (SecretString, String) {
    let verifier = random_text();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (SecretString::from(verifier), challenge)
}

/// 256 random bits as 43 characters of base64url.
fn random_text() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The one-off listener on the loopback address that the provider sends the browser
/// back to.
struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
}

/// What one connection to the listener brought.
enum Arrival {
    /// The code, for this sign-in.
    Code(SecretString),
    /// The provider's refusal, in words.
    Refused(String),
    /// Anything else (a favicon, a stale tab, another program): answered and ignored.
    Ignored,
}

impl Loopback {
    /// A listener on an ephemeral port of 127.0.0.1 (RFC 8252 §7.3), never on an
    /// address other computers reach.
    async fn bind() -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Error::File(format!(
                "Single sign-on needs a port on this computer's loopback address ({e})."
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::File(format!("The loopback port cannot be read ({e}).")))?
            .port();
        Ok(Self {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK}"),
        })
    }

    /// Answers the browser's visits until one brings `state` back with a code or an
    /// error; ten minutes at most.
    async fn receive(self, state: &str) -> Result<SecretString> {
        let wait = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    continue;
                };
                match tokio::time::timeout(REQUEST_WAIT, visit(stream, state)).await {
                    Ok(Arrival::Code(code)) => return Ok(code),
                    Ok(Arrival::Refused(reason)) => return Err(Error::SsoRefused(reason)),
                    Ok(Arrival::Ignored) | Err(_) => {}
                }
            }
        };
        tokio::time::timeout(BROWSER_WAIT, wait)
            .await
            .map_err(|_| Error::SsoTimedOut)?
    }
}

/// Reads one request, answers it with a short page, and says what it brought.
async fn visit(mut stream: TcpStream, state: &str) -> Arrival {
    let Some(target) = request_target(&mut stream).await else {
        respond(
            &mut stream,
            "400 Bad Request",
            "This is not a request ImageVault understands.",
        )
        .await;
        return Arrival::Ignored;
    };
    let arrival = arrival(&target, state);
    let (status, page) = match &arrival {
        Arrival::Code(_) => (
            "200 OK",
            "You are signed in to ImageVault. You can close this tab and go back to the app.",
        ),
        Arrival::Refused(_) => (
            "200 OK",
            "Signing in did not finish. Go back to ImageVault to see why and try again.",
        ),
        Arrival::Ignored => (
            "404 Not Found",
            "This page belongs to a sign-in ImageVault did not start.",
        ),
    };
    respond(&mut stream, status, page).await;
    arrival
}

/// The request target of a `GET`, read up to the end of its headers.
async fn request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() + read > MAX_REQUEST {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let head = std::str::from_utf8(&buffer).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

/// What a request target brought back for this sign-in's `state`.
fn arrival(target: &str, state: &str) -> Arrival {
    let Ok(url) = Url::parse("http://127.0.0.1").and_then(|base| base.join(target)) else {
        return Arrival::Ignored;
    };
    if url.path() != CALLBACK {
        return Arrival::Ignored;
    }
    let field = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if field("state").as_deref() != Some(state) {
        return Arrival::Ignored;
    }
    if let Some(error) = field("error") {
        return Arrival::Refused(provider_error(&error));
    }
    match field("code") {
        Some(code) if !code.is_empty() && code.len() <= 2048 => {
            Arrival::Code(SecretString::from(code))
        }
        _ => Arrival::Refused("Your identity provider sent no usable sign-in. Try again.".into()),
    }
}

/// The provider's `error` (RFC 6749 §4.1.2.1) in words.
fn provider_error(error: &str) -> String {
    match error {
        "access_denied" => {
            "You did not allow ImageVault at your identity provider, so you are not signed in."
        }
        "temporarily_unavailable" | "server_error" => {
            "Your identity provider could not sign you in just now. Try again in a moment."
        }
        _ => "Your identity provider could not sign you in. Try again, or use your password.",
    }
    .to_owned()
}

/// A short page: no script, nothing loaded, not cached.
async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>ImageVault</title>\
         <p style=\"font: 1.2rem system-ui, sans-serif; margin: 3rem\">{text}</p></html>"
    );
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sign_ins_callback_counts() {
        let code = |target: &str| match arrival(target, "s1") {
            Arrival::Code(code) => Some(code.expose_secret().to_owned()),
            _ => None,
        };
        assert_eq!(
            code("/callback?code=abc&state=s1&iss=x").as_deref(),
            Some("abc")
        );
        assert_eq!(
            code("/callback?code=abc&state=s2"),
            None,
            "another sign-in's state"
        );
        assert_eq!(code("/callback?code=abc"), None, "no state");
        assert_eq!(code("/favicon.ico"), None);
        assert_eq!(code("/other?code=abc&state=s1"), None);
        assert!(matches!(
            arrival("/callback?error=access_denied&state=s1", "s1"),
            Arrival::Refused(reason) if reason.contains("did not allow")
        ));
        assert!(matches!(
            arrival("/callback?error=access_denied&state=zz", "s1"),
            Arrival::Ignored
        ));
        let long = format!("/callback?code={}&state=s1", "c".repeat(3000));
        assert!(matches!(arrival(&long, "s1"), Arrival::Refused(_)));
    }

    #[test]
    fn pkce_is_s256_of_a_strong_verifier() {
        let (verifier, challenge) = pkce();
        assert_eq!(verifier.expose_secret().len(), 43);
        assert_eq!(
            challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes()))
        );
        assert_ne!(pkce().1, challenge);
    }

    #[tokio::test]
    async fn the_listener_answers_strangers_and_takes_the_code() {
        let loopback = Loopback::bind().await.unwrap();
        let base = loopback.redirect_uri.clone();
        assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/callback"));
        let receiving = tokio::spawn(async move { loopback.receive("s1").await });
        let port = base
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/callback")
            .to_owned();
        // A POST is answered 400 and ignored; so is a head over the limit (unless the
        // reset of the unread rest beats the answer). Either way the listener goes on.
        let junk = vec![b'x'; MAX_REQUEST + 4096];
        let a_post = b"POST /callback?code=x&state=s1 HTTP/1.1\r\n\r\n".to_vec();
        for (request, must_answer) in [(a_post, true), (junk, false)] {
            let mut raw = TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .unwrap();
            let _ = raw.write_all(&request).await;
            let _ = raw.shutdown().await;
            let mut answer = Vec::new();
            let _ = raw.read_to_end(&mut answer).await;
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.starts_with("HTTP/1.1 400") || (!must_answer && answer.is_empty()),
                "{answer}"
            );
        }
        let client = reqwest::Client::new();
        let stray = client
            .get(format!("{base}?code=x&state=other"))
            .send()
            .await
            .unwrap();
        assert_eq!(stray.status(), 404);
        let home = client
            .get(format!("{base}?code=the-code&state=s1"))
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), 200);
        assert!(home.text().await.unwrap().contains("You are signed in"));
        let code = receiving.await.unwrap().unwrap();
        assert_eq!(code.expose_secret(), "the-code");
    }
}
