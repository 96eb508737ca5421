//! The pages emailed links open: they never use a token on GET, need the CSRF field,
//! and complete verification and password reset for people in a browser.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use support::{Engine, PASSWORD, TestApp, browser, form_field};

/// The path of an emailed link (the test `PUBLIC_URL` is `http://app.test`).
fn path_of(link: &str) -> String {
    link.trim_start_matches("http://app.test").to_owned()
}

async fn verifying_from_the_emailed_link(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.register("yara@example.com", PASSWORD).await;
    let link = app
        .smtp
        .wait_for("yara@example.com", "/verify?token=", 1)
        .await
        .link();
    let browser = browser();
    let page = browser.get(app.url(&path_of(&link))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    // Opening the link (as a mail scanner would) changes nothing.
    assert_eq!(
        app.login("yara@example.com", PASSWORD).await.status(),
        StatusCode::FORBIDDEN
    );

    let (csrf, token) = (form_field(&html, "csrf_token"), form_field(&html, "token"));
    let forged = support::browser()
        .post(app.url("/verify"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let confirm = |csrf: String, token: String| {
        browser
            .post(app.url("/verify"))
            .form(&[("csrf_token", csrf), ("token", token)])
            .send()
    };
    let done = confirm(csrf.clone(), token.clone()).await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Email confirmed"));
    assert_eq!(
        app.login("yara@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    let again = confirm(csrf, token).await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("invalid or has expired")
    );
    app.finish().await;
}

async fn resetting_a_password_in_the_browser(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("zane@example.com").await;
    let browser = browser();
    let login_page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login_page.contains("href=\"/forgot-password\""));
    let forgot = browser
        .get(app.url("/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sent = browser
        .post(app.url("/forgot-password"))
        .form(&[
            ("csrf_token", form_field(&forgot, "csrf_token").as_str()),
            ("email", "zane@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("Check your email"));

    let link = app
        .smtp
        .wait_for("zane@example.com", "/reset-password?token=", 1)
        .await
        .link();
    let form = browser
        .get(app.url(&path_of(&link)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (csrf, token) = (form_field(&form, "csrf_token"), form_field(&form, "token"));
    let submit = |password: &'static str| {
        browser
            .post(app.url("/reset-password"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("token", token.as_str()),
                ("password", password),
            ])
            .send()
    };
    let weak = submit("short").await.unwrap();
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = weak.text().await.unwrap();
    assert!(
        html.contains("Use at least 12 characters.") && html.contains("Add a digit."),
        "{html}"
    );
    let done = submit("Brand-New-Lantern-42").await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Password changed"));
    assert_eq!(
        app.login("zane@example.com", "Brand-New-Lantern-42")
            .await
            .status(),
        StatusCode::OK
    );
    app.finish().await;
}

both_engines!(
    verifying_from_the_emailed_link,
    resetting_a_password_in_the_browser
);

#[tokio::test]
async fn hostile_link_requests_get_4xx_and_change_nothing() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let browser = browser();
    // Over-long and odd tokens in links render the form without echoing them back.
    let long = "A".repeat(5000);
    for query in [
        format!("?token={long}"),
        "?token=%3Cscript%3E".to_owned(),
        String::new(),
    ] {
        let page = browser
            .get(app.url(&format!("/verify{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(!html.contains(&long) && !html.contains("<script>"));
    }
    let csrf = form_field(
        &browser
            .get(app.url("/reset-password"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "csrf_token",
    );
    // Not a form, a form without the CSRF field, bogus tokens: all 4xx.
    let json = browser
        .post(app.url("/verify"))
        .json(&serde_json::json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    assert!(json.status().is_client_error(), "{}", json.status());
    let no_csrf = browser
        .post(app.url("/reset-password"))
        .form(&[("token", "x"), ("password", PASSWORD)]);
    assert_eq!(
        no_csrf.send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    for token in ["", "nope", long.as_str()] {
        let res = browser
            .post(app.url("/reset-password"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("token", token),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "token {token:.10}");
    }
    app.finish().await;
}
