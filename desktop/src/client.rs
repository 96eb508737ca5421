//! The HTTP client for the server's JSON API: the only code that talks to the network.
//!
//! It runs in Rust, not in the web view, so the token never enters JavaScript. TLS is
//! rustls with the platform's roots plus, optionally, the CA file from Settings; it is
//! never switched off. Every answer is turned into the server's documented shapes or an
//! [`Error`] saying, in words, what went wrong.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use imagevault_common::api::{
    Credentials, EmailRequest, ErrorBody, ErrorCode, ImageList, ImageObject, LoginResponse, Me,
};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::settings::{Settings, read_ca_file};

/// A bearer token. It is zeroised on drop and never printed.
#[derive(Clone)]
pub struct Token(Arc<Zeroizing<String>>);

impl Token {
    /// Wraps a token received from the server or read from the keychain.
    pub fn new(token: String) -> Self {
        Self(Arc::new(Zeroizing::new(token)))
    }

    /// The token itself, for the `Authorization` header and the keychain only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// Bytes handed to the connection per progress report during an upload.
const UPLOAD_CHUNK: usize = 64 * 1024;

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

    fn url(&self, path: &str) -> Url {
        self.base
            .join(&format!("api/v1/{path}"))
            .expect("API paths are relative")
    }

    /// `POST /auth/login`.
    pub async fn login(&self, credentials: &Credentials) -> Result<LoginResponse> {
        let req = self.http.post(self.url("auth/login")).json(credentials);
        json(send(req).await?).await
    }

    /// `POST /auth/register`: 202 whether or not the address is taken.
    pub async fn register(&self, credentials: &Credentials) -> Result<()> {
        let req = self.http.post(self.url("auth/register")).json(credentials);
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
        send(authed(self.http.post(self.url("auth/logout")), token))
            .await
            .map(drop)
    }

    /// `GET /me`.
    pub async fn me(&self, token: &Token) -> Result<Me> {
        json(send(authed(self.http.get(self.url("me")), token)).await?).await
    }

    /// `GET /images`, one page.
    pub async fn list_images(&self, token: &Token, cursor: Option<&str>) -> Result<ImageList> {
        let mut url = self.url("images");
        if let Some(cursor) = cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        json(send(authed(self.http.get(url), token)).await?).await
    }

    /// `GET /images/{id}/thumbnail` or `/content`: the decrypted bytes.
    pub async fn image_bytes(&self, token: &Token, id: Uuid, thumbnail: bool) -> Result<Bytes> {
        let part = if thumbnail { "thumbnail" } else { "content" };
        let req = authed(
            self.http.get(self.url(&format!("images/{id}/{part}"))),
            token,
        );
        send(req).await?.bytes().await.map_err(transport)
    }

    /// `DELETE /images/{id}`.
    pub async fn delete_image(&self, token: &Token, id: Uuid) -> Result<()> {
        let req = authed(self.http.delete(self.url(&format!("images/{id}"))), token);
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
        let req = authed(self.http.post(self.url("images")), token).multipart(form);
        json(send(req).await?).await
    }
}

fn authed(req: RequestBuilder, token: &Token) -> RequestBuilder {
    req.bearer_auth(token.expose_secret())
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
    let bytes = res.bytes().await.map_err(transport)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::BadResponse(e.to_string()))
}

/// The server's `{"error": {...}}`, or a plain description when something else answered
/// (a proxy's HTML page, a redirect to somewhere else).
async fn server_error(res: Response) -> Error {
    let status = res.status();
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = res.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => Error::Server {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
            failed_rules: error.failed_rules,
            retry_after,
        },
        Err(_) if status.is_redirection() => Error::BadResponse(format!(
            "it redirects elsewhere ({status}); check the address"
        )),
        Err(_) => Error::Server {
            status: status.as_u16(),
            code: fallback_code(status),
            message: format!("The server answered {status}."),
            failed_rules: Vec::new(),
            retry_after,
        },
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
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(token.expose_secret(), "secret-value");
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
