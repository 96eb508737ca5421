//! The commands through Tauri's IPC with the mock runtime: the same handler, state and
//! serialisation the web view meets, without a window.

mod support;

use serde_json::{Value, json};
use support::ipc::{app, invoke};

#[test]
fn settings_default_to_the_embedded_server_and_refuse_cleartext_elsewhere() {
    let (_app, window, dir) = app();
    let settings = invoke(&window, "settings", json!({})).unwrap();
    assert_eq!(settings["server_url"], "http://127.0.0.1:8080/");

    let err = invoke(
        &window,
        "save_settings",
        json!({"serverUrl": "http://photos.example.com"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_setting");
    assert!(
        err["message"].as_str().unwrap().contains("https://"),
        "{err}"
    );

    // The web view cannot name a CA file: the only way to set one is the native picker.
    let saved = invoke(
        &window,
        "save_settings",
        json!({"serverUrl": "https://photos.example.com", "caFile": "/etc/passwd"}),
    )
    .unwrap();
    assert_eq!(saved["ca_file"], Value::Null);
    assert_eq!(
        invoke(&window, "clear_ca_file", json!({})).unwrap()["ca_file"],
        Value::Null
    );

    let saved = invoke(
        &window,
        "save_settings",
        json!({"serverUrl": " https://photos.example.com "}),
    )
    .unwrap();
    assert_eq!(saved["server_url"], "https://photos.example.com/");
    assert_eq!(saved["ca_file"], Value::Null);
    let on_disk = std::fs::read_to_string(dir.join("settings.json")).unwrap();
    assert!(on_disk.contains("https://photos.example.com/"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn live_password_rules_are_the_servers() {
    let (_app, window, _) = app();
    let rules = invoke(
        &window,
        "password_rules",
        json!({"email": "ann@example.com", "password": "short"}),
    )
    .unwrap();
    let names: Vec<_> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].clone())
        .collect();
    assert!(names.contains(&json!("too_short")), "{rules}");
    assert!(names.contains(&json!("no_digit")), "{rules}");
    assert!(rules[0]["message"].as_str().is_some_and(|m| !m.is_empty()));

    let ok = invoke(
        &window,
        "password_rules",
        json!({"email": "ann@", "password": "Correct-Horse-7-Battery-Staple"}),
    )
    .unwrap();
    assert_eq!(ok, json!([]));
    let with_email = invoke(
        &window,
        "password_rules",
        json!({"email": "annabel@example.com", "password": "Annabel@example.com-9X"}),
    )
    .unwrap();
    assert!(
        with_email.to_string().contains("contains_email"),
        "{with_email}"
    );
}

#[test]
fn server_commands_need_a_session_and_say_so() {
    let (_app, window, _) = app();
    for (cmd, args) in [
        ("list_images", json!({"cursor": null})),
        ("thumbnail", json!({"id": uuid::Uuid::new_v4().to_string()})),
        (
            "delete_image",
            json!({"id": uuid::Uuid::new_v4().to_string()}),
        ),
        ("upload_accepted", json!({})),
        ("storage_usage", json!({})),
        ("list_shares", json!({})),
        (
            "create_share",
            json!({"request": {"image_ids": [uuid::Uuid::new_v4()], "allow_download": false, "watermark": true}}),
        ),
        (
            "revoke_share",
            json!({"id": uuid::Uuid::new_v4().to_string()}),
        ),
    ] {
        let err = invoke(&window, cmd, args).unwrap_err();
        assert_eq!(err["code"], "not_signed_in", "{cmd}: {err}");
        assert_eq!(err["message"], "Please sign in first.");
    }
    assert_eq!(
        invoke(&window, "restore_session", json!({})).unwrap(),
        Value::Null
    );
    assert_eq!(invoke(&window, "sign_out", json!({})).unwrap(), Value::Null);
}

#[test]
fn hostile_arguments_get_errors_not_panics() {
    let (_app, window, _) = app();
    // Missing and wrongly typed arguments are refused by the IPC layer.
    assert!(invoke(&window, "sign_in", json!({"email": 5})).is_err());
    assert!(invoke(&window, "cancel_upload", json!({"id": "not a number"})).is_err());
    assert!(invoke(&window, "no_such_command", json!({})).is_err());
    // Single sign-on's link step: wrong types are refused, and without a sign-in waiting
    // for its password there is nothing to link.
    assert!(
        invoke(
            &window,
            "sign_in_sso_link",
            json!({"password": 5, "code": ""})
        )
        .is_err()
    );
    assert!(invoke(&window, "sign_in_sso_link", json!({"password": "x"})).is_err());
    let err = invoke(
        &window,
        "sign_in_sso_link",
        json!({"password": "x", "code": "123456"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "sign_in_expired", "{err}");
    // A share request the server's types do not describe never leaves the app.
    for request in [
        json!({"image_ids": "all", "allow_download": false, "watermark": false}),
        json!({"image_ids": [], "allow_download": false, "watermark": false, "owner": "x"}),
        json!({"image_ids": ["../../etc/passwd"], "allow_download": false, "watermark": false}),
    ] {
        let err = invoke(&window, "create_share", json!({ "request": request })).unwrap_err();
        // Refused by the IPC layer's typed arguments, before the command asks for a session.
        assert!(
            err.as_str().is_some_and(|e| e.contains("invalid args")),
            "{request}: {err}"
        );
    }
    let err = invoke(&window, "revoke_share", json!({"id": "../1"})).unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a share link's id"),
        "{err}"
    );
    // Watched folders are named by the native picker only: the view can pass no path,
    // and a position that is not in the list changes nothing.
    assert!(invoke(&window, "remove_watched_folder", json!({"index": -1})).is_err());
    assert!(invoke(&window, "remove_watched_folder", json!({"index": "/etc"})).is_err());
    assert!(invoke(&window, "set_watch_paused", json!({"paused": "yes"})).is_err());
    let unchanged = invoke(&window, "remove_watched_folder", json!({"index": 999})).unwrap();
    assert_eq!(unchanged["folders"], json!([]));
    // Unknown ids are harmless.
    assert_eq!(
        invoke(&window, "remove_item", json!({"id": 999})).unwrap(),
        json!(false)
    );
    assert_eq!(
        invoke(&window, "cancel_upload", json!({"id": u64::MAX})).unwrap(),
        Value::Null
    );
    // A server that is not there: a sentence, not a crash.
    invoke(
        &window,
        "save_settings",
        json!({"serverUrl": "http://127.0.0.1:9"}),
    )
    .unwrap();
    let err = invoke(
        &window,
        "sign_in",
        json!({"email": "a@example.com", "password": "x"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "unreachable", "{err}");
}

#[test]
fn the_web_view_gets_only_the_apps_commands() {
    let (_app, window, _) = app();
    // The dialog plugin is registered for Rust's pickers, but JavaScript may not use it,
    // nor anything else outside the capability file. Of the clipboard it may only write
    // text (a new share link, as the e2e journey shows): reading it back, or writing
    // anything else, is refused. Notifications are Rust's alone: the view may neither
    // send one nor ask for the permission. The system browser (single sign-on) is
    // opened from Rust: the view can open neither a URL nor a file.
    for cmd in [
        "plugin:dialog|open",
        "plugin:dialog|save",
        "plugin:notification|notify",
        "plugin:notification|request_permission",
        "plugin:notification|is_permission_granted",
        "plugin:opener|open_url",
        "plugin:opener|open_path",
        "plugin:opener|reveal_item_in_dir",
        "plugin:clipboard-manager|read_text",
        "plugin:clipboard-manager|read_image",
        "plugin:clipboard-manager|write_html",
        "plugin:clipboard-manager|write_image",
        "plugin:clipboard-manager|clear",
        "plugin:fs|read_file",
        "plugin:shell|execute",
    ] {
        let err = invoke(&window, cmd, json!({})).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{cmd}: {err}");
    }
    let capability: Value =
        serde_json::from_str(include_str!("../capabilities/main.json")).unwrap();
    let mut granted: Vec<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    granted.sort();
    let mut expected: Vec<String> = imagevault_desktop::commands::ALL
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .chain([
            "core:event:allow-listen".into(),
            "core:event:allow-unlisten".into(),
            "clipboard-manager:allow-write-text".into(),
        ])
        .collect();
    expected.sort();
    assert_eq!(granted, expected);
}

#[test]
fn the_content_security_policy_is_strict() {
    let config: Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
    let csp = &config["app"]["security"]["csp"];
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["script-src"], "'self'");
    assert_eq!(csp["object-src"], "'none'");
    assert_eq!(csp["frame-ancestors"], "'none'");
    let all = csp.to_string();
    assert!(
        !all.contains("unsafe-inline") && !all.contains("unsafe-eval"),
        "{all}"
    );
    // No remote sources: only the app itself, inline data/blob images, and Tauri's IPC
    // endpoint (`ipc:` on Linux and macOS, `http://ipc.localhost` on Windows).
    let allowed = [
        "'self'",
        "'none'",
        "data:",
        "blob:",
        "ipc:",
        "http://ipc.localhost",
    ];
    for (directive, sources) in csp.as_object().unwrap() {
        for source in sources.as_str().unwrap().split_whitespace() {
            assert!(allowed.contains(&source), "{directive}: {source}");
        }
    }
    assert_eq!(
        config["app"]["security"]["dangerousDisableAssetCspModification"],
        Value::Null
    );
}
