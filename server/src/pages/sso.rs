//! Single sign-on in the browser: `GET /auth/oidc/start` sends the browser to the
//! provider, `GET /auth/oidc/callback` takes it back signed in (or to the code, or to
//! the password that links an existing account), `POST /auth/oidc/link` links.
//!
//! A native app starts through the same `GET /auth/oidc/start` with its own loopback
//! `redirect_uri`, PKCE challenge and `state` (RFC 8252); the provider then returns
//! the code to the app, which exchanges it at `POST /api/v1/auth/oidc/exchange`.
//!
//! A browser's `state` is bound to the browser that asked for it by a cookie, so a
//! sign-in someone else started (their code, their `state`) cannot be finished in a
//! victim's browser to sign it in as them (login CSRF).

use askama::Template;
use salvo::http::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use salvo::http::header::{HeaderValue, LOCATION};
use salvo::prelude::*;
use secrecy::{ExposeSecret, SecretString};

use super::session::{CodePage, LoginPage, device_cookie, signed_in};
use super::{PresessionCsrf, read_form, render_html};
use crate::accounts::sso::{self as sso_accounts, SsoSignIn};
use crate::crypto::{hash_token, random_token, same};
use crate::db::sessions::SessionKind;
use crate::db::{now, sso as flows};
use crate::error::ApiError;
use crate::http::client::Client;
use crate::sso::{self, Exchange};
use crate::state::AppState;

/// A browser's sign-in may wait at the provider this long.
const FLOW_TTL: i64 = 10 * 60;
/// Over HTTPS the binding cookie is `__Host-`: no sibling subdomain can plant one.
const BINDING_COOKIE_HTTPS: &str = "__Host-imagevault_sso";
const BINDING_COOKIE_DEV: &str = "imagevault_sso";
/// The longest `state` a native app may send.
const MAX_STATE: usize = 128;

pub(super) fn router() -> Router {
    Router::with_path("auth/oidc")
        .push(Router::with_path("start").get(start))
        .push(Router::with_path("callback").get(callback))
        .push(Router::with_path("link").post(link_submit))
}

/// The page that asks for the password of the account to link.
#[derive(Template)]
#[template(path = "sso_link.html")]
struct LinkPage<'a> {
    csrf: &'a str,
    link_token: &'a str,
    email: &'a str,
    asks_code: bool,
    error: Option<&'a str>,
}

fn provider(state: &AppState) -> Result<&sso::Provider, ApiError> {
    state.sso.as_deref().ok_or(ApiError::NotFound)
}

/// The redirect URI of browser sign-ins, under `PUBLIC_URL`.
pub(crate) fn callback_uri(state: &AppState) -> String {
    format!("{}/auth/oidc/callback", state.config.public_url)
}

fn binding_cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        BINDING_COOKIE_HTTPS
    } else {
        BINDING_COOKIE_DEV
    }
}

fn found(res: &mut Response, url: &str) -> Result<(), ApiError> {
    let location = HeaderValue::from_str(url).map_err(ApiError::internal)?;
    res.status_code(StatusCode::FOUND);
    res.headers_mut().insert(LOCATION, location);
    Ok(())
}

/// `GET /auth/oidc/start`: 302 to the provider. With `redirect_uri`, a native app's
/// start (its loopback redirect, its challenge, its `state`); without, a browser's.
/// A provider that cannot be reached is said on the sign-in page.
#[handler]
async fn start(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let provider = provider(&state)?;
    let client = Client::of(req, &state.config, None);
    sso_accounts::limit(&state, &client).await?;
    if let Some(redirect_uri) = req.query::<String>("redirect_uri") {
        let native = NativeStart::read(req, redirect_uri)?;
        let nonce = sso::native_nonce(state.secret_key.expose_secret(), &native.challenge);
        let authorization = provider
            .authorize(
                &native.redirect_uri,
                &native.state,
                &nonce,
                &native.challenge,
            )
            .await?;
        return found(res, &authorization.url);
    }
    match browser_start(&state, provider, res).await {
        Ok(url) => found(res, &url),
        Err(err) => sign_in_page_with(&state, req, res, err),
    }
}

/// A browser's start: the waiting sign-in stored, the binding cookie set; the
/// provider's URL.
async fn browser_start(
    state: &AppState,
    provider: &sso::Provider,
    res: &mut Response,
) -> Result<String, ApiError> {
    let (flow_state, nonce, binding) = (random_token(), random_token(), random_token());
    let (verifier, challenge) = sso::new_pkce();
    let authorization = provider
        .authorize(&callback_uri(state), &flow_state, &nonce, &challenge)
        .await?;
    let now = now();
    let flow = flows::NewFlow {
        state_hash: &hash_token(&flow_state),
        browser_hash: &hash_token(&binding),
        nonce: &nonce,
        pkce_verifier: &verifier,
        now,
        expires_at: now + FLOW_TTL,
    };
    flows::insert_flow(state.db.pool(), &flow).await?;
    // Lax, not Strict: the provider's redirect back is a cross-site navigation, and a
    // Strict cookie would not come with it.
    res.add_cookie(
        Cookie::build((binding_cookie_name(state), binding))
            .http_only(true)
            .secure(state.config.https())
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(CookieDuration::seconds(FLOW_TTL))
            .build(),
    );
    Ok(authorization.url)
}

/// A native app's start parameters, checked.
struct NativeStart {
    redirect_uri: String,
    challenge: String,
    state: String,
}

impl NativeStart {
    fn read(req: &Request, redirect_uri: String) -> Result<Self, ApiError> {
        if !sso::is_loopback_redirect(&redirect_uri) {
            return Err(ApiError::BadRequest(
                "redirect_uri must be a loopback address of this device, like \
                 http://127.0.0.1:49152/callback (RFC 8252)."
                    .into(),
            ));
        }
        let challenge = req.query::<String>("code_challenge").unwrap_or_default();
        let method = req
            .query::<String>("code_challenge_method")
            .unwrap_or_default();
        if method != "S256" || !sso::is_pkce_challenge(&challenge) {
            return Err(ApiError::BadRequest(
                "Send a PKCE code_challenge (43 characters of base64url) with \
                 code_challenge_method=S256."
                    .into(),
            ));
        }
        let state = req.query::<String>("state").unwrap_or_default();
        if state.is_empty()
            || state.len() > MAX_STATE
            || !state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(ApiError::BadRequest(format!(
                "Send a state of 1 to {MAX_STATE} letters, digits or -._~ characters."
            )));
        }
        Ok(Self {
            redirect_uri,
            challenge,
            state,
        })
    }
}

/// `GET /auth/oidc/callback`: the provider's answer for a browser's sign-in.
#[handler]
async fn callback(state: AppState, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    provider(&state)?;
    let client = Client::of(req, &state.config, device_cookie(req, &state));
    sso_accounts::limit(&state, &client).await?;
    forget_binding(&state, res);
    // Refusals are audited where they are found: here a `state` that names no flow of
    // this browser, in `finish_callback` the provider's error, in `identify` the code and
    // the ID token.
    let outcome = match take_flow(&state, req).await {
        Ok(flow) => finish_callback(&state, req, &client, flow).await,
        Err(err) => {
            sso_accounts::refused(&state, &client, &err.to_string()).await;
            Err(err)
        }
    };
    match outcome {
        Ok(SsoSignIn::Session(session)) => signed_in(&state, req, res, session).await,
        Ok(SsoSignIn::SecondStep { mfa_token }) => {
            let csrf = PresessionCsrf::issue(req, res, &state);
            render_html(
                res,
                &CodePage {
                    csrf: &csrf,
                    mfa_token: &mfa_token,
                    error: None,
                },
            )
        }
        Ok(SsoSignIn::LinkRequired {
            link_token,
            email,
            asks_code,
        }) => {
            let csrf = PresessionCsrf::issue(req, res, &state);
            render_html(
                res,
                &LinkPage {
                    csrf: &csrf,
                    link_token: &link_token,
                    email: &email,
                    asks_code,
                    error: None,
                },
            )
        }
        Err(err) => sign_in_page_with(&state, req, res, err),
    }
}

/// The waiting sign-in this callback's `state` names, if this browser started it.
async fn take_flow(state: &AppState, req: &Request) -> Result<flows::Flow, ApiError> {
    const STALE: &str = "This sign-in is no longer valid: it was used already, it expired, \
        or it was started in another browser. Start again from the sign-in page.";
    let flow_state = req.query::<String>("state").unwrap_or_default();
    if flow_state.is_empty() || flow_state.len() > MAX_STATE {
        return Err(ApiError::SsoFailed(STALE));
    }
    // Taken first, checked after: a `state` presented by the wrong browser is used up,
    // so it cannot be tried again elsewhere.
    let flow = flows::take_flow(state.db.pool(), &hash_token(&flow_state), now())
        .await?
        .ok_or(ApiError::SsoFailed(STALE))?;
    let binding = req
        .cookie(binding_cookie_name(state))
        .map(|c| hash_token(c.value()))
        .unwrap_or_default();
    if !same(&binding, &flow.browser_hash) {
        return Err(ApiError::SsoFailed(STALE));
    }
    Ok(flow)
}

/// The provider's error, or its code exchanged and the identity signed in.
async fn finish_callback(
    state: &AppState,
    req: &Request,
    client: &Client,
    flow: flows::Flow,
) -> Result<SsoSignIn, ApiError> {
    let code = req.query::<String>("code").unwrap_or_default();
    let refusal = match req.query::<String>("error") {
        Some(error) => Some(provider_error(&error)),
        None if code.is_empty() || code.len() > sso::MAX_CODE => Some(
            "Your identity provider sent no usable sign-in. Start again from the sign-in page.",
        ),
        None => None,
    };
    if let Some(sentence) = refusal {
        sso_accounts::refused(state, client, sentence).await;
        return Err(ApiError::SsoFailed(sentence));
    }
    let exchange = Exchange {
        code: &code,
        pkce_verifier: &flow.pkce_verifier,
        redirect_uri: &callback_uri(state),
        nonce: &flow.nonce,
    };
    let identity = sso_accounts::identify(state, &exchange, client).await?;
    sso_accounts::sign_in(state, &identity, client, SessionKind::Cookie).await
}

/// A sentence for an `error` the provider sent back (RFC 6749 §4.1.2.1).
fn provider_error(error: &str) -> &'static str {
    match error {
        "access_denied" => {
            "You did not allow ImageVault at your identity provider, so you are not signed in."
        }
        "login_required" | "interaction_required" | "consent_required" => {
            "Your identity provider needs you to sign in there first. Start again from the \
             sign-in page."
        }
        "temporarily_unavailable" | "server_error" => {
            "Your identity provider could not sign you in just now. Try again in a moment, or \
             sign in with your password."
        }
        _ => {
            "Your identity provider could not sign you in. Try again, or sign in with your \
             password."
        }
    }
}

/// The sign-in page with the reason single sign-on did not work.
fn sign_in_page_with(
    state: &AppState,
    req: &Request,
    res: &mut Response,
    err: ApiError,
) -> Result<(), ApiError> {
    let message = match &err {
        ApiError::SsoFailed(_)
        | ApiError::SsoNoAccount
        | ApiError::AccountDisabled
        | ApiError::RateLimited(_)
        | ApiError::NotFound => err.to_string(),
        ApiError::Unavailable(cause) => {
            tracing::warn!(cause = %cause, "single sign-on: the provider is unavailable");
            "Your identity provider cannot be reached just now. Try again in a moment, or sign \
             in with your password."
                .to_owned()
        }
        _ => return Err(err),
    };
    res.status_code(err.status());
    let csrf = PresessionCsrf::issue(req, res, state);
    render_html(res, &LoginPage::with_error(state, &csrf, "", &message))
}

/// Expires the binding cookie: a flow is used once, whatever its outcome.
fn forget_binding(state: &AppState, res: &mut Response) {
    res.remove_cookie_with(
        Cookie::build((binding_cookie_name(state), ""))
            .path("/")
            .secure(state.config.https())
            .http_only(true),
    );
}

#[derive(serde::Deserialize)]
struct LinkForm {
    #[serde(default)]
    link_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: SecretString,
    #[serde(default)]
    code: String,
    #[serde(default)]
    asks_code: bool,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /auth/oidc/link`: the account's password (and code) links it and signs in.
#[handler]
async fn link_submit(
    state: AppState,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: LinkForm = read_form(req).await?;
    PresessionCsrf::check(req, &state, &form.csrf_token, "/auth/oidc/link")?;
    let client = Client::of(req, &state.config, device_cookie(req, &state));
    let outcome = sso_accounts::confirm_link(
        &state,
        &form.link_token,
        form.password.expose_secret(),
        &form.code,
        &client,
    )
    .await;
    match outcome {
        Ok(session) => signed_in(&state, req, res, session).await,
        Err(
            err @ (ApiError::InvalidCredentials
            | ApiError::InvalidCode(_)
            | ApiError::AccountLocked(_)
            | ApiError::RateLimited(_)),
        ) => {
            let message = err.to_string();
            res.status_code(err.status());
            render_html(
                res,
                &LinkPage {
                    csrf: &form.csrf_token,
                    link_token: &form.link_token,
                    email: &form.email,
                    asks_code: form.asks_code,
                    error: Some(&message),
                },
            )
        }
        Err(
            err @ (ApiError::InvalidToken | ApiError::SsoFailed(_) | ApiError::AccountDisabled),
        ) => {
            let message = match err {
                ApiError::InvalidToken => "This link expired or ran out of tries. Sign in with \
                    single sign-on again to start over."
                    .to_owned(),
                other => other.to_string(),
            };
            res.status_code(StatusCode::BAD_REQUEST);
            let csrf = PresessionCsrf::issue(req, res, &state);
            render_html(res, &LoginPage::with_error(&state, &csrf, "", &message))
        }
        Err(other) => Err(other),
    }
}
