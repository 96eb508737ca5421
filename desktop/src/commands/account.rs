//! Registration, sign-in (token straight into the keychain; a code next when two-step
//! sign-in is on), silent sign-in at start, sign-out, and the account's storage usage.

use imagevault_common::api::{Credentials, FailedRule, Usage};
use imagevault_common::password::{PasswordRule, live_check};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tauri::{AppHandle, Runtime, State};

use crate::AppState;
use crate::client::Api;
use crate::error::{Error, Result};
use crate::session::{AccountInfo, SignInOutcome};

/// Signs in from the keychain if a token is saved; `None` means "show sign-in".
#[tauri::command]
pub async fn restore_session(state: State<'_, AppState>) -> Result<Option<AccountInfo>> {
    let account = state.session.restore().await?;
    if account.is_some() {
        // Uploads the session left queued when the app last closed; their cards
        // arrive as events, after the view has the account.
        let active = state.session.active()?;
        let (files, session) = (Arc::clone(&state.files), Arc::clone(&state.session));
        tauri::async_runtime::spawn(async move { files.resume(&session, &active).await });
        state.watch_folders();
    }
    Ok(account)
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
    state.forget_session_work();
    let outcome = state.session.sign_in(&email, password).await?;
    if matches!(outcome, SignInOutcome::SignedIn { .. }) {
        state.watch_folders();
    }
    Ok(outcome)
}

/// Finishes a sign-in that needed a code: one from the authenticator app, or a
/// recovery code. `sign_in_expired` means start again from the password.
#[tauri::command]
pub async fn sign_in_code(state: State<'_, AppState>, code: String) -> Result<AccountInfo> {
    state.forget_session_work();
    let account = state.session.sign_in_code(&code).await?;
    state.watch_folders();
    Ok(account)
}

/// The words of the server's single sign-on button, or `None` when it offers none (or
/// cannot be reached: the password form still works, and says so if it cannot either).
#[tauri::command]
pub async fn sso_available(state: State<'_, AppState>) -> Result<Option<String>> {
    let api = Api::new(&state.session.settings())?;
    Ok(api
        .sso_info()
        .await
        .ok()
        .flatten()
        .map(|info| info.button_text))
}

/// Signs in through the server's identity provider in the system browser (RFC 8252):
/// signed in, `code_needed`, or `link_needed` (the password of the account the
/// provider's email names, asked once).
#[tauri::command]
pub async fn sign_in_sso<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<SignInOutcome> {
    use tauri_plugin_opener::OpenerExt;
    state.forget_session_work();
    let open = |url: &url::Url| {
        app.opener()
            .open_url(url.as_str(), None::<&str>)
            .map_err(|e| Error::File(format!("The system browser could not be opened ({e}).")))
    };
    let outcome = state.session.sign_in_sso(open).await?;
    if matches!(outcome, SignInOutcome::SignedIn { .. }) {
        state.watch_folders();
    }
    Ok(outcome)
}

/// Links the account single sign-on found with its password (and a code, if it uses
/// two-step sign-in), and signs in.
#[tauri::command]
pub async fn sign_in_sso_link(
    state: State<'_, AppState>,
    password: SecretString,
    code: String,
) -> Result<AccountInfo> {
    state.forget_session_work();
    let account = state.session.sign_in_sso_link(password, &code).await?;
    state.watch_folders();
    Ok(account)
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
    state.forget_session_work();
    state.session.sign_out().await
}

/// The account's storage against its quota, for the header's meter. Read from `GET /me`
/// through the session, so a token the server refuses signs the app out as anywhere
/// else; the view refreshes it after sign-in, uploads and deletes.
#[tauri::command]
pub async fn storage_usage(state: State<'_, AppState>) -> Result<Usage> {
    state
        .session
        .call(|s| async move { s.api.me(&s.token).await.map(|me| me.usage) })
        .await
}
