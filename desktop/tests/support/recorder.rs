//! An [`Events`] sink that keeps everything the app reports, and waits for conditions.

use std::sync::Mutex;
use std::time::Duration;

use imagevault_desktop::events::{BatchEvent, CardEvent, Events, UploadEvent, UploadState};
use tokio::sync::Notify;

/// Everything reported so far.
#[derive(Default)]
pub struct Recorder {
    pub cards: Mutex<Vec<CardEvent>>,
    pub uploads: Mutex<Vec<UploadEvent>>,
    pub signed_out: Mutex<Vec<String>>,
    pub batches: Mutex<Vec<BatchEvent>>,
    changed: Notify,
}

impl Events for Recorder {
    fn card(&self, event: CardEvent) {
        self.cards.lock().unwrap().push(event);
        self.changed.notify_waiters();
    }

    fn upload(&self, event: UploadEvent) {
        self.uploads.lock().unwrap().push(event);
        self.changed.notify_waiters();
    }

    fn signed_out(&self, message: &str) {
        self.signed_out.lock().unwrap().push(message.to_owned());
        self.changed.notify_waiters();
    }

    fn drop_hover(&self, _active: bool) {}

    fn batch(&self, event: BatchEvent) {
        self.batches.lock().unwrap().push(event);
        self.changed.notify_waiters();
    }
}

impl Recorder {
    /// Waits (at most 60 s) until `done` holds for what was recorded.
    pub async fn until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                if done(self) {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
            }
        };
        tokio::time::timeout(Duration::from_mins(1), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// The latest check event of each card, by id.
    pub fn latest_card(&self, id: u64) -> Option<CardEvent> {
        self.cards
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.id == id)
            .cloned()
    }

    /// The latest upload state of a card.
    pub fn upload_state(&self, id: u64) -> Option<UploadState> {
        self.uploads
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|u| u.id == id)
            .map(|u| u.state)
    }

    /// Every state a card's upload went through, in order, without repeats.
    pub fn upload_states(&self, id: u64) -> Vec<UploadState> {
        let mut out: Vec<UploadState> = Vec::new();
        for u in self.uploads.lock().unwrap().iter().filter(|u| u.id == id) {
            if out.last() != Some(&u.state) {
                out.push(u.state);
            }
        }
        out
    }

    /// Ids of cards whose check finished with `state` (`accepted` / `refused`).
    pub fn checked(&self, state: &str) -> Vec<u64> {
        let cards = self.cards.lock().unwrap();
        let mut ids: Vec<u64> = cards
            .iter()
            .filter(|c| serde_json::to_value(c).unwrap()["state"] == state)
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
