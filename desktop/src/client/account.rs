//! The account's own security over the API: the second step of a sign-in, two-step
//! sign-in (TOTP) and its recovery codes, and the account's sessions.
//!
//! Secrets going out (the sign-in's `mfa_token`, the password) are exposed only into
//! the request body; the server's answers come back as the shared `api` types.

use imagevault_common::api::{
    CodeRequest, LoginResponse, MfaLoginRequest, PasswordAndCode, RecoveryCodes, SessionList,
    TotpEnrolment,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{Api, Token, authed, json, send};
use crate::error::Result;

impl Api {
    /// `POST /auth/login/mfa`: the code (or a recovery code) for the sign-in that
    /// [`Login::CodeNeeded`](super::Login::CodeNeeded) left waiting.
    pub async fn login_code(&self, mfa_token: &SecretString, code: &str) -> Result<LoginResponse> {
        let body = MfaLoginRequest {
            mfa_token: mfa_token.expose_secret().to_owned(),
            code: code.to_owned(),
        };
        let req = self
            .call(Method::POST, self.url("auth/login/mfa"))
            .json(&body);
        json(send(req).await?).await
    }

    /// `POST /me/mfa/totp`: after the password, a new secret for an authenticator
    /// app, pending until [`Api::confirm_totp`].
    pub async fn start_totp(
        &self,
        token: &Token,
        password: &SecretString,
    ) -> Result<TotpEnrolment> {
        let body = PasswordAndCode {
            password: password.clone(),
            code: String::new(),
        };
        let url = self.url("me/mfa/totp");
        let req = authed(self.call(Method::POST, url), token).json(&body);
        json(send(req).await?).await
    }

    /// `POST /me/mfa/totp/confirm`: turns two-step sign-in on; the recovery codes
    /// come back this once.
    pub async fn confirm_totp(&self, token: &Token, code: &str) -> Result<RecoveryCodes> {
        let body = CodeRequest { code: code.into() };
        let url = self.url("me/mfa/totp/confirm");
        let req = authed(self.call(Method::POST, url), token).json(&body);
        json(send(req).await?).await
    }

    /// `DELETE /me/mfa/totp`: turns two-step sign-in off.
    pub async fn disable_totp(&self, token: &Token, proof: &PasswordAndCode) -> Result<()> {
        let url = self.url("me/mfa/totp");
        let req = authed(self.call(Method::DELETE, url), token).json(proof);
        send(req).await.map(drop)
    }

    /// `POST /me/mfa/recovery-codes`: ten new codes; the old ones stop working.
    pub async fn new_recovery_codes(
        &self,
        token: &Token,
        proof: &PasswordAndCode,
    ) -> Result<RecoveryCodes> {
        let url = self.url("me/mfa/recovery-codes");
        let req = authed(self.call(Method::POST, url), token).json(proof);
        json(send(req).await?).await
    }

    /// `GET /me/sessions`: the account's live sessions, this one marked `current`.
    pub async fn sessions(&self, token: &Token) -> Result<SessionList> {
        let req = authed(self.call(Method::GET, self.url("me/sessions")), token);
        json(send(req).await?).await
    }

    /// `DELETE /me/sessions/{id}`: that session's token or cookie stops working.
    pub async fn revoke_session(&self, token: &Token, id: Uuid) -> Result<()> {
        let url = self.url(&format!("me/sessions/{id}"));
        send(authed(self.call(Method::DELETE, url), token))
            .await
            .map(drop)
    }
}
