//! Registration, sign-in (token straight into the keychain; a code next when two-step
//! sign-in is on), silent sign-in at start, and sign-out.

use imagevault_common::api::{Credentials, FailedRule};
use imagevault_common::password::{PasswordRule, live_check};
use secrecy::{ExposeSecret, SecretString};
use tauri::State;

use crate::AppState;
use crate::client::Api;
use crate::error::Result;
use crate::session::{AccountInfo, SignInOutcome};

/// Signs in from the keychain if a token is saved; `None` means "show sign-in".
#[tauri::command]
pub async fn restore_session(state: State<'_, AppState>) -> Result<Option<AccountInfo>> {
    state.session.restore().await
}

/// Signs in with email and password: `{"status": "signed_in", "account": …}`, or
/// `{"status": "code_needed"}` when two-step sign-in is on (the token the code goes
/// with stays in Rust).
#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    email: String,
    password: SecretString,
) -> Result<SignInOutcome> {
    // A new session starts with no cards: nothing dropped before can go to this account.
    state.files.reset();
    state.session.sign_in(&email, password).await
}

/// Finishes a sign-in that needed a code: one from the authenticator app, or a
/// recovery code. `sign_in_expired` means start again from the password.
#[tauri::command]
pub async fn sign_in_code(state: State<'_, AppState>, code: String) -> Result<AccountInfo> {
    state.files.reset();
    state.session.sign_in_code(&code).await
}

/// Creates an account; the server emails a verification link.
#[tauri::command]
pub async fn register(
    state: State<'_, AppState>,
    email: String,
    password: SecretString,
) -> Result<()> {
    let api = Api::new(&state.session.settings())?;
    let credentials = Credentials {
        email,
        password,
        device_token: None,
    };
    api.register(&credentials).await
}

/// The password rules `password` fails for `email`, checked locally with the server's
/// own policy, for the live checklist on the registration form.
#[tauri::command]
pub fn password_rules(email: String, password: SecretString) -> Vec<FailedRule> {
    live_check(password.expose_secret(), &email)
        .into_iter()
        .map(PasswordRule::to_failed_rule)
        .collect()
}

/// Asks the server to send the verification email again.
#[tauri::command]
pub async fn resend_verification(state: State<'_, AppState>, email: String) -> Result<()> {
    Api::new(&state.session.settings())?
        .resend_verification(&email)
        .await
}

/// Revokes the token on the server and deletes it from the keychain.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<()> {
    state.files.reset();
    state.session.sign_out().await
}
