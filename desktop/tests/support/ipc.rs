//! The desktop's commands through Tauri's IPC on the mock runtime: the same handler,
//! state, capabilities and serialisation the web view meets, without a window.

use imagevault_desktop::{Options, build};
use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

/// The app with its real context (so its own capabilities apply) and its state in a
/// fresh settings folder, which is returned too.
pub fn app() -> (
    App<MockRuntime>,
    WebviewWindow<MockRuntime>,
    std::path::PathBuf,
) {
    let dir = std::env::temp_dir().join(format!("iv-commands-{}", uuid::Uuid::new_v4()));
    let options = Options {
        config_dir: Some(dir.clone()),
    };
    // The real context, so commands run under the app's own capabilities.
    let app = build(mock_builder(), options.clone())
        .build(imagevault_desktop::context())
        .unwrap();
    imagevault_desktop::install(app.handle(), &options).unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", tauri::WebviewUrl::default())
        .build()
        .unwrap();
    (app, window, dir)
}

/// Calls `cmd` as the web view would; `Err` holds what the view would be rejected with.
pub fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: tauri::http::HeaderMap::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}
