//! Browser sessions: cookie attributes and CSRF on every state-changing form and on
//! cookie-authenticated API calls.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use support::{Engine, PASSWORD, TestApp, browser, form_field};

async fn login_form(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = browser.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let set_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    form_field(&page.text().await.unwrap(), "csrf_token")
}

async fn sign_in(app: &TestApp, browser: &reqwest::Client, email: &str) -> reqwest::Response {
    let csrf = login_form(app, browser).await;
    browser
        .post(app.url("/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

async fn sign_in_sets_a_strict_session_cookie(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("pia@example.com").await;
    let browser = browser();
    let res = sign_in(&app, &browser, "pia@example.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
    // Two cookies, in no set order: the session's and the device's.
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let named = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
            .clone()
    };
    let device = named("imagevault_device=");
    assert!(
        device.contains("HttpOnly") && device.contains("Path=/"),
        "{device}"
    );
    let cookie = named("imagevault_session=");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP loopback development has no Secure"
    );
    let home = browser.get(app.url("/")).send().await.unwrap();
    assert!(
        home.text()
            .await
            .unwrap()
            .contains("Signed in as <strong>pia@example.com</strong>")
    );
    // The API accepts the cookie for reads.
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.finish().await;
}

async fn login_form_without_or_with_a_wrong_csrf_token_is_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("quinn@example.com").await;
    let browser = browser();
    let csrf = login_form(&app, &browser).await;
    let forged = format!("{}x", &csrf[..csrf.len() - 1]);
    for fields in [
        vec![("email", "quinn@example.com"), ("password", PASSWORD)],
        vec![
            ("email", "quinn@example.com"),
            ("password", PASSWORD),
            ("csrf_token", forged.as_str()),
        ],
    ] {
        let res = browser
            .post(app.url("/login"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().get("set-cookie").is_none());
    }
    // A token from another browser's cookie does not transfer.
    let other = support::browser();
    let res = other
        .post(app.url("/login"))
        .form(&[
            ("email", "quinn@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

async fn wrong_password_in_the_form_shows_the_reason(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("rosa@example.com").await;
    let browser = browser();
    let csrf = login_form(&app, &browser).await;
    let res = browser
        .post(app.url("/login"))
        .form(&[
            ("email", "rosa@example.com\"><script>"),
            ("password", "nope"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.unwrap();
    assert!(html.contains("The email or password is wrong."));
    assert!(!html.contains("<script>"), "user input is escaped");
    app.finish().await;
}

async fn sign_out_needs_the_session_csrf_token(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("sam@example.com").await;
    let browser = browser();
    sign_in(&app, &browser, "sam@example.com").await;
    let home = browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form_field(&home, "csrf_token");

    let missing = browser
        .post(app.url("/logout"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    // Cookie-authenticated API calls need it too (as a header); reads do not.
    let api = browser
        .post(app.url("/api/v1/auth/logout-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let ok = browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/login");
    let cleared = ok.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("imagevault_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // Thumbnails a browser kept (`private, no-cache`) go with the session.
    assert_eq!(ok.headers()["clear-site-data"], "\"cache\"");
    let after = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "signed out: home redirects to login"
    );
    app.finish().await;
}

async fn cookie_api_calls_with_the_csrf_header_succeed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("tia@example.com").await;
    let browser = browser();
    sign_in(&app, &browser, "tia@example.com").await;
    let csrf = form_field(
        &browser
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "csrf_token",
    );
    let res = browser
        .post(app.url("/api/v1/auth/logout-all"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.finish().await;
}

both_engines!(
    sign_in_sets_a_strict_session_cookie,
    login_form_without_or_with_a_wrong_csrf_token_is_refused,
    wrong_password_in_the_form_shows_the_reason,
    sign_out_needs_the_session_csrf_token,
    cookie_api_calls_with_the_csrf_header_succeed,
);
