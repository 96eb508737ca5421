//! `/api/v1/password-policy`: the rules as the server applies them, and a live check
//! that answers every hostile body with its 4xx and floods with 429.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Engine, PASSWORD, TestApp, error_code};

const CHECK: &str = "/api/v1/password-policy/check";

async fn failed(app: &TestApp, password: &str, email: &str) -> Vec<String> {
    let res = app
        .post_json(CHECK, json!({"password": password, "email": email}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["failed_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_policy_and_the_check_agree_with_registration(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let policy: Value = app
        .client
        .get(app.url("/api/v1/password-policy"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(policy["min_chars"], 12);
    assert_eq!(policy["max_chars"], 128);
    assert_eq!(policy["rules"].as_array().unwrap().len(), 8);

    assert!(failed(&app, PASSWORD, "ann@example.com").await.is_empty());
    assert_eq!(
        failed(&app, "password", "").await,
        [
            "too_short",
            "no_uppercase",
            "no_digit",
            "no_special",
            "too_common"
        ]
    );
    let with_address = failed(&app, "Ann.Smith@Example.com-42", "ann.smith@example.com").await;
    assert!(
        with_address.contains(&"contains_email".to_owned()),
        "{with_address:?}"
    );
    // A half-typed address checks every other rule and never flags the address.
    assert!(failed(&app, PASSWORD, "ann.sm").await.is_empty());
    assert!(
        failed(&app, "Nobody-Knows-42-Lantern", "x@")
            .await
            .is_empty()
    );
    // What the check passes, registration accepts.
    let res = app.register("ann@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.finish().await;
}

async fn hostile_checks_get_their_4xx(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url(CHECK))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let json_type = "application/json";
    let not_json = post(b"password=x".to_vec(), "application/x-www-form-urlencoded");
    assert_eq!(
        not_json.await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for bad in [
        &b"{"[..],
        b"[]",
        b"{\"password\": 5}",
        b"{\"email\": \"a@b.c\"}",
        b"\xff\xfe",
    ] {
        let res = post(bad.to_vec(), json_type).await.unwrap();
        assert_eq!(error_code(res).await, "bad_request", "{bad:?}");
    }
    let huge = format!("{{\"password\": \"{}\"}}", "A".repeat(64 * 1024));
    let res = post(huge.into_bytes(), json_type).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The longest body accepted is cut short by the length rule, not estimated.
    let long = "Aa1!".repeat(3000);
    assert!(
        failed(&app, &long, "")
            .await
            .contains(&"too_long".to_owned())
    );
    let control = failed(&app, "\u{0}\u{202e}\u{feff}", "\u{0}@\u{202e}").await;
    assert!(control.contains(&"too_short".to_owned()), "{control:?}");
    app.finish().await;
}

async fn floods_of_checks_are_rate_limited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut statuses = Vec::new();
    for _ in 0..121 {
        let res = app
            .post_json(CHECK, json!({"password": "x", "email": ""}))
            .await;
        statuses.push(res.status());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
            assert_eq!(error_code(res).await, "rate_limited");
        }
    }
    assert!(statuses[..120].iter().all(|s| *s == StatusCode::OK));
    assert_eq!(statuses[120], StatusCode::TOO_MANY_REQUESTS);
    app.finish().await;
}

both_engines!(
    the_policy_and_the_check_agree_with_registration,
    hostile_checks_get_their_4xx,
    floods_of_checks_are_rate_limited,
);
