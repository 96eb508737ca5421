//! Settings: the server address and an optional extra CA certificate (chosen in a
//! native picker, so the web view never names a file).

use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::picked;
use crate::AppState;
use crate::error::Result;
use crate::settings::Settings;

/// The saved settings.
#[tauri::command]
pub fn settings(state: State<'_, AppState>) -> Settings {
    state.session.settings()
}

/// Checks and saves the server address; a new address ends the current session.
#[tauri::command]
pub async fn save_settings(state: State<'_, AppState>, server_url: String) -> Result<Settings> {
    let before = state.session.active().is_ok();
    let saved = state.session.save_server(&server_url).await?;
    if before && state.session.active().is_err() {
        state.forget_session_work();
    }
    Ok(saved)
}

/// Opens the native picker for a CA certificate (PEM) and saves it once checked;
/// cancelling the picker changes nothing.
#[tauri::command]
pub async fn choose_ca_file<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Settings> {
    let dialog = app
        .dialog()
        .file()
        .set_title("Choose the certificate authority of your server")
        .add_filter("PEM certificates", &["pem", "crt", "cer"]);
    let chosen = picked(|answer| dialog.pick_file(answer)).await.flatten();
    match chosen.and_then(|p| p.into_path().ok()) {
        Some(path) => state.session.save_ca_file(Some(path)),
        None => Ok(state.session.settings()),
    }
}

/// Stops trusting the extra CA.
#[tauri::command]
pub fn clear_ca_file(state: State<'_, AppState>) -> Result<Settings> {
    state.session.save_ca_file(None)
}
