//! The HTTP client for the server's JSON API: the only code that talks to the network.
//!
//! It runs in Rust, not in the web view, so the token never enters JavaScript. TLS is
//! rustls with the platform's roots plus, optionally, the CA file from Settings; it is
//! never switched off. Every answer is turned into the server's documented shapes or an
//! [`Error`] saying, in words, what went wrong. The account's own security — two-step
//! sign-in and its sessions — is in [`account`](self::account).

mod account;
mod shares;
mod sso;

pub use sso::SsoLogin;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use imagevault_common::api::{
    Credentials, EmailRequest, ErrorBody, ErrorCode, ImageList, ImageObject, LoginResponse, Me,
};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::settings::{Settings, read_ca_file};

/// A bearer token. It is zeroised on drop and never printed (`[REDACTED]` in `Debug`);
/// clones share the one copy.
#[derive(Debug, Clone)]
pub struct Token(Arc<SecretString>);

impl Token {
    /// Wraps a token received from the server or read from the keychain.
    pub fn new(token: String) -> Self {
        Self(Arc::new(SecretString::from(token)))
    }

    /// Whether both are the same token (the same sign-in).
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The token itself, for the `Authorization` header and the keychain only.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// HMAC-SHA256 of `data` under the token, in base64url: names something of this
    /// session (an upload, the queue's journal) without revealing the token or `data`.
    pub fn keyed_digest(&self, data: &[u8]) -> String {
        use base64::Engine as _;
        use hmac::{KeyInit, Mac};
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(self.expose_secret().as_bytes())
                .expect("HMAC takes any key length");
        mac.update(data);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// How the password step of a sign-in ended. (`Debug` shows neither token.)
#[derive(Debug)]
pub enum Login {
    /// Signed in.
    Done(LoginResponse),
    /// Two-step sign-in is on: a code must follow, sent with this token (which names
    /// the waiting step; it is a secret like the password, so it is never printed).
    CodeNeeded(SecretString),
}

/// Bytes handed to the connection per progress report during an upload.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Longest wait for a JSON call (sign-in, listing, …) as a whole.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for one image or thumbnail.
const IMAGE_TIMEOUT: Duration = Duration::from_mins(2);
/// Largest JSON answer accepted (a page of 100 images is ~30 KB).
const MAX_JSON_ANSWER: usize = 1024 * 1024;
/// Largest image answer accepted: the upload limit plus slack.
const MAX_IMAGE_ANSWER: usize = imagevault_common::image::MAX_IMAGE_BYTES + 1024 * 1024;
/// Largest error body read.
const MAX_ERROR_ANSWER: usize = 64 * 1024;

/// A client for one server.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    /// A client for the server in `settings`, trusting its extra CA if one is set.
    pub fn new(settings: &Settings) -> Result<Self> {
        let base = settings.server()?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("ImageVault-Desktop/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_mins(1))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base.scheme() == "https");
        if let Some(ca) = &settings.ca_file {
            builder = builder.tls_certs_merge(read_ca_file(ca)?);
        }
        let http = builder.build().map_err(|e| {
            Error::InvalidSetting(format!("The HTTP client could not start ({e})."))
        })?;
        Ok(Self { http, base })
    }

    /// The server's base address.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// A request that must finish within [`CALL_TIMEOUT`].
    fn call(&self, method: reqwest::Method, url: Url) -> RequestBuilder {
        self.http.request(method, url).timeout(CALL_TIMEOUT)
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(&format!("api/v1/{path}"))
            .expect("API paths are relative")
    }

    /// `POST /auth/login`. A right password for an account with two-step sign-in on is
    /// not an error here but [`Login::CodeNeeded`], carrying the token the code goes with.
    pub async fn login(&self, credentials: &Credentials) -> Result<Login> {
        let req = self
            .call(reqwest::Method::POST, self.url("auth/login"))
            .json(credentials);
        let res = req.send().await.map_err(transport)?;
        if res.status().is_success() {
            return json(res).await.map(Login::Done);
        }
        match server_error_and_token(res).await {
            (_, Some(mfa_token)) => Ok(Login::CodeNeeded(mfa_token)),
            (
                Error::Server {
                    code: ErrorCode::MfaRequired,
                    ..
                },
                None,
            ) => Err(Error::BadResponse(
                "a code was asked for without its sign-in token".into(),
            )),
            (err, None) => Err(err),
        }
    }

    /// `POST /auth/register`: 202 whether or not the address is taken.
    pub async fn register(&self, credentials: &Credentials) -> Result<()> {
        let req = self
            .call(reqwest::Method::POST, self.url("auth/register"))
            .json(credentials);
        send(req).await.map(drop)
    }

    /// `POST /auth/resend-verification`.
    pub async fn resend_verification(&self, email: &str) -> Result<()> {
        let body = EmailRequest {
            email: email.into(),
        };
        let req = self
            .http
            .post(self.url("auth/resend-verification"))
            .json(&body);
        send(req).await.map(drop)
    }

    /// `POST /auth/logout`: revokes the token on the server.
    pub async fn logout(&self, token: &Token) -> Result<()> {
        send(authed(
            self.call(reqwest::Method::POST, self.url("auth/logout")),
            token,
        ))
        .await
        .map(drop)
    }

    /// `GET /me`.
    pub async fn me(&self, token: &Token) -> Result<Me> {
        json(
            send(authed(
                self.call(reqwest::Method::GET, self.url("me")),
                token,
            ))
            .await?,
        )
        .await
    }

    /// `GET /images`, one page.
    pub async fn list_images(&self, token: &Token, cursor: Option<&str>) -> Result<ImageList> {
        let mut url = self.url("images");
        if let Some(cursor) = cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        json(send(authed(self.call(reqwest::Method::GET, url), token)).await?).await
    }

    /// `GET /images/{id}/thumbnail` or `/content`: the decrypted bytes.
    pub async fn image_bytes(&self, token: &Token, id: Uuid, thumbnail: bool) -> Result<Bytes> {
        let part = if thumbnail { "thumbnail" } else { "content" };
        let req = authed(
            self.call(
                reqwest::Method::GET,
                self.url(&format!("images/{id}/{part}")),
            ),
            token,
        );
        let req = req.timeout(IMAGE_TIMEOUT);
        read_capped(send(req).await?, MAX_IMAGE_ANSWER).await
    }

    /// `DELETE /images/{id}`.
    pub async fn delete_image(&self, token: &Token, id: Uuid) -> Result<()> {
        let req = authed(
            self.call(reqwest::Method::DELETE, self.url(&format!("images/{id}"))),
            token,
        );
        send(req).await.map(drop)
    }

    /// `POST /images`, reporting the bytes handed to the connection as they go.
    pub async fn upload(
        &self,
        token: &Token,
        filename: &str,
        content_type: &str,
        data: Bytes,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<ImageObject> {
        let key = upload_key(token, &data);
        let total = data.len() as u64;
        let chunks = (0..data.len()).step_by(UPLOAD_CHUNK).map(move |start| {
            let end = (start + UPLOAD_CHUNK).min(data.len());
            progress(end as u64);
            Ok::<_, std::io::Error>(data.slice(start..end))
        });
        let body = reqwest::Body::wrap_stream(stream::iter(chunks));
        let part = reqwest::multipart::Part::stream_with_length(body, total)
            .file_name(filename.to_owned())
            .mime_str(content_type)
            .map_err(|e| Error::File(format!("Unusable content type ({e}).")))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let req = authed(self.http.post(self.url("images")), token)
            .header("Idempotency-Key", key)
            .multipart(form);
        json(send(req).await?).await
    }
}

/// An upload's `Idempotency-Key`: an HMAC of the bytes sent, keyed by the session's
/// token. A retry of the same upload in the same session (after a restart too) carries
/// the same key, so the server answers a retry after a lost 201 with the image it
/// already stored. A bare content hash would also do that, but would let anyone reading
/// the server's database confirm which known photo an account holds; this key means
/// nothing without the token.
fn upload_key(token: &Token, data: &[u8]) -> String {
    format!("iv1-{}", token.keyed_digest(data))
}

fn authed(req: RequestBuilder, token: &Token) -> RequestBuilder {
    req.bearer_auth(token.expose_secret())
}

/// Reads an answer's body, refusing one larger than `max` (a hostile or confused
/// server must not make the app buffer without bound).
async fn read_capped(mut res: Response, max: usize) -> Result<Bytes> {
    let too_large = || Error::BadResponse("the answer is larger than any ImageVault answer".into());
    if res.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// Sends a request; any status but 2xx becomes the server's documented error.
async fn send(req: RequestBuilder) -> Result<Response> {
    let res = req.send().await.map_err(transport)?;
    if res.status().is_success() {
        Ok(res)
    } else {
        Err(server_error(res).await)
    }
}

async fn json<T: DeserializeOwned>(res: Response) -> Result<T> {
    let bytes = read_capped(res, MAX_JSON_ANSWER).await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::BadResponse(e.to_string()))
}

/// The server's `{"error": {...}}`, or a plain description when something else answered
/// (a proxy's HTML page, a redirect to somewhere else).
async fn server_error(res: Response) -> Error {
    server_error_and_token(res).await.0
}

/// [`server_error`], and the token an answer carries to go on with — the `mfa_token`
/// of `mfa_required`, the `link_token` of `sso_link_required` — kept apart from the
/// error so it can never reach a log line or the web view.
async fn server_error_and_token(res: Response) -> (Error, Option<SecretString>) {
    let status = res.status();
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = read_capped(res, MAX_ERROR_ANSWER).await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => {
            let token = match error.code {
                ErrorCode::MfaRequired => error.mfa_token,
                ErrorCode::SsoLinkRequired => error.link_token,
                _ => None,
            }
            .map(SecretString::from);
            let err = Error::Server {
                status: status.as_u16(),
                code: error.code,
                message: error.message,
                failed_rules: error.failed_rules,
                retry_after,
            };
            (err, token)
        }
        Err(_) if status.is_redirection() => (
            Error::BadResponse(format!(
                "it redirects elsewhere ({status}); check the address"
            )),
            None,
        ),
        Err(_) => (
            Error::Server {
                status: status.as_u16(),
                code: fallback_code(status),
                message: format!("The server answered {status}."),
                failed_rules: Vec::new(),
                retry_after,
            },
            None,
        ),
    }
}

fn fallback_code(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        404 => ErrorCode::NotFound,
        413 => ErrorCode::TooLarge,
        429 => ErrorCode::RateLimited,
        502..=504 => ErrorCode::Unavailable,
        400..=499 => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    }
}

/// A transport failure in words. Certificate failures are told apart (by rustls's
/// message anywhere in the chain) because their remedy differs: trust the right CA.
#[allow(clippy::needless_pass_by_value)] // `map_err` hands the error over by value
fn transport(err: reqwest::Error) -> Error {
    if err.is_timeout() {
        return Error::Timeout;
    }
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        let text = e.to_string();
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return Error::Tls(text);
        }
        source = e.source();
    }
    if err.is_decode() {
        return Error::BadResponse(err.to_string());
    }
    tracing::info!(error = %err, "request failed");
    Error::Unreachable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_print() {
        let token = Token::new("secret-value".into());
        let shown = format!("{token:?}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
        assert_eq!(token.expose_secret(), "secret-value");
    }

    #[test]
    fn upload_keys_are_stable_per_session_and_content_and_fit_the_header() {
        let (a, b) = (Token::new("token-a".into()), Token::new("token-b".into()));
        let key = upload_key(&a, b"photo");
        assert_eq!(key, upload_key(&a, b"photo"), "a retry sends the same key");
        assert_ne!(key, upload_key(&a, b"photo2"), "another photo, another key");
        assert_ne!(
            key,
            upload_key(&b, b"photo"),
            "another session, another key"
        );
        assert!(
            key.len() <= 64 && key.bytes().all(|c| c.is_ascii_graphic()),
            "{key}"
        );
        assert!(!key.contains("photo"));
    }

    #[test]
    fn api_paths_stay_under_the_base() {
        let settings = Settings {
            server_url: "https://example.com/vault/".into(),
            ..Settings::default()
        };
        let api = Api::new(&settings).unwrap();
        assert_eq!(
            api.url("images").as_str(),
            "https://example.com/vault/api/v1/images"
        );
    }

    /// A "server" that answers every connection with `head` and then `chunks` chunks
    /// of 64 KiB of spaces (chunked encoding).
    async fn hostile_server(head: &'static str, chunks: usize) -> Settings {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                    for _ in 0..chunks {
                        if socket.write_all(chunk.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                });
            }
        });
        Settings {
            server_url: format!("http://127.0.0.1:{port}/"),
            ..Settings::default()
        }
    }

    #[tokio::test]
    async fn oversized_answers_are_refused_not_buffered() {
        let token = Token::new("t".into());
        // A declared 900 MB body, then an undeclared stream of 2.5 MiB.
        for (head, chunks) in [
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 900000000\r\n\r\n",
                0,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                40,
            ),
        ] {
            let server = hostile_server(head, chunks).await;
            let err = Api::new(&server).unwrap().me(&token).await.unwrap_err();
            assert!(
                err.to_string()
                    .contains("larger than any ImageVault answer"),
                "{head}: {err}"
            );
        }

        let html = hostile_server(
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n",
            1,
        )
        .await;
        let err = Api::new(&html).unwrap().me(&token).await.unwrap_err();
        assert_eq!(err.code(), "unavailable", "{err:?}");
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_not_a_crash() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let settings = Settings {
            server_url: format!("http://127.0.0.1:{port}/"),
            ..Settings::default()
        };
        let err = Api::new(&settings)
            .unwrap()
            .me(&Token::new("t".into()))
            .await;
        assert!(matches!(err, Err(Error::Unreachable)), "{err:?}");
    }
}
