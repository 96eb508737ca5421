//! The upload panel: files chosen in a native dialog (dropped files arrive through the
//! window's drag-drop event in `lib.rs`), checks, and the upload queue. Paths never come
//! from JavaScript: the view only refers to cards by id.

use std::path::PathBuf;

use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::picked;
use crate::AppState;
use crate::error::{Error, Result};

/// Opens the native file picker and adds the chosen files; returns how many.
#[tauri::command]
pub async fn choose_files<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<usize> {
    state.session.active()?;
    let dialog = app
        .dialog()
        .file()
        .set_title("Choose photos to upload")
        .add_filter("Images", &["jpg", "jpeg", "png", "gif"]);
    let chosen = picked(|answer| dialog.pick_files(answer)).await.flatten();
    add(
        &state,
        chosen
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect(),
    )
    .await
}

/// Opens the native folder picker and adds the images in the chosen folder.
#[tauri::command]
pub async fn choose_folder<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<usize> {
    state.session.active()?;
    let dialog = app.dialog().file().set_title("Choose a folder of photos");
    let chosen = picked(|answer| dialog.pick_folder(answer)).await.flatten();
    add(
        &state,
        chosen
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect(),
    )
    .await
}

async fn add(state: &AppState, paths: Vec<PathBuf>) -> Result<usize> {
    let (count, truncated) = state.files.add(paths).await;
    if truncated {
        return Err(Error::File(format!(
            "Only the first {count} files were added; add the rest in smaller batches."
        )));
    }
    Ok(count)
}

/// Queues every accepted card for upload; returns how many.
#[tauri::command]
pub fn upload_accepted(state: State<'_, AppState>) -> Result<usize> {
    let active = state.session.active()?;
    Ok(state.files.upload_accepted(&state.session, &active))
}

/// Cancels one upload.
#[tauri::command]
pub fn cancel_upload(state: State<'_, AppState>, id: u64) {
    state.files.cancel(id);
}

/// Cancels every unfinished upload.
#[tauri::command]
pub fn cancel_all(state: State<'_, AppState>) {
    state.files.cancel_all();
}

/// Removes a card that is not uploading.
#[tauri::command]
pub fn remove_item(state: State<'_, AppState>, id: u64) -> bool {
    state.files.remove(id)
}

/// Removes finished cards.
#[tauri::command]
pub fn clear_finished(state: State<'_, AppState>) {
    state.files.clear_finished();
}
