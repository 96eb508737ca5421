//! Share links: "Share…" on the gallery's selection, and the "Shared links" view. The
//! view copies a new link with the clipboard plugin itself (its capability grants
//! writing text and nothing else), so no command here touches the clipboard.

use imagevault_common::api::{ShareCreated, ShareList, ShareRequest};
use tauri::State;
use uuid::Uuid;

use crate::AppState;
use crate::error::{Error, Result};

/// Makes a link to the chosen images; the answer's `url` is shown this once.
#[tauri::command]
pub async fn create_share(
    state: State<'_, AppState>,
    request: ShareRequest,
) -> Result<ShareCreated> {
    state
        .session
        .call(|s| async move { s.api.create_share(&s.token, &request).await })
        .await
}

/// The account's links with their views, newest first.
#[tauri::command]
pub async fn list_shares(state: State<'_, AppState>) -> Result<ShareList> {
    state
        .session
        .call(|s| async move { s.api.shares(&s.token).await })
        .await
}

/// Revokes a link.
#[tauri::command]
pub async fn revoke_share(state: State<'_, AppState>, id: String) -> Result<()> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| Error::BadResponse(format!("{id:?} is not a share link's id")))?;
    state
        .session
        .call(|s| async move { s.api.revoke_share(&s.token, id).await })
        .await
}
