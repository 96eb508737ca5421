//! Devices and sessions, on SQLite and PostgreSQL: a stranger cannot keep the owner out
//! (known devices, the emailed link past a lock), and the owner can see and end every
//! session, with idle and absolute lifetimes.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Engine, PASSWORD, TestApp, browser, error_code, form_field};

/// Client addresses come from `X-Forwarded-For`, as behind the TLS proxy of a real
/// deployment, so one test can be several people in several places.
const BEHIND_PROXY: &[(&str, &str)] = &[
    ("BEHIND_TLS_PROXY", "True"),
    ("TRUSTED_PROXIES", "127.0.0.1"),
];

async fn login_from(app: &TestApp, ip: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn sql(app: &TestApp, statement: &'static str) {
    sqlx::query(statement)
        .execute(app.state.db.pool())
        .await
        .unwrap();
}

async fn a_stranger_cannot_keep_the_owner_out(engine: Engine) {
    // Everyone here shares one address, as people behind one router do: the stranger
    // could even be on the owner's own network.
    let app = TestApp::spawn(engine).await;
    let email = "olga@example.com";
    app.signed_up_user(email).await;
    // The owner's desktop signs in and keeps its device token.
    let res = app.login(email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let device_token = res.json::<Value>().await.unwrap()["device_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A stranger fails fifty times.
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(app.login(email, "Guess-Guess-123!").await.status());
    }
    let refused = |s: &StatusCode| {
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::LOCKED,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(s)
    };
    assert!(statuses.iter().all(refused), "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        5,
        "five guesses, then the lock: {statuses:?}"
    );
    // Even the right password does not get the stranger's device in.
    let res = app.login(email, PASSWORD).await;
    assert!([StatusCode::LOCKED, StatusCode::TOO_MANY_REQUESTS].contains(&res.status()));

    // The owner's known device signs in at once.
    let known = json!({"email": email, "password": PASSWORD, "device_token": device_token});
    let res = app.post_json("/api/v1/auth/login", known.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["device_token"],
        device_token.as_str(),
        "the same device"
    );
    // A forged or foreign device token is just an unknown device.
    for forged in [
        format!("{device_token}x"),
        "00000000-0000-0000-0000-000000000000.AAAA".into(),
        String::new(),
        "x".repeat(5000),
    ] {
        let body = json!({"email": email, "password": PASSWORD, "device_token": forged});
        let res = app.post_json("/api/v1/auth/login", body).await;
        assert!([StatusCode::LOCKED, StatusCode::TOO_MANY_REQUESTS].contains(&res.status()));
    }

    // A new browser of the owner's gets in through the emailed link.
    let mail = app.smtp.wait_for(email, "/unlock?token=", 1).await;
    assert!(mail.data.contains("was locked"));
    let owner = browser();
    let page = owner
        .get(app.url(&format!("/unlock?token={}", mail.token())))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let (csrf, token) = (form_field(&page, "csrf_token"), form_field(&page, "token"));
    let unlock = |token: String| {
        owner
            .post(app.url("/unlock"))
            .form(&[("csrf_token", csrf.clone()), ("token", token)])
            .send()
    };
    let unlocked = unlock(token.clone()).await.unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert!(
        unlocked
            .text()
            .await
            .unwrap()
            .contains("value=\"olga@example.com\"")
    );
    let signed_in = owner
        .post(app.url("/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "signed in past the lock"
    );
    // The link works once; a forged one not at all.
    for token in [token, "forged".into(), "x".repeat(1000)] {
        assert_eq!(
            unlock(token).await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );
    }
    app.finish().await;
}

async fn a_known_device_that_fails_locks_only_itself(engine: Engine) {
    let app = TestApp::spawn_with(engine, BEHIND_PROXY).await;
    let email = "pia@example.com";
    app.signed_up_user(email).await;
    let device = |res: Value| res["device_token"].as_str().unwrap().to_owned();
    let ok = json!({"email": email, "password": PASSWORD});
    let laptop = device(
        login_from(&app, "198.51.100.1", ok.clone())
            .await
            .json()
            .await
            .unwrap(),
    );
    let phone = device(
        login_from(&app, "198.51.100.2", ok.clone())
            .await
            .json()
            .await
            .unwrap(),
    );
    assert_ne!(laptop, phone);
    for _ in 0..5 {
        let wrong = json!({"email": email, "password": "Nope-Nope-123!", "device_token": laptop});
        assert_eq!(
            login_from(&app, "198.51.100.1", wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login_from(
        &app,
        "198.51.100.1",
        json!({"email": email, "password": PASSWORD, "device_token": laptop}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::LOCKED);
    assert!(res.headers().contains_key("retry-after"));
    let res = login_from(
        &app,
        "198.51.100.2",
        json!({"email": email, "password": PASSWORD, "device_token": phone}),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the other device is not locked"
    );
    assert_eq!(
        login_from(&app, "198.51.100.3", ok).await.status(),
        StatusCode::OK,
        "nor unknown ones"
    );
    app.finish().await;
}

async fn failures_are_counted_per_address_too(engine: Engine) {
    let app = TestApp::spawn_with(engine, BEHIND_PROXY).await;
    app.signed_up_user("quinn@example.com").await;
    // One address guessing at many accounts (four tries each, never locking any).
    for n in 0..5 {
        for _ in 0..4 {
            let body =
                json!({"email": format!("victim{n}@example.com"), "password": "Guess-Guess-123!"});
            assert_eq!(
                login_from(&app, "203.0.113.9", body).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
    }
    // Twenty failures: that address is locked out of sign-in from unknown devices…
    let res = login_from(
        &app,
        "203.0.113.9",
        json!({"email": "quinn@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::LOCKED);
    assert_eq!(error_code(res).await, "account_locked");
    // …and nobody else is.
    let res = login_from(
        &app,
        "203.0.113.10",
        json!({"email": "quinn@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.finish().await;
}

/// The sessions of a user with three: sign-up's, a desktop's and a browser's (signed in
/// twice). Returns sign-up's token, the desktop's, the browser, and the list as the
/// desktop sees it.
async fn three_sessions(
    app: &TestApp,
    email: &str,
) -> (String, String, reqwest::Client, Vec<Value>) {
    let first = app.signed_up_user(email).await;
    let desktop: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", "ImageVault-Desktop/0.1 (Linux)")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let desktop = desktop["token"].as_str().unwrap().to_owned();
    let page = browser();
    let csrf = form_field(&app.page(&page, "/login").await, "csrf_token");
    let sign_in = |b: reqwest::Client, csrf: String| {
        let url = app.url("/login");
        async move {
            b.post(url)
                .header(
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                )
                .form(&[
                    ("email", email),
                    ("password", PASSWORD),
                    ("csrf_token", &csrf),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        sign_in(page.clone(), csrf.clone()).await,
        StatusCode::SEE_OTHER
    );
    // Signing in again in the same browser replaces its session.
    assert_eq!(
        sign_in(page.clone(), csrf.clone()).await,
        StatusCode::SEE_OTHER
    );

    let res = app
        .bearer(reqwest::Method::GET, "/api/v1/me/sessions", &desktop, None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let items = res.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        items.len(),
        3,
        "sign-up's, the desktop's and one browser's: {items:#?}"
    );
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["kind"], "api");
    assert_eq!(current[0]["user_agent"], "ImageVault-Desktop/0.1 (Linux)");
    assert_eq!(current[0]["address_hint"], "127.0.0.x");
    let browser_session = items.iter().find(|s| s["kind"] == "browser").unwrap();
    assert!(
        browser_session["user_agent"]
            .as_str()
            .unwrap()
            .contains("Firefox")
    );
    for field in ["created_at", "last_seen_at"] {
        assert!(browser_session[field].as_str().unwrap().ends_with('Z'));
    }
    (first, desktop, page, items)
}

async fn sessions_are_listed_and_ended_at_once_everywhere(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (first, desktop, page, items) = three_sessions(&app, "rita@example.com").await;
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    let browser_session = items.iter().find(|s| s["kind"] == "browser").unwrap();

    // Ending the browser's session signs it out at once, on another instance too.
    let (other, other_handle) = app.sibling().await;
    let id = browser_session["id"].as_str().unwrap();
    let res = app
        .bearer(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/sessions/{id}"),
            &desktop,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let home = page.get(format!("http://{other}/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER, "back to sign-in");
    let first_id = items
        .iter()
        .find(|s| s["current"] == false && s["kind"] == "api")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.bearer(
        reqwest::Method::DELETE,
        &format!("/api/v1/me/sessions/{first_id}"),
        &desktop,
        None,
    )
    .await;
    let res = app
        .client
        .get(format!("http://{other}/api/v1/me"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    other_handle.stop_forceful();

    // Someone else's session, an ended one, or garbage: 404, and nothing changes.
    let stranger = app.signed_up_user("sid@example.com").await;
    let res = app
        .bearer(reqwest::Method::GET, "/api/v1/me/sessions", &stranger, None)
        .await;
    let theirs = res.json::<Value>().await.unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/api/v1/me/sessions/{theirs}"),
        format!("/api/v1/me/sessions/{id}"),
        "/api/v1/me/sessions/not-a-uuid".into(),
        format!("/api/v1/me/sessions/{}", "9".repeat(300)),
    ] {
        let res = app
            .bearer(reqwest::Method::DELETE, &path, &desktop, None)
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(res).await, "not_found");
    }
    assert_eq!(app.me(&stranger).await.status(), StatusCode::OK);
    // Ending the current session is signing out.
    let me_id = current[0]["id"].as_str().unwrap();
    let res = app
        .bearer(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/sessions/{me_id}"),
            &desktop,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&desktop).await.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn sessions_end_when_idle_or_old(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        &[("SESSION_IDLE_DAYS", "2"), ("SESSION_MAX_DAYS", "30")],
    )
    .await;
    let token = app.signed_up_user("tom@example.com").await;
    let res = app.login("tom@example.com", PASSWORD).await;
    let body: Value = res.json().await.unwrap();
    let expires = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!((29..=30).contains(&days), "the absolute lifetime: {days}");
    let other = body["token"].as_str().unwrap().to_owned();

    // Used a minute ago: the use is recorded again (at most once a minute).
    sql(
        &app,
        "UPDATE sessions SET last_seen_at = last_seen_at - 120",
    )
    .await;
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
    let fresh: i64 = sqlx::query_scalar("SELECT MAX(last_seen_at) FROM sessions")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert!(fresh >= time::OffsetDateTime::now_utc().unix_timestamp() - 5);

    // Unused for longer than SESSION_IDLE_DAYS: over.
    sql(
        &app,
        "UPDATE sessions SET last_seen_at = last_seen_at - 3 * 86400",
    )
    .await;
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);
    // Past its absolute expiry, however busy: over.
    let res = app.login("tom@example.com", PASSWORD).await;
    let busy = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    sql(&app, "UPDATE sessions SET expires_at = 1").await;
    assert_eq!(app.me(&busy).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&other).await.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

/// The account page lists the sessions and ends any one of them.
async fn the_account_page_lists_and_ends_sessions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "uma@example.com";
    let page = app.signed_in_browser(email).await;
    let account = app.page(&page, "/account").await;
    assert!(account.contains("Where you are signed in"));
    assert!(account.contains("(this device)"));
    assert_eq!(
        account.matches("/revoke\"").count(),
        2,
        "sign-up's API session and this browser"
    );
    let csrf = form_field(&account, "csrf_token");
    let api_id = account
        .split("<tr>")
        .filter(|row| row.contains("/revoke\"") && !row.contains("(this device)"))
        .map(|row| {
            row.split("action=\"/account/sessions/")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .next()
        .unwrap();
    let res = page
        .post(app.url(&format!("/account/sessions/{api_id}/revoke")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let after = res.text().await.unwrap();
    assert!(after.contains("That session has ended."));
    assert_eq!(after.matches("/revoke\"").count(), 1);
    // Without the CSRF field: refused.
    let res = page
        .post(app.url(&format!("/account/sessions/{api_id}/revoke")))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

both_engines!(
    a_stranger_cannot_keep_the_owner_out,
    a_known_device_that_fails_locks_only_itself,
    failures_are_counted_per_address_too,
    sessions_are_listed_and_ended_at_once_everywhere,
    sessions_end_when_idle_or_old,
    the_account_page_lists_and_ends_sessions,
);
