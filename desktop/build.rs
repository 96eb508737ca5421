//! Generates the app's context and one `allow-<command>` permission per command, so the
//! capability file grants exactly the commands the view needs.

#[path = "src/commands/list.rs"]
mod list;

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(list::ALL);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build");
}
