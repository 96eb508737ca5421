//! Two-step sign-in, the device token and the account's sessions, through the
//! desktop's commands (Tauri's IPC on the mock runtime) against the real server, inside
//! a real Secret Service: the codes come from an authenticator built here with
//! `totp-rs` from the secret the server handed out.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use imagevault_desktop::keychain::DEVICE_SERVICE;
use serde_json::{Value, json};
use support::ipc::{app as desktop, invoke};
use support::secret_service::{enter, lookup, lookup_in};
use support::server::{Engine, PASSWORD, TestApp};
use tauri::test::MockRuntime;
use tauri::{Listener, WebviewWindow};
use totp_rs::{Algorithm, Secret, Totp};

type Window = WebviewWindow<MockRuntime>;

/// A server with a verified `email`, and a tokio runtime to run it on while the test
/// calls the (blocking) IPC. Also returns the bearer token the sign-up made.
fn server(email: &str) -> (tokio::runtime::Runtime, TestApp, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn(Engine::Sqlite));
    let token = rt.block_on(app.signed_up_user(email));
    (rt, app, token)
}

/// Points the desktop at `app` and signs in without a code.
fn signed_in(window: &Window, app: &TestApp, email: &str) {
    invoke(window, "save_settings", json!({"serverUrl": app.base})).unwrap();
    let outcome = sign_in(window, email).unwrap();
    assert_eq!(outcome["status"], "signed_in", "{outcome}");
    assert_eq!(outcome["account"]["email"], email);
}

fn sign_in(window: &Window, email: &str) -> Result<Value, Value> {
    invoke(
        window,
        "sign_in",
        json!({"email": email, "password": PASSWORD}),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The authenticator app: RFC 6238 with the server's parameters.
fn authenticator(secret: &str) -> Totp {
    let seed = Secret::try_from_base32(secret).unwrap().as_bytes().to_vec();
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(seed)
        .build()
        .unwrap()
}

/// A six-digit code that no step near now accepts.
fn wrong_code(totp: &Totp) -> String {
    let t = now();
    let near: Vec<String> = [t - 60, t - 30, t, t + 30, t + 60]
        .iter()
        .map(|&at| totp.generate(at).to_string())
        .collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Turns two-step sign-in on through Settings' commands; returns the authenticator and
/// the recovery codes. The confirming code is of the current step, so the next
/// sign-in must use a later one (each step's code is accepted once).
fn turn_on_two_step(window: &Window) -> (Totp, Vec<String>) {
    let status = invoke(window, "two_step_status", json!({})).unwrap();
    assert_eq!(status["totp"], false, "{status}");
    let setup = invoke(window, "start_two_step", json!({"password": PASSWORD})).unwrap();
    let qr = setup["qr_code"].as_str().unwrap();
    assert!(qr.starts_with("data:image/svg+xml;base64,"), "{qr}");
    let totp = authenticator(setup["secret"].as_str().unwrap());

    let err = invoke(
        window,
        "confirm_two_step",
        json!({"code": wrong_code(&totp)}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_code", "{err}");
    let code = totp.generate(now()).to_string();
    let codes = invoke(window, "confirm_two_step", json!({"code": code})).unwrap();
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 10);

    let status = invoke(window, "two_step_status", json!({})).unwrap();
    assert_eq!(status["totp"], true, "{status}");
    assert_eq!(status["recovery_codes_left"], 10, "{status}");
    (totp, codes)
}

#[test]
fn a_two_step_account_signs_in_with_a_code_after_a_wrong_one() {
    if enter("a_two_step_account_signs_in_with_a_code_after_a_wrong_one").is_some() {
        return;
    }
    let email = "totp@example.com";
    let (rt, app, _) = server(email);
    let (_desk, window, _) = desktop();
    signed_in(&window, &app, email);
    // Turning it on asks for the password first (and a wrong one is not the end).
    let err = invoke(
        &window,
        "start_two_step",
        json!({"password": "not the password"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_credentials", "{err}");
    let (totp, recovery) = turn_on_two_step(&window);
    invoke(&window, "sign_out", json!({})).unwrap();

    // The password is right: the view learns only that a code is needed.
    let outcome = sign_in(&window, email).unwrap();
    assert_eq!(outcome, json!({"status": "code_needed"}));
    let err = invoke(&window, "sign_in_code", json!({"code": wrong_code(&totp)})).unwrap_err();
    assert_eq!(err["code"], "invalid_code", "{err}");
    assert!(!err["message"].as_str().unwrap().is_empty(), "{err}");
    let next_step = totp.generate(now() + 30).to_string();
    let account = invoke(&window, "sign_in_code", json!({"code": next_step})).unwrap();
    assert_eq!(account["email"], email);

    // Signed in exactly like a password sign-in: the token is in the keychain and works.
    let token =
        lookup(&support::keychain_name(&app.base, email)).expect("the token is in the keychain");
    assert_eq!(rt.block_on(app.me(&token)).status(), 200);
    let err = invoke(&window, "sign_in_code", json!({"code": "123456"})).unwrap_err();
    assert_eq!(err["code"], "sign_in_expired", "the step is used up: {err}");

    // A wrong password when turning it off is refused without ending the session.
    let err = invoke(
        &window,
        "turn_off_two_step",
        json!({"password": "Wrong-Password-123!", "code": recovery[1]}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_credentials", "{err}");
    assert_eq!(
        invoke(&window, "two_step_status", json!({})).unwrap()["totp"],
        true
    );

    // A recovery code signs in too, once.
    invoke(&window, "sign_out", json!({})).unwrap();
    assert_eq!(sign_in(&window, email).unwrap()["status"], "code_needed");
    let account = invoke(&window, "sign_in_code", json!({"code": recovery[0]})).unwrap();
    assert_eq!(account["email"], email);
    let status = invoke(&window, "two_step_status", json!({})).unwrap();
    assert_eq!(status["recovery_codes_left"], 9, "{status}");

    // Off with the password and a code; the next sign-in needs none.
    invoke(
        &window,
        "turn_off_two_step",
        json!({"password": PASSWORD, "code": recovery[1]}),
    )
    .unwrap();
    assert_eq!(
        invoke(&window, "two_step_status", json!({})).unwrap()["totp"],
        false
    );
    invoke(&window, "sign_out", json!({})).unwrap();
    assert_eq!(sign_in(&window, email).unwrap()["status"], "signed_in");
    rt.block_on(app.finish());
}

#[test]
fn a_sign_in_whose_tries_are_used_up_must_start_again() {
    if enter("a_sign_in_whose_tries_are_used_up_must_start_again").is_some() {
        return;
    }
    let email = "tries@example.com";
    let (rt, app, _) = server(email);
    let (_desk, window, _) = desktop();
    signed_in(&window, &app, email);
    let (totp, _) = turn_on_two_step(&window);
    invoke(&window, "sign_out", json!({})).unwrap();

    assert_eq!(sign_in(&window, email).unwrap()["status"], "code_needed");
    let wrong = wrong_code(&totp);
    for _ in 0..4 {
        let err = invoke(&window, "sign_in_code", json!({"code": wrong})).unwrap_err();
        assert_eq!(err["code"], "invalid_code", "{err}");
    }
    // The fifth wrong code is the server's last try: the sign-in is over, and even the
    // right code cannot finish it.
    let err = invoke(&window, "sign_in_code", json!({"code": wrong})).unwrap_err();
    assert_eq!(err["code"], "sign_in_expired", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("Start again"),
        "{err}"
    );
    let right = totp.generate(now() + 30).to_string();
    let err = invoke(&window, "sign_in_code", json!({"code": right})).unwrap_err();
    assert_eq!(err["code"], "sign_in_expired", "{err}");
    assert_eq!(
        invoke(&window, "restore_session", json!({})).unwrap(),
        Value::Null
    );
    rt.block_on(app.finish());
}

#[test]
fn the_device_token_is_kept_and_gets_this_computer_past_a_strangers_lockout() {
    if enter("the_device_token_is_kept_and_gets_this_computer_past_a_strangers_lockout").is_some() {
        return;
    }
    let email = "device@example.com";
    let (rt, app, _) = server(email);
    let (_desk, window, dir) = desktop();
    signed_in(&window, &app, email);
    let name = support::keychain_name(&app.base, email);
    let device = lookup_in(DEVICE_SERVICE, &name).expect("the device token is in the keychain");
    let token = lookup(&name).unwrap();
    assert_ne!(device, token);
    let settings = std::fs::read_to_string(dir.join("settings.json")).unwrap();
    assert!(!settings.contains(&device), "never written to a file");

    // Sign-out ends the session but keeps the device token.
    invoke(&window, "sign_out", json!({})).unwrap();
    assert_eq!(lookup(&name), None);
    assert_eq!(lookup_in(DEVICE_SERVICE, &name).as_deref(), Some(&*device));

    // A stranger (no device token) locks the account with wrong passwords...
    for _ in 0..5 {
        rt.block_on(app.login(email, "Wrong-Password-123!"));
    }
    let stranger = rt.block_on(app.login(email, PASSWORD));
    assert_eq!(stranger.status(), 423, "unknown devices are locked out");

    // ...but this computer presents its device token and gets in.
    let outcome = sign_in(&window, email).unwrap();
    assert_eq!(outcome["status"], "signed_in", "{outcome}");
    assert!(lookup(&name).is_some());
    rt.block_on(app.finish());
}

#[test]
fn sessions_show_this_computer_and_revoking_one_ends_it() {
    if enter("sessions_show_this_computer_and_revoking_one_ends_it").is_some() {
        return;
    }
    let email = "sessions@example.com";
    let (rt, app, other_token) = server(email);
    let (desk, window, _) = desktop();
    let told = Arc::new(Mutex::new(Vec::new()));
    desk.listen_any("signed-out", {
        let told = Arc::clone(&told);
        move |event| told.lock().unwrap().push(event.payload().to_owned())
    });
    signed_in(&window, &app, email);

    let list = invoke(&window, "list_sessions", json!({})).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let this = items.iter().find(|s| s["current"] == true);
    let this = this.unwrap_or_else(|| panic!("no current session: {list}"));
    let other = items.iter().find(|s| s["current"] == false);
    let other = other.unwrap_or_else(|| panic!("no other session: {list}"));
    assert_eq!(this["kind"], "api");
    assert!(
        this["user_agent"]
            .as_str()
            .unwrap()
            .contains("ImageVault-Desktop"),
        "{this}"
    );

    // Another session: its token stops working, this one goes on.
    let revoked = invoke(&window, "revoke_session", json!({"id": other["id"]})).unwrap();
    assert_eq!(revoked, false);
    assert_eq!(rt.block_on(app.me(&other_token)).status(), 401);
    let list = invoke(&window, "list_sessions", json!({})).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let stranger = json!({"id": uuid::Uuid::new_v4().to_string()});
    let err = invoke(&window, "revoke_session", stranger).unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    let err = invoke(&window, "revoke_session", json!({"id": "../me"})).unwrap_err();
    assert_eq!(err["code"], "bad_response", "{err}");

    // This computer's own: a sign-out, and the view is told.
    let name = support::keychain_name(&app.base, email);
    let token = lookup(&name).unwrap();
    let revoked = invoke(&window, "revoke_session", json!({"id": this["id"]})).unwrap();
    assert_eq!(revoked, true);
    assert_eq!(rt.block_on(app.me(&token)).status(), 401);
    assert_eq!(lookup(&name), None);
    assert!(lookup_in(DEVICE_SERVICE, &name).is_some());
    let err = invoke(&window, "list_sessions", json!({})).unwrap_err();
    assert_eq!(err["code"], "not_signed_in", "{err}");
    let told = told.lock().unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("signed this computer out"), "{told:?}");
    rt.block_on(app.finish());
}
