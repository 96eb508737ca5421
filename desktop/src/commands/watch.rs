//! Watched folders in Settings: list, add (in the native folder picker, so the web view
//! never names a path), remove (by position) and pause.

use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::picked;
use crate::AppState;
use crate::error::Result;
use crate::settings::Settings;

/// What Settings shows of the watch.
#[derive(Debug, Clone, Serialize)]
pub struct Watching {
    /// The folders, as paths to show.
    pub folders: Vec<String>,
    /// Whether watching is paused.
    pub paused: bool,
    /// A sentence per folder that could not be watched.
    pub problems: Vec<String>,
}

/// Saves `folders` and `paused`, then watches accordingly.
fn save_and_apply(
    state: &AppState,
    folders: Vec<std::path::PathBuf>,
    paused: bool,
) -> Result<Watching> {
    let settings = state.session.save_watching(folders, paused)?;
    let problems = state.watch.apply(&settings, &state.files, &state.session);
    Ok(watching(&settings, problems))
}

fn watching(settings: &Settings, problems: Vec<String>) -> Watching {
    Watching {
        folders: settings
            .watched_folders
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        paused: settings.watch_paused,
        problems,
    }
}

/// The watched folders and the pause switch.
#[tauri::command]
pub fn watched_folders(state: State<'_, AppState>) -> Watching {
    watching(&state.session.settings(), Vec::new())
}

/// Adds a folder chosen in the native picker (cancelling changes nothing).
#[tauri::command]
pub async fn add_watched_folder<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Watching> {
    state.session.active()?;
    let dialog = app
        .dialog()
        .file()
        .set_title("Choose a folder to watch for new photos");
    let chosen = picked(|answer| dialog.pick_folder(answer)).await.flatten();
    let settings = state.session.settings();
    let Some(folder) = chosen.and_then(|p| p.into_path().ok()) else {
        return Ok(watching(&settings, Vec::new()));
    };
    let mut folders = settings.watched_folders;
    if !folders.contains(&folder) {
        folders.push(folder);
    }
    save_and_apply(&state, folders, settings.watch_paused)
}

/// Stops watching the folder at `index` in the list.
#[tauri::command]
pub fn remove_watched_folder(state: State<'_, AppState>, index: usize) -> Result<Watching> {
    let settings = state.session.settings();
    let mut folders = settings.watched_folders;
    if index < folders.len() {
        folders.remove(index);
    }
    save_and_apply(&state, folders, settings.watch_paused)
}

/// Pauses or resumes watching; resuming takes up what arrived meanwhile.
#[tauri::command]
pub fn set_watch_paused(state: State<'_, AppState>, paused: bool) -> Result<Watching> {
    let folders = state.session.settings().watched_folders;
    save_and_apply(&state, folders, paused)
}
