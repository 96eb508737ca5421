//! Single sign-on calls: whether the server offers it, the provider's start page for
//! the system browser, the code's exchange, and the password that links an account.

use imagevault_common::api::{ErrorCode, LoginResponse, SsoExchange, SsoInfo, SsoLinkRequest};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{Api, json, send, server_error_and_token, transport};
use crate::error::{Error, Result};

/// How the code's exchange ended. (`Debug` shows no token.)
#[derive(Debug)]
pub enum SsoLogin {
    /// Signed in.
    Done(LoginResponse),
    /// Two-step sign-in is on: a code follows, with this token.
    CodeNeeded(SecretString),
    /// An account has the provider's email but no link: its password follows once,
    /// with this token.
    LinkNeeded(SecretString),
}

impl Api {
    /// `GET /auth/oidc`: the sign-in button's words, or `None` when the server offers
    /// no single sign-on.
    pub async fn sso_info(&self) -> Result<Option<SsoInfo>> {
        let res = self
            .call(Method::GET, self.url("auth/oidc"))
            .send()
            .await
            .map_err(transport)?;
        if res.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let res = if res.status().is_success() {
            res
        } else {
            return Err(super::server_error(res).await);
        };
        json(res).await.map(Some)
    }

    /// The page the system browser opens: the server's start, which sends it on to the
    /// provider with this app's loopback redirect, PKCE challenge and state.
    pub fn sso_start_url(&self, redirect_uri: &str, challenge: &str, state: &str) -> Url {
        let mut url = self
            .base()
            .join("auth/oidc/start")
            .expect("a relative path joins");
        url.query_pairs_mut()
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state);
        url
    }

    /// `POST /auth/oidc/exchange`: the code the loopback received, for a session, a
    /// second step, or a link to confirm.
    pub async fn sso_exchange(&self, body: &SsoExchange) -> Result<SsoLogin> {
        let res = self
            .call(Method::POST, self.url("auth/oidc/exchange"))
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        if res.status().is_success() {
            return json(res).await.map(SsoLogin::Done);
        }
        match server_error_and_token(res).await {
            (err @ Error::Server { code, .. }, Some(token)) => match code {
                ErrorCode::MfaRequired => Ok(SsoLogin::CodeNeeded(token)),
                ErrorCode::SsoLinkRequired => Ok(SsoLogin::LinkNeeded(token)),
                _ => Err(err),
            },
            (err, _) => Err(err),
        }
    }

    /// `POST /auth/oidc/link`: the account's password (and code) for a waiting link.
    pub async fn sso_link(
        &self,
        link_token: &SecretString,
        password: SecretString,
        code: &str,
    ) -> Result<LoginResponse> {
        let body = SsoLinkRequest {
            link_token: link_token.expose_secret().to_owned(),
            password,
            code: code.to_owned(),
        };
        let req = self
            .call(Method::POST, self.url("auth/oidc/link"))
            .json(&body);
        json(send(req).await?).await
    }
}
