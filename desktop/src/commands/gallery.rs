//! The gallery: pages of the account's images, thumbnails (cached in memory for the
//! session), full images, delete. Image bytes go to the view as raw IPC responses (an
//! `ArrayBuffer`), never through a file.

use imagevault_common::api::ImageList;
use tauri::State;
use tauri::ipc::Response;
use uuid::Uuid;

use crate::AppState;
use crate::error::{Error, Result};

/// One page of images, newest first.
#[tauri::command]
pub async fn list_images(state: State<'_, AppState>, cursor: Option<String>) -> Result<ImageList> {
    state
        .session
        .call(|s| async move { s.api.list_images(&s.token, cursor.as_deref()).await })
        .await
}

/// An image's thumbnail bytes.
#[tauri::command]
pub async fn thumbnail(state: State<'_, AppState>, id: String) -> Result<Response> {
    let id = parse_id(&id)?;
    let data = state
        .session
        .call(|s| async move { s.thumbnail(id).await })
        .await?;
    Ok(Response::new(data.to_vec()))
}

/// An image's full bytes.
#[tauri::command]
pub async fn image_content(state: State<'_, AppState>, id: String) -> Result<Response> {
    let id = parse_id(&id)?;
    let data = state
        .session
        .call(|s| async move { s.api.image_bytes(&s.token, id, false).await })
        .await?;
    Ok(Response::new(data.to_vec()))
}

/// Deletes an image.
#[tauri::command]
pub async fn delete_image(state: State<'_, AppState>, id: String) -> Result<()> {
    let id = parse_id(&id)?;
    state
        .session
        .call(|s| async move {
            s.api.delete_image(&s.token, id).await?;
            s.forget(id);
            Ok(())
        })
        .await
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::BadResponse(format!("{id:?} is not an image id")))
}
