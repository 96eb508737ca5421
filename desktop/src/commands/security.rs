//! The account's security, in Settings: two-step sign-in (turned on with a QR code and
//! a confirming code; turned off, or its recovery codes renewed, with the password and
//! a code) and the account's sessions. Every call goes through the session, so a token
//! the server refuses signs the app out as anywhere else.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagevault_common::api::{MfaStatus, PasswordAndCode, SessionList};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use uuid::Uuid;

use super::picked;
use crate::AppState;
use crate::error::{Error, Result};

/// What the view shows to set up an authenticator app.
#[derive(Debug, Clone, Serialize)]
pub struct TwoStepSetup {
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    /// The server's QR code as a `data:image/svg+xml` URL: shown in an `<img>`, where
    /// an SVG can run no script and the CSP (`img-src data:`) allows it, so the markup
    /// never enters the page's DOM.
    pub qr_code: String,
}

/// Whether two-step sign-in is on, and how many recovery codes are left.
#[tauri::command]
pub async fn two_step_status(state: State<'_, AppState>) -> Result<MfaStatus> {
    state
        .session
        .call(|s| async move { s.api.me(&s.token).await.map(|me| me.mfa) })
        .await
}

/// Starts turning two-step sign-in on, after the password (someone at an unlocked
/// computer must not be able to tie the account to their own phone): a new secret and
/// its QR code.
#[tauri::command]
pub async fn start_two_step(
    state: State<'_, AppState>,
    password: SecretString,
) -> Result<TwoStepSetup> {
    let enrolment = state
        .session
        .call(|s| async move { s.api.start_totp(&s.token, &password).await })
        .await?;
    Ok(TwoStepSetup {
        qr_code: svg_data_url(&enrolment.qr_svg)?,
        secret: enrolment.secret,
    })
}

/// Confirms with a code from the app: two-step sign-in is on. Returns the ten
/// recovery codes, shown this once (and kept for "Save…" until the session ends).
#[tauri::command]
pub async fn confirm_two_step(state: State<'_, AppState>, code: String) -> Result<Vec<String>> {
    state
        .session
        .call(|s| async move {
            let codes = s.api.confirm_totp(&s.token, code.trim()).await?;
            s.keep_recovery_codes(&codes.recovery_codes);
            Ok(codes.recovery_codes)
        })
        .await
}

/// Turns two-step sign-in off; the password and a code (or recovery code) prove it is
/// the owner, not someone at an unlocked computer.
#[tauri::command]
pub async fn turn_off_two_step(
    state: State<'_, AppState>,
    password: SecretString,
    code: String,
) -> Result<()> {
    let proof = proof(password, &code);
    state
        .session
        .call(|s| async move {
            s.api.disable_totp(&s.token, &proof).await?;
            // Codes kept for "Save…" work no more: none can be saved now.
            s.forget_recovery_codes();
            Ok(())
        })
        .await
}

/// Ten new recovery codes (the old ones stop working), shown this once.
#[tauri::command]
pub async fn new_recovery_codes(
    state: State<'_, AppState>,
    password: SecretString,
    code: String,
) -> Result<Vec<String>> {
    let proof = proof(password, &code);
    state
        .session
        .call(|s| async move {
            let codes = s.api.new_recovery_codes(&s.token, &proof).await?;
            s.keep_recovery_codes(&codes.recovery_codes);
            Ok(codes.recovery_codes)
        })
        .await
}

/// Saves the recovery codes just shown to a file chosen in the native picker (owner-
/// only, written atomically). `false` when the picker was cancelled.
#[tauri::command]
pub async fn save_recovery_codes<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<bool> {
    let Some(text) = state.session.active()?.recovery_codes() else {
        return Err(Error::File(
            "There are no new recovery codes to save.".into(),
        ));
    };
    let dialog = app
        .dialog()
        .file()
        .set_title("Save your recovery codes")
        .set_file_name("imagevault-recovery-codes.txt")
        .add_filter("Text", &["txt"]);
    let chosen = picked(|answer| dialog.save_file(answer)).await.flatten();
    let Some(path) = chosen.and_then(|p| p.into_path().ok()) else {
        return Ok(false);
    };
    imagevault_durable::write_private(&path, text.expose_secret().as_bytes()).map_err(|e| {
        Error::File(format!(
            "The codes could not be saved to {} ({e}).",
            path.display()
        ))
    })?;
    Ok(true)
}

/// The account's live sessions, this computer's marked `current`.
#[tauri::command]
pub async fn list_sessions(state: State<'_, AppState>) -> Result<SessionList> {
    state
        .session
        .call(|s| async move { s.api.sessions(&s.token).await })
        .await
}

/// Ends one session; ending this computer's own signs the app out (and says so with
/// the `signed-out` event). Returns whether it was this computer's.
#[tauri::command]
pub async fn revoke_session(state: State<'_, AppState>, id: String) -> Result<bool> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| Error::BadResponse(format!("{id:?} is not a session id")))?;
    let signed_out = state.session.revoke_session(id).await?;
    if signed_out {
        state.forget_session_work();
    }
    Ok(signed_out)
}

fn proof(password: SecretString, code: &str) -> PasswordAndCode {
    PasswordAndCode {
        password,
        code: code.trim().to_owned(),
    }
}

/// The server's QR code as a `data:` URL, after checking it is an SVG document.
fn svg_data_url(svg: &str) -> Result<String> {
    let start = svg.trim_start();
    if !(start.starts_with("<?xml") || start.starts_with("<svg")) || !svg.contains("<svg") {
        return Err(Error::BadResponse("the QR code is not an SVG image".into()));
    }
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_svg_becomes_a_data_url() {
        let url =
            svg_data_url("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>")
                .unwrap();
        assert!(url.starts_with("data:image/svg+xml;base64,"), "{url}");
        for bad in ["", "<html><script>alert(1)</script></html>", "not an image"] {
            assert!(svg_data_url(bad).is_err(), "{bad}");
        }
    }
}
