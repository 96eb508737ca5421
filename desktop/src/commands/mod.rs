//! The commands the web view may call, grouped by area. Each is listed in `build.rs`
//! (which generates its `allow-…` permission) and granted in `capabilities/main.json`;
//! nothing else — no file system, shell or HTTP — is reachable from JavaScript.

// Tauri hands commands their arguments and `State` by value.
#![allow(clippy::needless_pass_by_value)]

pub mod account;
pub mod files;
pub mod gallery;
pub mod security;
pub mod settings;
pub mod shares;
pub mod watch;

mod list;

pub use list::ALL;

/// Shows a native dialog that answers through a callback (`open` receives that
/// callback) and waits for the answer; `None` if the dialog went away unanswered.
async fn picked<T: Send + 'static>(open: impl FnOnce(Box<dyn FnOnce(T) + Send>)) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    open(Box::new(move |answer| {
        let _ = tx.send(answer);
    }));
    rx.await.ok()
}
