//! Fair use, on both stacks (SQLite + files, PostgreSQL + S3): a user at quota stores
//! nothing more — not a row, not a blob — even when two uploads race for the last
//! bytes; deleting gives the bytes back; `GET /me` and the account page show usage; the
//! per-account upload rate answers 429 with `Retry-After`.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use serde_json::Value;
use support::images::png;
use support::{Engine, TestApp, error_code};

async fn usage(app: &TestApp, token: &str) -> Value {
    app.me(token).await.json::<Value>().await.unwrap()["usage"].clone()
}

async fn blobs(app: &TestApp) -> usize {
    app.state.store.list().await.unwrap().len()
}

async fn set_quota(app: &TestApp, email: &str, bytes: i64) {
    sqlx::query("UPDATE users SET quota_bytes = $1 WHERE email = $2")
        .bind(bytes)
        .bind(email)
        .execute(app.state.db.pool())
        .await
        .unwrap();
}

async fn a_user_at_quota_stores_nothing_more(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let email = "full@example.com";
    let token = app.signed_up_user(email).await;
    let before = usage(&app, &token).await;
    assert_eq!(before["bytes_used"], 0);
    assert_eq!(before["image_count"], 0);
    assert_eq!(before["quota_bytes"], 10_u64 << 30, "10 GiB by default");

    let photo = png(640, 480, 5);
    assert_eq!(
        app.upload(&token, "one.png", photo.clone()).await.status(),
        StatusCode::CREATED
    );
    let one = usage(&app, &token).await;
    let each = one["bytes_used"].as_i64().unwrap();
    assert!(each > i64::try_from(photo.len()).unwrap() / 2, "{one}");
    assert_eq!(one["image_count"], 1);

    // Room for exactly one more: two racing uploads, and only one fits.
    set_quota(&app, email, each * 2).await;
    let (a, b) = tokio::join!(
        app.upload(&token, "two.png", photo.clone()),
        app.upload(&token, "three.png", photo.clone())
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::INSUFFICIENT_STORAGE]
    );
    let refused = if a.status() == StatusCode::CREATED {
        b
    } else {
        a
    };
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("quota"),
        "{body}"
    );
    let full = usage(&app, &token).await;
    assert_eq!(full["bytes_used"], each * 2);
    assert_eq!(full["image_count"], 2);
    assert_eq!(
        app.listed(&token).await["items"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        blobs(&app).await,
        4,
        "no blob of the refused upload is left"
    );

    // Full: refused before the body is read, whatever it holds.
    let res = app.upload(&token, "four.png", png(8, 8, 1)).await;
    assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(error_code(res).await, "quota_exceeded");
    assert_eq!(blobs(&app).await, 4);

    // Deleting gives the bytes back; the next upload fits again.
    let listed = app.listed(&token).await;
    let id = listed["items"][0]["id"].as_str().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/images/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let after = usage(&app, &token).await;
    assert_eq!(after["bytes_used"], each);
    assert_eq!(after["image_count"], 1);
    assert_eq!(
        app.upload(&token, "five.png", photo).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(usage(&app, &token).await["bytes_used"], each * 2);
    app.finish().await;
}

async fn the_account_page_shows_storage(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = app.signed_in_browser("bar@example.com").await;
    set_quota(&app, "bar@example.com", 2 * 1024 * 1024).await;
    let html = app.page(&browser, "/account").await;
    assert!(html.contains("0 bytes of 2 MiB"), "the usage line");
    assert!(html.contains("id=\"storage-meter\""));
    app.finish().await;
}

async fn the_upload_rate_per_account_is_limited(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("UPLOAD_RATE_PER_MINUTE", "3")]).await;
    let token = app.signed_up_user("rate@example.com").await;
    for i in 0..3 {
        let res = app.upload(&token, "ok.png", png(16, 16, i)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app.upload(&token, "fourth.png", png(16, 16, 9)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res).await, "rate_limited");
    // Another account is not slowed by it.
    let other = app.signed_up_user("other@example.com").await;
    let res = app.upload(&other, "mine.png", png(16, 16, 1)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.finish().await;
}

#[test]
fn quota_and_rate_settings_are_checked() {
    let config = |name: &str, value: &str| {
        imagevault_server::config::Config::from_lookup(|k| {
            (k == name)
                .then(|| value.to_owned())
                .or_else(|| (k == "DEBUG").then(|| "True".into()))
        })
    };
    assert_eq!(
        config("DEFAULT_QUOTA_BYTES", "1048576")
            .unwrap()
            .default_quota_bytes,
        1_048_576
    );
    assert_eq!(
        config("UPLOAD_RATE_PER_MINUTE", "7")
            .unwrap()
            .upload_rate_per_minute,
        7
    );
    for (name, bad) in [
        ("DEFAULT_QUOTA_BYTES", "-1"),
        ("DEFAULT_QUOTA_BYTES", "10GB"),
        ("DEFAULT_QUOTA_BYTES", "99999999999999999999"),
        ("UPLOAD_RATE_PER_MINUTE", "0"),
        ("UPLOAD_RATE_PER_MINUTE", "many"),
    ] {
        let err = config(name, bad).unwrap_err().to_string();
        assert!(err.contains(name), "{name}={bad:?}: {err}");
    }
}

both_engines!(
    a_user_at_quota_stores_nothing_more,
    the_account_page_shows_storage,
    the_upload_rate_per_account_is_limited,
);
