//! Signing in: the password, then — when two-step sign-in is on — a code; and the
//! device token that makes this computer a known device of the account.
//!
//! The second step's `mfa_token` stays in Rust memory (the view only learns that a
//! code is needed), and is forgotten when the step succeeds, expires, or a new
//! sign-in, sign-out or server change begins. The device token goes to the keychain
//! beside the session token after every sign-in and is sent with every later password
//! for that account, so strangers' failed attempts never lock this computer out.

use std::time::{Duration, Instant};

use imagevault_common::api::{Credentials, ErrorCode, LoginResponse};
use imagevault_common::email::EmailAddress;
use secrecy::SecretString;
use serde::Serialize;
use url::Url;

use super::{AccountInfo, Session, blocking};
use crate::client::{Api, Login, Token};
use crate::error::{Error, Result};
use crate::keychain;

/// How long the server waits for the code after the password (its `MFA_TTL`).
const CODE_WAIT: Duration = Duration::from_mins(5);
/// Codes the server allows per sign-in (its `MFA_TRIES`).
const CODE_TRIES: u32 = 5;

/// How a sign-in with a password ended, as the view sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignInOutcome {
    /// Signed in.
    SignedIn {
        /// Who, on which server.
        account: AccountInfo,
    },
    /// The password was right and two-step sign-in is on: ask for a code and pass it
    /// to [`Session::sign_in_code`].
    CodeNeeded,
    /// Single sign-on found an account by the provider's email that is not linked yet:
    /// ask for its password (and a code, if it uses two-step sign-in) once and pass
    /// them to [`Session::sign_in_sso_link`].
    LinkNeeded,
}

/// What a waiting sign-in waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// A code (the second step).
    Code,
    /// The password of the account to link to the identity provider.
    Link,
}

/// A sign-in waiting for its code, or for the password that links it.
pub(super) struct Pending {
    api: Api,
    /// The `mfa_token` or `link_token` the server gave.
    token: SecretString,
    step: Step,
    started: Instant,
    tries: u32,
    /// Tells this sign-in from a later one, so a code's answer that arrives after the
    /// person started over cannot sign in the account they left.
    generation: u64,
}

/// Generations of waiting sign-ins.
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Session {
    /// Signs in with a password, sending this computer's device token for the account
    /// if it has one. The session token goes straight into the keychain.
    pub async fn sign_in(&self, email: &str, password: SecretString) -> Result<SignInOutcome> {
        self.forget_pending();
        let api = Api::new(&self.settings())?;
        let credentials = Credentials {
            email: email.to_owned(),
            password,
            device_token: stored_device_token(email, api.base()).await,
        };
        match api.login(&credentials).await? {
            Login::Done(login) => {
                let account = self.finish(api, login).await?;
                Ok(SignInOutcome::SignedIn { account })
            }
            Login::CodeNeeded(mfa_token) => {
                self.wait_for(api, mfa_token, Step::Code);
                Ok(SignInOutcome::CodeNeeded)
            }
        }
    }

    /// The second step: a code from the authenticator app, or a recovery code. A wrong
    /// code may be tried again; once the server's time or tries for this sign-in are
    /// used up, the answer is [`Error::SignInExpired`] and only a new sign-in goes on.
    pub async fn sign_in_code(&self, code: &str) -> Result<AccountInfo> {
        let (api, mfa_token, generation) = self.live_pending(Step::Code)?;
        match api.login_code(&mfa_token, code.trim()).await {
            Ok(login) => self.finish_pending(api, login, generation).await,
            Err(
                e @ Error::Server {
                    code: ErrorCode::InvalidCode,
                    ..
                },
            ) => Err(self.failed_try(e)),
            Err(e) => Err(e),
        }
    }

    /// Keeps a sign-in waiting for `step`, with the token the server gave for it.
    pub(super) fn wait_for(&self, api: Api, token: SecretString, step: Step) {
        *self.pending.lock().unwrap() = Some(Pending {
            api,
            token,
            step,
            started: Instant::now(),
            tries: 0,
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        });
    }

    /// Completes the waiting sign-in `generation` with the server's `login`.
    pub(super) async fn finish_pending(
        &self,
        api: Api,
        login: LoginResponse,
        generation: u64,
    ) -> Result<AccountInfo> {
        if !self.take_pending(generation) {
            // The person started over (or signed out) while the step was checked: this
            // session must not become theirs, nor stay valid.
            let _ = api.logout(&Token::new(login.token)).await;
            return Err(Error::SignInExpired);
        }
        self.finish(api, login).await
    }

    /// Forgets a sign-in waiting for its code.
    pub(super) fn forget_pending(&self) {
        self.pending.lock().unwrap().take();
    }

    /// Forgets the waiting sign-in if it is still `generation`; says whether it was.
    fn take_pending(&self, generation: u64) -> bool {
        let mut pending = self.pending.lock().unwrap();
        if pending.as_ref().is_some_and(|p| p.generation == generation) {
            pending.take();
            return true;
        }
        false
    }

    /// The client, token and generation of the sign-in waiting for `step`, unless it
    /// has expired.
    pub(super) fn live_pending(&self, step: Step) -> Result<(Api, SecretString, u64)> {
        let mut pending = self.pending.lock().unwrap();
        match pending.as_ref() {
            Some(p)
                if p.step == step && p.started.elapsed() < CODE_WAIT && p.tries < CODE_TRIES =>
            {
                Ok((p.api.clone(), p.token.clone(), p.generation))
            }
            _ => {
                pending.take();
                Err(Error::SignInExpired)
            }
        }
    }

    /// Counts a wrong code; the last try the server allows turns `err` into
    /// [`Error::SignInExpired`], since a further code could not be accepted.
    pub(super) fn failed_try(&self, err: Error) -> Error {
        let mut pending = self.pending.lock().unwrap();
        let Some(p) = pending.as_mut() else {
            return err;
        };
        p.tries += 1;
        if p.tries >= CODE_TRIES || p.started.elapsed() >= CODE_WAIT {
            pending.take();
            return Error::SignInExpired;
        }
        err
    }

    /// Completes a sign-in: both tokens into the keychain, the account remembered in
    /// the settings, the session made current.
    pub(super) async fn finish(&self, api: Api, login: LoginResponse) -> Result<AccountInfo> {
        let token = Token::new(login.token);
        let me = api.me(&token).await?;
        let account = keychain::Account::new(&me.email, api.base());
        let device = (!login.device_token.is_empty()).then(|| login.device_token.into());
        if let Err(e) = keep_tokens(&account, &token, device).await {
            // A token we cannot keep must not stay valid on the server.
            let _ = api.logout(&token).await;
            return Err(e);
        }
        let mut next = self.settings();
        next.email = Some(me.email.clone());
        self.save(next)?;
        Ok(self.activate(api, token, me.email, account))
    }
}

/// The device token saved for `email` on `server`, if this computer signed in to that
/// account before. An address that is not an email has none (the server will refuse it).
/// A keychain that cannot be read only costs the token: the sign-in still goes ahead
/// (and says what is wrong when the session token cannot be stored either).
async fn stored_device_token(email: &str, server: &Url) -> Option<SecretString> {
    let email = EmailAddress::parse(email).ok()?;
    let account = keychain::Account::new(email.as_str(), server);
    match blocking(move || account.load_device()).await {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "the device token could not be read from the keychain");
            None
        }
    }
}

/// Saves the device token (if the server sent one) and the session token.
async fn keep_tokens(
    account: &keychain::Account,
    token: &Token,
    device: Option<SecretString>,
) -> Result<()> {
    let account = account.clone();
    let token = token.clone();
    blocking(move || {
        if let Some(device) = &device {
            account.store_device(device)?;
        }
        account.store(&token)
    })
    .await
}
