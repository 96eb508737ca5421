//! The OpenID Provider, as ImageVault talks to it: discovery, the authorization URL,
//! and the code's exchange for an ID token whose signature, issuer, audience, expiry and
//! nonce `openidconnect` checks. What an identity means for accounts is decided in
//! [`crate::accounts::sso`]; this module only says who the provider vouches for.
//!
//! The provider's answers cross the network from the server, not through the browser,
//! so the HTTP client follows no redirects (an open redirect at the provider must not
//! become a request to an internal address), reads at most [`MAX_ANSWER_BYTES`] and
//! gives up after [`TIMEOUT`].

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use imagevault_common::email::EmailAddress;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::config::OidcSettings;
use crate::error::chain;

/// How long discovery (metadata and signing keys) is trusted before it is fetched again,
/// so a provider's key rotation reaches us without a restart.
const DISCOVERY_TTL: Duration = Duration::from_mins(10);
/// The longest answer read from the provider (a discovery document, a key set, a token
/// response).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest wait for the provider.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why the provider's sign-in could not be used. [`Refused`](Self::Refused) carries a
/// sentence for the person and a reason for the log.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider could not be reached or its discovery is unusable.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The sign-in is refused.
    #[error("{message} ({reason})")]
    Refused {
        /// For the person.
        message: &'static str,
        /// For the log.
        reason: String,
    },
}

/// The sentence when the provider's ID token fails a check.
const UNVERIFIABLE: &str = "Your identity provider's answer could not be verified, so you are \
    not signed in. If this keeps happening, tell the administrator of this server.";
/// The sentence when the code cannot be exchanged.
const CODE_REFUSED: &str = "This sign-in at your identity provider expired or was already \
    used. Start again from the sign-in page.";

fn refused(message: &'static str, reason: impl Into<String>) -> SsoError {
    SsoError::Refused {
        message,
        reason: reason.into(),
    }
}

/// Who the provider vouches for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The provider's issuer.
    pub issuer: String,
    /// The person's `sub` at the provider: the link's key.
    pub subject: String,
    /// Their verified email, normalised.
    pub email: EmailAddress,
    /// Whether the ID token's `amr` says the provider asked for more than one factor.
    pub provider_mfa: bool,
}

/// Where to send a browser, and what to keep until it returns.
pub struct Authorization {
    /// The provider's authorization URL.
    pub url: String,
}

/// What the code's exchange must present and check.
pub struct Exchange<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The PKCE verifier whose challenge went out with the request.
    pub pkce_verifier: &'a str,
    /// The redirect URI the code was sent to.
    pub redirect_uri: &'a str,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
}

/// The configured provider and what discovery said about it.
pub struct Provider {
    settings: OidcSettings,
    http: Http,
    discovered: RwLock<Option<(Instant, CoreProviderMetadata)>>,
}

impl Provider {
    /// A provider for these settings; nothing is fetched until the first sign-in, so the
    /// server starts even while the provider is down.
    pub fn new(settings: OidcSettings) -> Result<Self, SsoError> {
        let https = settings.issuer.starts_with("https://");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(https)
            .timeout(TIMEOUT)
            .user_agent(concat!("ImageVault/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SsoError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            settings,
            http: Http(client),
            discovered: RwLock::new(None),
        })
    }

    /// The settings (button words, auto-registration).
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider's metadata and keys, fetched again after [`DISCOVERY_TTL`].
    async fn metadata(&self) -> Result<CoreProviderMetadata, SsoError> {
        if let Some((at, metadata)) = self.discovered.read().await.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| SsoError::Unavailable(format!("issuer: {e}")))?;
        // `discover_async` also checks that the document names this very issuer.
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| SsoError::Unavailable(format!("discovery: {}", chain(&e))))?;
        *self.discovered.write().await = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<Client, SsoError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| refused(UNVERIFIABLE, format!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL for the code flow with PKCE (S256): scopes
    /// `openid email profile`, this `state`, `nonce` and challenge.
    pub async fn authorize(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        pkce_challenge: &str,
    ) -> Result<Authorization, SsoError> {
        let client = self.client(self.metadata().await?, redirect_uri)?;
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge_from(pkce_challenge))
            .url();
        Ok(Authorization { url: url.into() })
    }

    /// Exchanges the code (with the PKCE verifier and the client's secret) and checks
    /// the ID token; then insists on a verified email.
    pub async fn identify(&self, exchange: &Exchange<'_>) -> Result<Identity, SsoError> {
        let client = self.client(self.metadata().await?, exchange.redirect_uri)?;
        let answer = client
            .exchange_code(AuthorizationCode::new(exchange.code.to_owned()))
            .map_err(|e| SsoError::Unavailable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| refused(CODE_REFUSED, format!("token request: {}", chain(&e))))?;
        let id_token = openidconnect::TokenResponse::id_token(&answer)
            .ok_or_else(|| refused(UNVERIFIABLE, "the token response has no ID token"))?;
        let nonce = Nonce::new(exchange.nonce.to_owned());
        let claims = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map_err(|e| refused(UNVERIFIABLE, format!("ID token: {}", chain(&e))))?;
        let email = match (claims.email(), claims.email_verified()) {
            (Some(email), Some(true)) => EmailAddress::parse(email.as_str()).map_err(|_| {
                refused(
                    "Your identity provider gave an email address ImageVault cannot use.",
                    "unusable email",
                )
            })?,
            _ => {
                return Err(refused(
                    "Your identity provider has not confirmed your email address. Confirm \
                     it there, then try again.",
                    "no verified email in the ID token",
                ));
            }
        };
        let amr = claims
            .auth_method_refs()
            .map(|refs| {
                refs.iter()
                    .map(|r| r.as_str().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email,
            provider_mfa: says_mfa(&amr),
        })
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Whether `amr` (RFC 8176) says the person proved more than one factor: `mfa` itself,
/// or a password together with something they hold.
pub fn says_mfa(amr: &[String]) -> bool {
    const HELD: [&str; 7] = ["otp", "hwk", "swk", "sc", "sms", "tel", "pop"];
    amr.iter().any(|m| m == "mfa")
        || (amr.iter().any(|m| m == "pwd") && amr.iter().any(|m| HELD.contains(&m.as_str())))
}

/// A new PKCE verifier (43 characters of base64url, 256 random bits) and its S256
/// challenge.
pub fn new_pkce() -> (String, String) {
    let verifier = crate::crypto::random_token();
    let challenge = challenge_of(&verifier);
    (verifier, challenge)
}

/// The longest `code` accepted from the provider or a native app.
pub const MAX_CODE: usize = 2048;

/// The nonce of a native app's sign-in. The app sends no nonce, and the exchange
/// carries only the code, the verifier and the redirect URI; so the nonce is derived,
/// under `SECRET_KEY`, from the PKCE challenge, which the exchange recomputes from the
/// verifier. An ID token minted for another sign-in carries another nonce.
pub fn native_nonce(secret_key: &str, challenge: &str) -> String {
    crate::crypto::sign(
        secret_key.as_bytes(),
        format!("sso-nonce:{challenge}").as_bytes(),
    )
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is an RFC 7636 code verifier: 43 to 128 unreserved characters.
pub fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `challenge` can be an S256 challenge: 43 characters of base64url.
pub fn is_pkce_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `openidconnect` makes challenges from verifiers only; a native app keeps its
/// verifier and sends the challenge, so this rebuilds one from its parts.
fn challenge_from(challenge: &str) -> PkceCodeChallenge {
    #[derive(serde::Serialize)]
    struct Parts<'a> {
        code_challenge: &'a str,
        code_challenge_method: &'a str,
    }
    let json = serde_json::to_value(Parts {
        code_challenge: challenge,
        code_challenge_method: "S256",
    })
    .expect("two strings serialise");
    serde_json::from_value(json).expect("PkceCodeChallenge deserialises from its two fields")
}

/// Whether `uri` is an RFC 8252 loopback redirect of a native app: `http` to
/// `127.0.0.1` or `[::1]` with a port, and nothing but a path.
pub fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    url.scheme() == "http"
        && loopback
        && url.port().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && uri.len() <= 200
}

/// `reqwest` behind `openidconnect`'s client trait: no redirects, bounded answers.
struct Http(reqwest::Client);

/// A failed request to the provider.
#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error("the answer is over {} KiB", MAX_ANSWER_BYTES / 1024)]
    TooLarge,
    #[error("the answer cannot be represented: {0}")]
    Answer(#[from] http::Error),
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let mut answer = self.0.execute(request.try_into()?).await?;
            let mut builder = http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(builder.body(body)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_is_read_from_amr() {
        let amr = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(says_mfa(&amr(&["pwd", "mfa"])));
        assert!(says_mfa(&amr(&["mfa"])));
        assert!(says_mfa(&amr(&["pwd", "otp"])));
        assert!(says_mfa(&amr(&["hwk", "pwd"])));
        assert!(!says_mfa(&amr(&["pwd"])));
        assert!(!says_mfa(&amr(&["otp"])));
        assert!(!says_mfa(&amr(&[])));
        assert!(!says_mfa(&amr(&["MFA"])));
    }

    #[test]
    fn pkce_follows_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (verifier, challenge) = new_pkce();
        assert!(is_pkce_verifier(&verifier));
        assert!(is_pkce_challenge(&challenge));
        assert_eq!(challenge_from(&challenge).as_str(), challenge);
        assert_eq!(challenge_from(&challenge).method().as_str(), "S256");
        for bad in [
            "",
            "short",
            &"a".repeat(129),
            &format!("{}!", "a".repeat(43)),
        ] {
            assert!(!is_pkce_verifier(bad), "{bad:?}");
        }
        assert!(!is_pkce_challenge(&format!("{}=", "a".repeat(42))));
    }

    #[test]
    fn only_loopback_redirects_are_native() {
        for good in [
            "http://127.0.0.1:49152/callback",
            "http://[::1]:8000/",
            "http://127.0.0.1:1/cb",
        ] {
            assert!(is_loopback_redirect(good), "{good}");
        }
        for bad in [
            "https://127.0.0.1:49152/callback",
            "http://localhost:49152/callback",
            "http://127.0.0.1/callback",
            "http://evil.example:49152/callback",
            "http://127.0.0.1.evil.example:80/",
            "http://user@127.0.0.1:49152/",
            "http://127.0.0.1:49152/callback?next=x",
            "http://127.0.0.1:49152/#x",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad}");
        }
    }
}
