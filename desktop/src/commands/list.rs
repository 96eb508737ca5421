//! The names of every command, shared with `build.rs` (which cannot see the crate).

/// Every command, for `build.rs` and the handler (kept in one list so they agree).
pub const ALL: &[&str] = &[
    "settings",
    "save_settings",
    "choose_ca_file",
    "clear_ca_file",
    "restore_session",
    "sign_in",
    "register",
    "password_rules",
    "resend_verification",
    "sign_out",
    "choose_files",
    "choose_folder",
    "upload_accepted",
    "cancel_upload",
    "cancel_all",
    "remove_item",
    "clear_finished",
    "list_images",
    "thumbnail",
    "image_content",
    "delete_image",
];
