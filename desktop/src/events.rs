//! What Rust tells the web view, as typed payloads.
//!
//! Work that outlives a command (checks of a large drop, uploads) reports through the
//! [`Events`] trait rather than a Tauri handle, so the same code runs in the app, under
//! the mock runtime, and in tests that simply collect what was reported.

use imagevault_common::api::ImageObject;
use serde::Serialize;
use tauri::{Emitter, Runtime};

use crate::intake::Verdict;

/// One card of the upload panel: sent when a file is first seen, then after its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardEvent {
    /// The card's id.
    pub id: u64,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The watched folder it was found in (its name), when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `checking`, or the verdict's fields flattened (`accepted`/`refused`).
    #[serde(flatten)]
    pub check: CardCheck,
}

/// Where a card's check stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CardCheck {
    /// Not checked yet.
    Checking {
        /// Always `checking`.
        state: &'static str,
    },
    /// Checked.
    Done(Verdict),
}

impl CardCheck {
    /// A card whose check has not finished.
    pub const CHECKING: Self = Self::Checking { state: "checking" };
}

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Waiting for a free slot.
    Queued,
    /// Being sent.
    Uploading,
    /// A network problem; it will be sent again.
    Retrying,
    /// The server stored it (201).
    Done,
    /// Refused by the server or out of retries.
    Failed,
    /// Cancelled by the person.
    Cancelled,
}

/// Progress of one upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadEvent {
    /// The card's id.
    pub id: u64,
    /// Where it stands.
    pub state: UploadState,
    /// Bytes handed to the connection.
    pub sent: u64,
    /// Bytes to send.
    pub total: u64,
    /// Why it failed or is retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The stored image, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageObject>,
}

impl UploadEvent {
    /// An event without a stored image (every state but `Done`, which adds it).
    #[must_use]
    pub fn new(
        id: u64,
        state: UploadState,
        sent: u64,
        total: u64,
        message: Option<String>,
    ) -> Self {
        Self {
            id,
            state,
            sent,
            total,
            message,
            image: None,
        }
    }
}

/// How a batch of uploads ended: reported when the last upload in the queue settles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BatchEvent {
    /// Stored by the server.
    pub uploaded: usize,
    /// Refused, or out of retries.
    pub failed: usize,
    /// Cancelled by the person.
    pub cancelled: usize,
}

impl BatchEvent {
    /// The desktop notification's title and body; none when every upload was cancelled
    /// (the person who cancelled knows).
    #[must_use]
    pub fn notification(&self) -> Option<(String, String)> {
        let photos = |n: usize| {
            if n == 1 {
                "1 photo".to_owned()
            } else {
                format!("{n} photos")
            }
        };
        match (self.uploaded, self.failed) {
            (0, 0) => None,
            (done, 0) => Some((
                format!("{} uploaded", photos(done)),
                "They are in your ImageVault gallery.".into(),
            )),
            (0, failed) => Some((
                format!("{} not uploaded", photos(failed)),
                "Open ImageVault to see why.".into(),
            )),
            (done, failed) => Some((
                format!("{} uploaded, {failed} not", photos(done)),
                "Open ImageVault to see why some were not.".into(),
            )),
        }
    }
}

/// Where reports go.
pub trait Events: Send + Sync + 'static {
    /// A card appeared or its check finished.
    fn card(&self, event: CardEvent);
    /// An upload moved on.
    fn upload(&self, event: UploadEvent);
    /// The server no longer accepts the session.
    fn signed_out(&self, message: &str);
    /// A drag is over the window (or left it).
    fn drop_hover(&self, active: bool);
    /// The upload queue emptied; how its batch ended.
    fn batch(&self, event: BatchEvent);
}

/// Events delivered to the app's web view.
pub struct TauriEvents<R: Runtime>(pub tauri::AppHandle<R>);

impl<R: Runtime> TauriEvents<R> {
    fn emit(&self, name: &str, payload: impl Serialize + Clone) {
        if let Err(e) = self.0.emit(name, payload) {
            tracing::warn!(event = name, error = %e, "could not reach the window");
        }
    }
}

impl<R: Runtime> Events for TauriEvents<R> {
    fn card(&self, event: CardEvent) {
        self.emit("intake", event);
    }

    fn upload(&self, event: UploadEvent) {
        self.emit("upload", event);
    }

    fn signed_out(&self, message: &str) {
        self.emit("signed-out", serde_json::json!({ "message": message }));
    }

    fn drop_hover(&self, active: bool) {
        self.emit("drop-hover", serde_json::json!({ "active": active }));
    }

    /// Also a native notification: a batch of hundreds of photos outlasts the person's
    /// attention, and they learn it ended (or what failed) without watching the window.
    fn batch(&self, event: BatchEvent) {
        use tauri_plugin_notification::NotificationExt;
        self.emit("batch", event);
        if let Some((title, body)) = event.notification() {
            let shown = self
                .0
                .notification()
                .builder()
                .title(title)
                .body(body)
                .show();
            if let Err(e) = shown {
                tracing::info!(error = %e, "no desktop notification (no notification service?)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_told_in_words() {
        let batch = |uploaded, failed, cancelled| BatchEvent {
            uploaded,
            failed,
            cancelled,
        };
        let title = |b: BatchEvent| b.notification().map(|(t, _)| t);
        assert_eq!(title(batch(3, 0, 1)).as_deref(), Some("3 photos uploaded"));
        assert_eq!(title(batch(1, 0, 0)).as_deref(), Some("1 photo uploaded"));
        assert_eq!(
            title(batch(0, 2, 0)).as_deref(),
            Some("2 photos not uploaded")
        );
        assert_eq!(
            title(batch(2, 1, 0)).as_deref(),
            Some("2 photos uploaded, 1 not")
        );
        assert_eq!(
            title(batch(0, 0, 4)),
            None,
            "all cancelled: nothing to tell"
        );
    }

    #[test]
    fn cards_serialise_flat_as_the_view_expects() {
        let checking = CardEvent {
            id: 7,
            name: "a.png".into(),
            size: 10,
            origin: None,
            check: CardCheck::CHECKING,
        };
        let json = serde_json::to_value(&checking).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 7, "name": "a.png", "size": 10, "state": "checking"})
        );
        let refused = CardEvent {
            check: CardCheck::Done(Verdict::Refused {
                reason: "No.".into(),
            }),
            ..checking
        };
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["state"], "refused");
        assert_eq!(json["reason"], "No.");
    }
}
