//! The ImageVault desktop app (Tauri 2): drop photos on the window, see them checked and
//! previewed locally with the server's own rules, upload them in a queue, browse the
//! gallery. The session token lives in the OS keychain and never enters the web view:
//! every server call is a Rust command in [`commands`].
//!
//! [`build`] is generic over the Tauri runtime so tests drive the same app with the mock
//! runtime; [`run`] starts the real one.

pub mod client;
pub mod commands;
pub mod error;
pub mod events;
pub mod files;
pub mod intake;
pub mod journal;
pub mod keychain;
pub mod session;
pub mod settings;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{DragDropEvent, Manager, Runtime, WindowEvent};

use crate::events::{Events, TauriEvents};
use crate::files::Files;
use crate::journal::Journal;
use crate::session::Session;
use crate::settings::SettingsFile;

/// The app's state, shared by every command.
pub struct AppState {
    /// Settings and the signed-in session.
    pub session: Arc<Session>,
    /// The upload panel's cards.
    pub files: Arc<Files>,
    /// The watched folders' watch.
    pub watch: watch::Watch,
}

impl AppState {
    /// Watches the folders in Settings for the signed-in session (after a sign-in or a
    /// restore); returns a sentence per folder that cannot be watched.
    pub fn watch_folders(&self) -> Vec<String> {
        self.watch
            .apply(&self.session.settings(), &self.files, &self.session)
    }

    /// Forgets the cards, the queue's journal and the watch, when a session ends or
    /// another starts: nothing of one session goes to the next.
    pub fn forget_session_work(&self) {
        self.files.reset();
        self.watch.stop();
    }
}

/// Where the app keeps its settings (tests pass a temp folder).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The folder for the settings and the upload queue's journal; when `None`, the
    /// platform's app config folder and app data folder.
    pub config_dir: Option<PathBuf>,
}

/// The app on any runtime: state, commands, and the window's drag-drop handling.
pub fn build<R: Runtime>(builder: tauri::Builder<R>, options: Options) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        // Notifications are sent from Rust only: the capability grants the view none.
        .plugin(tauri_plugin_notification::init())
        // The system browser for single sign-on, opened from Rust only: the capability
        // grants the view nothing of the opener.
        .plugin(tauri_plugin_opener::init())
        .setup(move |app| Ok(install(app.handle(), &options)?))
        .on_window_event(|window, event| {
            if let WindowEvent::DragDrop(drag) = event {
                on_drag(window.app_handle(), drag);
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::settings::settings,
            commands::settings::save_settings,
            commands::settings::choose_ca_file,
            commands::settings::clear_ca_file,
            commands::account::restore_session,
            commands::account::sign_in,
            commands::account::sign_in_code,
            commands::account::sso_available,
            commands::account::sign_in_sso,
            commands::account::sign_in_sso_link,
            commands::account::register,
            commands::account::password_rules,
            commands::account::resend_verification,
            commands::account::sign_out,
            commands::account::storage_usage,
            commands::files::choose_files,
            commands::files::choose_folder,
            commands::files::upload_accepted,
            commands::files::cancel_upload,
            commands::files::cancel_all,
            commands::files::remove_item,
            commands::files::clear_finished,
            commands::gallery::list_images,
            commands::gallery::thumbnail,
            commands::gallery::image_content,
            commands::gallery::delete_image,
            commands::shares::create_share,
            commands::shares::list_shares,
            commands::shares::revoke_share,
            commands::security::two_step_status,
            commands::security::start_two_step,
            commands::security::confirm_two_step,
            commands::security::turn_off_two_step,
            commands::security::new_recovery_codes,
            commands::security::save_recovery_codes,
            commands::security::list_sessions,
            commands::security::revoke_session,
            commands::watch::watched_folders,
            commands::watch::add_watched_folder,
            commands::watch::remove_watched_folder,
            commands::watch::set_watch_paused,
        ])
}

/// Puts the app's state in place. The setup hook calls it; tests on the mock runtime,
/// which never runs setup hooks, call it themselves after building the app.
pub fn install<R: Runtime>(app: &tauri::AppHandle<R>, options: &Options) -> tauri::Result<()> {
    let (config_dir, data_dir) = match options.config_dir.clone() {
        Some(dir) => (dir.clone(), dir),
        None => (app.path().app_config_dir()?, app.path().app_data_dir()?),
    };
    let events: Arc<dyn Events> = Arc::new(TauriEvents(app.clone()));
    let session = Session::new(SettingsFile::in_dir(&config_dir), Arc::clone(&events));
    app.manage(AppState {
        session: Arc::new(session),
        files: Arc::new(Files::new(events, Journal::in_dir(&data_dir))),
        watch: watch::Watch::default(),
    });
    Ok(())
}

/// A drag over the window: highlight while it hovers; on drop, take the files (only when
/// signed in — before that there is nowhere to upload them).
fn on_drag<R: Runtime>(app: &tauri::AppHandle<R>, drag: &DragDropEvent) {
    let state = app.state::<AppState>();
    let events = TauriEvents(app.clone());
    match drag {
        DragDropEvent::Enter { .. } | DragDropEvent::Over { .. } => events.drop_hover(true),
        DragDropEvent::Leave => events.drop_hover(false),
        DragDropEvent::Drop { paths, .. } => {
            events.drop_hover(false);
            if state.session.active().is_err() {
                return;
            }
            let files = Arc::clone(&state.files);
            let paths = paths.clone();
            tauri::async_runtime::spawn(async move {
                let (count, truncated) = files.add(paths).await;
                tracing::info!(count, truncated, "files dropped");
            });
        }
        _ => {}
    }
}

/// The app's context — configuration, the embedded `ui/` and the capabilities — for any
/// runtime, so tests run the commands under the same permissions as the app.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Starts the desktop app.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,imagevault_desktop=info".into()),
        )
        .init();
    build(tauri::Builder::default(), Options::default())
        .run(context())
        .expect("the ImageVault window could not start");
}
