//! Passkeys over the JSON API and the browser pages, on SQLite and PostgreSQL: the
//! options the server hands out, and every way an answer can be wrong — malformed,
//! for no waiting ceremony, replayed, with a hostile name. The real ceremonies (a
//! passkey made and used by an authenticator) run in Chromium with a virtual
//! authenticator: see `chromium.rs` and `e2e/journey.mjs`.

use imagevault_test_support as support;
use support::both_engines;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Engine, PASSWORD, TestApp, error_code, form_field};

/// The owner's proof before adding a passkey (two-step sign-in is off here).
fn owner() -> Value {
    json!({"password": PASSWORD})
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    app.bearer(method, path, token, body).await
}

/// `POST /me/passkeys/register/start` with the owner's password.
async fn start_registration(app: &TestApp, token: &str) -> reqwest::Response {
    send(
        app,
        Method::POST,
        "/api/v1/me/passkeys/register/start",
        token,
        Some(owner()),
    )
    .await
}

/// Stores a passkey row for `user` straight into the database (no authenticator runs
/// here): enough for listing, removing and "whose passkey is this".
async fn insert_passkey(app: &TestApp, user: &str, credential_id: &str, name: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, created_at) \
         VALUES ($1, $2, $3, $4, '{}', 0)",
    )
    .bind(&id)
    .bind(user)
    .bind(credential_id)
    .bind(name)
    .execute(app.state.db.pool())
    .await
    .unwrap();
    id
}

/// A well-formed registration answer that no authenticator made.
fn forged_registration() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "attestationObject": URL_SAFE_NO_PAD.encode(b"not cbor"),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(b"{\"type\":\"webauthn.create\"}"),
        },
        "extensions": {}
    })
}

/// A well-formed assertion naming `user` (a UUID) that no authenticator made.
fn forged_assertion(user: &str) -> Value {
    let handle = uuid::Uuid::parse_str(user).unwrap();
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "authenticatorData": URL_SAFE_NO_PAD.encode([0u8; 37]),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(b"{\"type\":\"webauthn.get\"}"),
            "signature": URL_SAFE_NO_PAD.encode([1u8; 64]),
            "userHandle": URL_SAFE_NO_PAD.encode(handle.as_bytes()),
        },
        "extensions": {}
    })
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.me(token).await.json().await.unwrap()
}

async fn registration_options_ask_for_a_discoverable_verified_passkey(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keys@example.com").await;
    let account = me(&app, &token).await;
    assert_eq!(account["mfa"]["passkeys"], 0);

    let res = start_registration(&app, &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let options: Value = res.json().await.unwrap();
    let key = &options["publicKey"];
    assert_eq!(key["rp"]["id"], "app.test", "{options}");
    assert_eq!(key["user"]["name"], "keys@example.com");
    // The user handle is the account id: sign-in finds the account from it.
    let handle = URL_SAFE_NO_PAD
        .decode(key["user"]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        uuid::Uuid::from_slice(&handle).unwrap().to_string(),
        account["id"].as_str().unwrap()
    );
    let selection = &key["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    assert!(
        URL_SAFE_NO_PAD
            .decode(key["challenge"].as_str().unwrap())
            .unwrap()
            .len()
            >= 16
    );
    app.finish().await;
}

async fn registration_refuses_hostile_answers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keys@example.com").await;
    let finish = |body: Value| {
        send(
            &app,
            Method::POST,
            "/api/v1/me/passkeys/register/finish",
            &token,
            Some(body),
        )
    };

    // Nothing is waiting yet.
    let res = finish(json!({"credential": forged_registration(), "name": "Laptop"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_credential");

    for credential in [json!(null), json!("text"), json!({"id": 5}), json!([])] {
        start_registration(&app, &token).await;
        let res = finish(json!({"credential": credential, "name": "x"})).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{credential}");
        assert_eq!(error_code(res).await, "invalid_credential");
    }

    // A well-formed answer no authenticator made: refused, and the ceremony is spent.
    start_registration(&app, &token).await;
    let res = finish(json!({"credential": forged_registration(), "name": "Laptop"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_credential");
    let res = finish(json!({"credential": forged_registration(), "name": "Laptop"})).await;
    assert_eq!(error_code(res).await, "invalid_credential");

    // Names: too long, or with control characters.
    for name in ["x".repeat(61), "a\u{0}b".into(), "two\nlines".into()] {
        start_registration(&app, &token).await;
        let res = finish(json!({"credential": forged_registration(), "name": name})).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(error_code(res).await, "bad_request");
    }

    // Bodies that are not the documented shape.
    let res = app
        .client
        .post(app.url("/api/v1/me/passkeys/register/finish"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = finish(json!({"name": "no credential"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Nothing was stored by any of it.
    let list: Value = send(&app, Method::GET, "/api/v1/me/passkeys", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!({"items": []}));
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    app.finish().await;
}

async fn adding_a_passkey_needs_the_password_not_just_a_session(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keys@example.com").await;
    let start = |body: Option<Value>| {
        send(
            &app,
            Method::POST,
            "/api/v1/me/passkeys/register/start",
            &token,
            body,
        )
    };
    let res = start(None).await;
    assert_eq!(
        res.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no JSON body"
    );
    let res = start(Some(json!({"code": "123456"}))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "no password");
    let res = start(Some(json!({"password": "not the password"}))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_credentials");
    // Nothing waits after a refused start.
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webauthn_ceremonies")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(waiting, 0);
    // Wrong passwords here count like sign-in failures: the session's device locks.
    for _ in 0..4 {
        start(Some(json!({"password": "still not it"}))).await;
    }
    let res = start(Some(owner())).await;
    assert_eq!(
        res.status(),
        StatusCode::LOCKED,
        "locked after five failures"
    );
    app.finish().await;
}

async fn passkey_endpoints_need_a_session_and_hide_other_accounts(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keys@example.com").await;
    for (method, path) in [
        (Method::GET, "/api/v1/me/passkeys"),
        (Method::POST, "/api/v1/me/passkeys/register/start"),
        (Method::POST, "/api/v1/me/passkeys/register/finish"),
        (
            Method::DELETE,
            "/api/v1/me/passkeys/00000000-0000-4000-8000-000000000000",
        ),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    for id in [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "%00",
        &"9".repeat(300),
    ] {
        let path = format!("/api/v1/me/passkeys/{id}");
        let res = send(&app, Method::DELETE, &path, &token, None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
    }
    // Another account's passkey is the same 404 as none at all.
    let other = app.signed_up_user("other@example.com").await;
    let other_id: String = me(&app, &other).await["id"].as_str().unwrap().into();
    let id = insert_passkey(&app, &other_id, "cred", "Theirs").await;
    let path = format!("/api/v1/me/passkeys/{id}");
    let res = send(&app, Method::DELETE, &path, &token, None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(left, 1, "the other account's passkey is still there");
    assert_eq!(me(&app, &other).await["mfa"]["passkeys"], 1);
    app.finish().await;
}

async fn sign_in_options_ask_for_user_verification(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app.post_json("/api/v1/auth/passkey/start", json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let challenge_id = body["challenge_id"].as_str().unwrap();
    assert!(challenge_id.len() >= 32);
    assert_eq!(body["publicKey"]["rpId"], "app.test", "{body}");
    assert_eq!(body["publicKey"]["userVerification"], "required");
    // Discoverable: the browser offers whichever passkey it holds for the site.
    let allowed = &body["publicKey"]["allowCredentials"];
    assert!(allowed.is_null() || allowed == &json!([]), "{body}");
    // Only a hash of the challenge id is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM webauthn_ceremonies")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(challenge_id));
    app.finish().await;
}

async fn sign_in_refuses_hostile_answers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keys@example.com").await;
    let user: String = me(&app, &token).await["id"].as_str().unwrap().into();
    let start = || async {
        let res = app.post_json("/api/v1/auth/passkey/start", json!({})).await;
        let body: Value = res.json().await.unwrap();
        body["challenge_id"].as_str().unwrap().to_owned()
    };
    let finish = |body: Value| app.post_json("/api/v1/auth/passkey/finish", body);

    // Unknown, empty and oversized challenge ids.
    for challenge_id in ["", "unknown", &"x".repeat(10_000)] {
        let res =
            finish(json!({"challenge_id": challenge_id, "credential": forged_assertion(&user)}))
                .await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::PAYLOAD_TOO_LARGE].contains(&res.status()),
            "{}",
            res.status()
        );
    }
    // Not an assertion at all.
    let challenge_id = start().await;
    for credential in [json!(null), json!(1), json!({"rawId": "%%%"})] {
        let res = finish(json!({"challenge_id": challenge_id, "credential": credential})).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{credential}");
        assert_eq!(error_code(res).await, "invalid_credential");
    }
    // A forged assertion for a real account with no such passkey: 401, and the
    // challenge is spent (a second try with it is refused the same way).
    let challenge_id = start().await;
    for _ in 0..2 {
        let res =
            finish(json!({"challenge_id": challenge_id, "credential": forged_assertion(&user)}))
                .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(res).await, "invalid_credentials");
    }
    // A passkey of one account named as another's (the credential id is the other
    // account's): refused before any signature is checked.
    let other = app.signed_up_user("other@example.com").await;
    let other_id: String = me(&app, &other).await["id"].as_str().unwrap().into();
    insert_passkey(&app, &other_id, "AAAA", "Theirs").await;
    let challenge_id = start().await;
    let res =
        finish(json!({"challenge_id": challenge_id, "credential": forged_assertion(&user)})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_credentials");
    // No session was made by any of it.
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
        .bind(&user)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(sessions, 1, "only the sign-up's own session");
    app.finish().await;
}

async fn browser_passkey_sign_in_needs_the_forms_csrf_field(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keys@example.com").await;
    let user: String = me(&app, &token).await["id"].as_str().unwrap().into();
    let browser = support::browser();
    let page = browser.get(app.url("/login")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("id=\"passkey-button\""),
        "the button is on the page"
    );
    let csrf = form_field(&html, "csrf_token");
    let start: Value = app
        .post_json("/api/v1/auth/passkey/start", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let body =
        json!({"challenge_id": start["challenge_id"], "credential": forged_assertion(&user)});
    // Without the field (or with a wrong one): 403, whatever the answer.
    for field in [None, Some("wrong")] {
        let mut req = browser.post(app.url("/login/passkey")).json(&body);
        if let Some(field) = field {
            req = req.header("x-csrf-token", field);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{field:?}");
    }
    // With it, the forged answer is refused like any wrong credential, no cookie set.
    let res = browser
        .post(app.url("/login/passkey"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("set-cookie").is_none());
    app.finish().await;
}

async fn the_account_page_lists_and_removes_passkeys(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = app.signed_in_browser("keys@example.com").await;
    let page = browser.get(app.url("/account")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("You have no passkeys yet."));
    assert!(html.contains("id=\"add-passkey-form\""));
    let user: String = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let id = insert_passkey(&app, &user, "cred", "<b>Laptop</b>").await;
    let html = app.page(&browser, "/account").await;
    assert!(html.contains("Laptop"), "the passkey is listed");
    assert!(!html.contains("<b>Laptop</b>"), "its name is escaped");
    let csrf = form_field(&html, "csrf_token");
    let path = format!("/account/passkeys/{id}/delete");
    let res = browser
        .post(app.url(&path))
        .form(&[("csrf_token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser
        .post(app.url(&path))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The passkey was removed.")
    );
    // The owner is told (wait_for fails the test if no such email arrives).
    app.smtp
        .wait_for("keys@example.com", "A passkey was removed", 1)
        .await;
    let res = browser
        .post(app.url(&path))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

async fn passkeys_are_off_when_the_server_is_named_by_address(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("PUBLIC_URL", "http://127.0.0.1:8000")]).await;
    let token = app.signed_up_user("keys@example.com").await;
    let res = start_registration(&app, &token).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("domain name"),
        "{body}"
    );
    let res = app.post_json("/api/v1/auth/passkey/start", json!({})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

both_engines!(
    registration_options_ask_for_a_discoverable_verified_passkey,
    adding_a_passkey_needs_the_password_not_just_a_session,
    registration_refuses_hostile_answers,
    passkey_endpoints_need_a_session_and_hide_other_accounts,
    sign_in_options_ask_for_user_verification,
    sign_in_refuses_hostile_answers,
    browser_passkey_sign_in_needs_the_forms_csrf_field,
    the_account_page_lists_and_removes_passkeys,
    passkeys_are_off_when_the_server_is_named_by_address,
);
