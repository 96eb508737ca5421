//! Settings: the server address and an optional extra CA certificate.

use tauri::State;

use crate::AppState;
use crate::error::Result;
use crate::settings::Settings;

/// The saved settings.
#[tauri::command]
pub fn settings(state: State<'_, AppState>) -> Settings {
    state.session.settings()
}

/// Checks and saves the settings; a new server address ends the current session.
#[tauri::command]
pub async fn save_settings(
    state: State<'_, AppState>,
    server_url: String,
    ca_file: Option<String>,
) -> Result<Settings> {
    let before = state.session.active().is_ok();
    let saved = state
        .session
        .save_settings(&server_url, ca_file.as_deref())
        .await?;
    if before && state.session.active().is_err() {
        state.files.reset();
    }
    Ok(saved)
}
