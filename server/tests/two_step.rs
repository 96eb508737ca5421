//! Two-step sign-in end to end, on SQLite and PostgreSQL: enrol, confirm, sign in with
//! a code, replay and drift, recovery codes, turning it off — through the JSON API and
//! the browser pages — and the hostile inputs of the second step.

use imagevault_test_support as support;
use support::both_engines;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Engine, PASSWORD, TestApp, browser, error_code, form_field};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code an authenticator app with `secret` (base32) shows at unix time `t`.
fn code_at(secret: &str, t: u64) -> String {
    support::totp_code(secret, t)
}

/// A six-digit code that is certainly wrong now (no step within drift shows it).
fn wrong_code(secret: &str) -> String {
    let t = now();
    let near: Vec<String> = (0..=4).map(|i| code_at(secret, t + i * 30 - 60)).collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    app.bearer(method, path, token, body).await
}

/// Turns two-step sign-in on for the bearer `token`'s account; returns the secret and
/// the recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let res = send(
        app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        token,
        Some(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    let code = code_at(&secret, now());
    let res = send(
        app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp/confirm",
        token,
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// The `mfa_token` of a password step that asks for a code.
async fn password_step(app: &TestApp, email: &str) -> String {
    let res = app.login(email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "mfa_required");
    body["error"]["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/login/mfa",
        json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

/// Forgets the per-minute sign-in limits, as a minute's wait would: these tests make
/// more sign-in steps a minute than a person does.
async fn fresh_limits(app: &TestApp) {
    sqlx::query("DELETE FROM rate_limits")
        .execute(app.state.db.pool())
        .await
        .unwrap();
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.me(token).await.json().await.unwrap()
}

fn strings(body: &Value, field: &str) -> Vec<String> {
    body[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

async fn enrolment_is_pending_until_a_code_confirms_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "tess@example.com";
    let token = app.signed_up_user(email).await;
    let off = json!({"totp": false, "passkeys": 0, "recovery_codes_left": 0});
    assert_eq!(me(&app, &token).await["mfa"], off);
    let start = || {
        send(
            &app,
            reqwest::Method::POST,
            "/api/v1/me/mfa/totp",
            &token,
            Some(json!({"password": PASSWORD})),
        )
    };

    // The password comes first: a stolen session alone cannot turn it on.
    let res = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/totp",
        &token,
        Some(json!({"password": "not the password"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_credentials");

    // Starting again replaces the pending secret.
    let first: Value = start().await.json().await.unwrap();
    let res = start().await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert_ne!(first["secret"], body["secret"]);
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/ImageVault:tess%40example.com?"),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}")));
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));
    // Still off: the password alone signs in.
    assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::OK);

    let confirm = |code: String| {
        send(
            &app,
            reqwest::Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            &token,
            Some(json!({"code": code})),
        )
    };
    let stale = code_at(first["secret"].as_str().unwrap(), now());
    if stale != code_at(&secret, now()) {
        let res = confirm(stale).await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "the replaced secret's code"
        );
        assert_eq!(error_code(res).await, "invalid_code");
    }
    for wrong in [wrong_code(&secret), String::new(), "x".repeat(5000)] {
        let res = confirm(wrong).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(res).await, "invalid_code");
    }
    let res = confirm(code_at(&secret, now())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let codes = strings(&res.json().await.unwrap(), "recovery_codes");
    assert_eq!(codes.len(), 10);
    app.smtp
        .wait_for(email, "Two-step sign-in was turned on", 1)
        .await;
    let res = start().await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "mfa_already_enabled");
    let on = json!({"totp": true, "passkeys": 0, "recovery_codes_left": 10});
    assert_eq!(me(&app, &token).await["mfa"], on);
    app.finish().await;
}

async fn a_code_signs_in_once_within_one_step_of_drift(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "ursa@example.com";
    let token = app.signed_up_user(email).await;
    let enrolled_at = now();
    let (secret, _) = enrol(&app, &token).await;

    // The password now leads to the second step; the confirming code cannot be replayed.
    let mfa_token = password_step(&app, email).await;
    let res = second_step(&app, &mfa_token, &code_at(&secret, enrolled_at)).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a code is accepted once"
    );
    assert_eq!(error_code(res).await, "invalid_code");
    // Two steps ahead is beyond the drift allowed.
    let res = second_step(&app, &mfa_token, &code_at(&secret, enrolled_at + 90)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // One step ahead (a phone's clock running fast) is fine, spaces and all.
    let next = code_at(&secret, enrolled_at + 30);
    let res = second_step(&app, &mfa_token, &format!("{} {}", &next[..3], &next[3..])).await;
    assert_eq!(res.status(), StatusCode::OK);
    let signed_in: Value = res.json().await.unwrap();
    assert_eq!(
        me(&app, signed_in["token"].as_str().unwrap()).await["email"],
        email
    );
    // That step is spent, and so is the mfa_token.
    let again = password_step(&app, email).await;
    assert_eq!(
        second_step(&app, &again, &next).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = second_step(&app, &mfa_token, &code_at(&secret, enrolled_at + 60)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a used mfa_token");
    app.finish().await;
}

async fn recovery_codes_work_once_and_can_be_replaced(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "vera@example.com";
    let token = app.signed_up_user(email).await;
    let (_, codes) = enrol(&app, &token).await;

    // A recovery code signs in once, typed any way; the owner is told.
    let first = password_step(&app, email).await;
    let res = second_step(&app, &first, &codes[0].to_uppercase().replace('-', " ")).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.smtp.wait_for(email, "recovery code", 1).await;
    let reuse = password_step(&app, email).await;
    let res = second_step(&app, &reuse, &codes[0]).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a recovery code works once"
    );
    assert_eq!(me(&app, &token).await["mfa"]["recovery_codes_left"], 9);

    // New codes need the password and a code; the old ones stop working.
    let body = json!({"password": PASSWORD, "code": codes[1]});
    let res = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/me/mfa/recovery-codes",
        &token,
        Some(body),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = strings(&res.json().await.unwrap(), "recovery_codes");
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    let res = second_step(&app, &reuse, &codes[2]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "old codes are void");
    assert_eq!(
        second_step(&app, &reuse, &fresh[0]).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}

async fn turning_it_off_needs_the_password_and_a_code(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "wade@example.com";
    let token = app.signed_up_user(email).await;
    let (secret, codes) = enrol(&app, &token).await;
    let off = |password: &str, code: &str| {
        let body = json!({"password": password, "code": code});
        send(
            &app,
            reqwest::Method::DELETE,
            "/api/v1/me/mfa/totp",
            &token,
            Some(body),
        )
    };
    let res = off("Wrong-Password-123!", &codes[0]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_credentials");
    let res = off(PASSWORD, &wrong_code(&secret)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_code");
    assert_eq!(
        off(PASSWORD, &codes[0]).await.status(),
        StatusCode::NO_CONTENT
    );
    app.smtp
        .wait_for(email, "Two-step sign-in was turned off", 1)
        .await;
    assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::OK);
    let nothing = json!({"totp": false, "passkeys": 0, "recovery_codes_left": 0});
    assert_eq!(me(&app, &token).await["mfa"], nothing);
    let res = off(PASSWORD, &codes[1]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "nothing to turn off");
    app.finish().await;
}

async fn the_second_step_refuses_hostile_input(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "hugo@example.com";
    let token = app.signed_up_user(email).await;
    let (secret, codes) = enrol(&app, &token).await;

    // Malformed codes and tokens: the documented 4xx, never a 5xx.
    let mfa_token = password_step(&app, email).await;
    for code in [
        "",
        "12345",
        "1234567",
        "abcdef",
        "１２３４５６",
        "000000\u{0}",
        &"9".repeat(10_000),
    ] {
        let res = second_step(&app, &mfa_token, code).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{:?}",
            &code[..code.len().min(20)]
        );
        assert_eq!(error_code(res).await, "invalid_code");
    }
    // Those were the five tries (and more): the right code no longer helps.
    let res = second_step(&app, &mfa_token, &code_at(&secret, now() + 30)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "out of tries");
    // The five failures locked the account for unknown devices; start afresh.
    sqlx::query("DELETE FROM login_failures")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    fresh_limits(&app).await;
    for bad_token in ["", "x", &"A".repeat(5000), "' OR 1=1 --", "\u{1F600}"] {
        let res = second_step(&app, bad_token, &codes[0]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(res).await, "invalid_code");
    }
    for body in [
        json!({}),
        json!({"mfa_token": mfa_token}),
        json!({"code": "123456"}),
        json!({"mfa_token": 5, "code": []}),
    ] {
        let res = app.post_json("/api/v1/auth/login/mfa", body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/login/mfa"))
        .header("content-type", "text/plain")
        .body("mfa_token=x&code=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // An expired mfa_token is refused like an unknown one.
    let expired = password_step(&app, email).await;
    sqlx::query("UPDATE mfa_challenges SET expires_at = 0")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let res = second_step(&app, &expired, &codes[0]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The recovery code was not spent by the refused step.
    let fresh = password_step(&app, email).await;
    assert_eq!(
        second_step(&app, &fresh, &codes[0]).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}

async fn wrong_codes_count_towards_lockout(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "lola@example.com";
    let token = app.signed_up_user(email).await;
    let (secret, _) = enrol(&app, &token).await;
    for _ in 0..5 {
        fresh_limits(&app).await;
        let mfa_token = password_step(&app, email).await;
        let res = second_step(&app, &mfa_token, &wrong_code(&secret)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    fresh_limits(&app).await;
    let res = app.login(email, PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::LOCKED,
        "five wrong codes lock like five wrong passwords"
    );
    app.smtp.wait_for(email, "/unlock?token=", 1).await;
    app.finish().await;
}

async fn secrets_and_recovery_codes_are_not_stored_in_clear(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("sam@example.com").await;
    let (secret, codes) = enrol(&app, &token).await;
    let seed = totp_rs::Secret::try_from_base32(&secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    let sealed: String = sqlx::query_scalar("SELECT sealed FROM totp_secrets")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .unwrap();
    assert!(
        sealed.len() >= 5 + 16 + 32 + 32,
        "header, IV, two blocks, tag"
    );
    assert!(!sealed.windows(8).any(|w| seed.windows(8).any(|s| s == w)));
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    for code in &codes {
        let plain = code.replace('-', "");
        assert!(
            stored
                .iter()
                .all(|h| !h.contains(&plain) && !h.contains(code.as_str()))
        );
    }
    app.finish().await;
}

/// The browser pages: turn it on from the account page (QR code as inline SVG, the
/// secret as text), confirm, see the codes once, then sign in with the second page.
async fn browser_enrolment_and_second_page(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "bree@example.com";
    let browser = app.signed_in_browser(email).await;
    let account = app.page(&browser, "/account").await;
    assert!(account.contains("Turn on two-step sign-in"));
    let csrf = form_field(&account, "csrf_token");
    let setup = browser
        .post(app.url("/account/two-step/start"))
        .form(&[("csrf_token", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), StatusCode::OK);
    let csp = setup.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let page = setup.text().await.unwrap();
    assert!(page.contains("<svg"), "the QR code is inline SVG");
    assert!(!page.contains("<script>"), "no inline script");
    let secret = page
        .split("id=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace(' ', "");
    let wrong = browser
        .post(app.url("/account/two-step/confirm"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", &wrong_code(&secret)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let again = wrong.text().await.unwrap();
    assert!(again.contains("That code is not right"));
    assert!(
        again.contains(&secret[..4]),
        "the same secret is shown again"
    );
    let enrolled_at = now();
    let done = browser
        .post(app.url("/account/two-step/confirm"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", &code_at(&secret, enrolled_at)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let codes_page = done.text().await.unwrap();
    assert_eq!(codes_page.matches("<li><code>").count(), 10);
    assert!(codes_page.contains("download=\"imagevault-recovery-codes.txt\""));
    assert!(codes_page.contains("data-print"));
    let account = app.page(&browser, "/account").await;
    assert!(account.contains("10 of 10 recovery codes are left"));
    sign_in_with_the_code_page(&app, email, &secret, enrolled_at).await;
    app.finish().await;
}

/// A fresh browser: password, then the code page, then the gallery.
async fn sign_in_with_the_code_page(app: &TestApp, email: &str, secret: &str, enrolled_at: u64) {
    let other = browser_signing_in(app, email).await;
    let (status, page) = other.1;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("autocomplete=\"one-time-code\""));
    let mfa_token = form_field(&page, "mfa_token");
    let csrf = form_field(&page, "csrf_token");
    let bad = other
        .0
        .post(app.url("/login/code"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("mfa_token", &mfa_token),
            ("code", "12"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.text().await.unwrap().contains("role=\"alert\""));
    let ok = other
        .0
        .post(app.url("/login/code"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("mfa_token", &mfa_token),
            ("code", &code_at(secret, enrolled_at + 30)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let home = other.0.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK, "signed in");
}

/// A new browser posting the sign-in form; returns it and the answer.
async fn browser_signing_in(app: &TestApp, email: &str) -> (reqwest::Client, (StatusCode, String)) {
    let b = browser();
    let res = app.login_form(&b, email).await;
    let status = res.status();
    (b, (status, res.text().await.unwrap()))
}

both_engines!(
    enrolment_is_pending_until_a_code_confirms_it,
    a_code_signs_in_once_within_one_step_of_drift,
    recovery_codes_work_once_and_can_be_replaced,
    turning_it_off_needs_the_password_and_a_code,
    the_second_step_refuses_hostile_input,
    wrong_codes_count_towards_lockout,
    secrets_and_recovery_codes_are_not_stored_in_clear,
    browser_enrolment_and_second_page,
);
