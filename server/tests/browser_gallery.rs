//! The browser gallery over HTTP, as a browser without JavaScript uses it: the grid and
//! its empty state, the plain upload form (with its CSRF field), one image's page,
//! deletion with confirmation, registration with every failed rule shown, the account
//! page, and versioned static assets. (Real-browser journeys run in Chromium.)

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use support::images::{jpeg, png};
use support::{Engine, PASSWORD, TestApp, browser, form_field};

both_engines!(
    upload_view_and_delete_without_javascript,
    pages_refuse_forged_forms_and_other_users,
    registration_shows_every_failed_rule_then_sends_the_link,
    deleting_the_account_from_its_page,
    static_assets_are_versioned_files,
    several_files_through_the_plain_form,
    hostile_page_inputs_get_their_4xx,
);

async fn page(browser: &reqwest::Client, url: String) -> (StatusCode, String) {
    let res = browser.get(url).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn upload_form(app: &TestApp, browser: &reqwest::Client, form: Form) -> reqwest::Response {
    browser
        .post(app.url("/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn upload_view_and_delete_without_javascript(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let browser = app.signed_in_browser("gallery@example.com").await;
    let (status, home) = page(&browser, app.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains("No images yet") && home.contains("href=\"/upload\""),
        "{home}"
    );

    let (_, upload) = page(&browser, app.url("/upload")).await;
    let csrf = form_field(&upload, "csrf_token");
    assert!(upload.contains("enctype=\"multipart/form-data\""));
    assert!(upload.contains("<script src=\"/static/upload.js?v="));
    let form = Form::new().text("csrf_token", csrf.clone()).part(
        "file",
        Part::bytes(jpeg(300, 200, 1)).file_name("Beach <b>day</b>.jpg"),
    );
    let res = upload_form(&app, &browser, form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location.trim_start_matches("/images/").to_owned();

    let (status, view) = page(&browser, app.url(&location)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(view.contains(&format!("src=\"/api/v1/images/{id}/content\"")));
    assert!(view.contains("300 × 200 pixels"), "{view}");
    assert!(!view.contains("<b>day</b>"), "names are escaped");
    let content = browser
        .get(app.url(&format!("/api/v1/images/{id}/content")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        content.status(),
        StatusCode::OK,
        "the cookie opens the image"
    );

    let refused = Form::new()
        .text("csrf_token", csrf.clone())
        .part("file", Part::bytes(png(8, 8, 1)).file_name("photo.jpg"));
    let res = upload_form(&app, &browser, refused).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("role=\"alert\"") && body.contains("rename it to .png"),
        "{body}"
    );

    let (_, home) = page(&browser, app.url("/")).await;
    assert!(home.contains(&format!("href=\"/images/{id}\"")));
    assert!(home.contains("loading=\"lazy\""));

    // Without the confirmation field, deleting asks first.
    let delete = app.url(&format!("{location}/delete"));
    let res = browser
        .post(&delete)
        .form(&[("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("cannot be undone"));
    assert_eq!(
        page(&browser, app.url(&location)).await.0,
        StatusCode::OK,
        "still there"
    );
    let res = browser
        .post(&delete)
        .form(&[("csrf_token", csrf.as_str()), ("confirmed", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page(&browser, app.url(&location)).await.0,
        StatusCode::NOT_FOUND
    );

    // Signed out, the gallery sends the browser to sign in.
    browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    let res = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
    app.finish().await;
}

async fn pages_refuse_forged_forms_and_other_users(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let owner = app.signed_in_browser("owner@example.com").await;
    let other = app.signed_in_browser("other@example.com").await;
    let (_, upload) = page(&owner, app.url("/upload")).await;
    let csrf = form_field(&upload, "csrf_token");
    let file = || Part::bytes(jpeg(40, 40, 2)).file_name("a.jpg");

    // No token, a wrong token, or the token after the file: refused, nothing stored.
    for form in [
        Form::new().part("file", file()),
        Form::new()
            .text("csrf_token", "forged")
            .part("file", file()),
        Form::new()
            .part("file", file())
            .text("csrf_token", csrf.clone()),
    ] {
        let res = upload_form(&app, &owner, form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let (_, home) = page(&owner, app.url("/")).await;
    assert!(home.contains("No images yet"));

    let res = upload_form(
        &app,
        &owner,
        Form::new()
            .text("csrf_token", csrf.clone())
            .part("file", file()),
    )
    .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (status, _) = page(&other, app.url(&location)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's image page");
    let id = location.trim_start_matches("/images/");
    let res = other
        .get(app.url(&format!("/api/v1/images/{id}/content")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (_, theirs) = page(&other, app.url("/upload")).await;
    let res = other
        .post(app.url(&format!("{location}/delete")))
        .form(&[
            ("csrf_token", form_field(&theirs, "csrf_token").as_str()),
            ("confirmed", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A delete posted without the CSRF token is refused even by the owner.
    let res = owner
        .post(app.url(&format!("{location}/delete")))
        .form(&[("confirmed", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(page(&owner, app.url(&location)).await.0, StatusCode::OK);

    app.finish().await;
}

async fn registration_shows_every_failed_rule_then_sends_the_link(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = browser();
    let (_, form) = page(&browser, app.url("/register")).await;
    assert!(form.contains("id=\"password-rules\""));
    let csrf = form_field(&form, "csrf_token");
    let res = browser
        .post(app.url("/register"))
        .form(&[
            ("email", "new@example.com"),
            ("password", "short"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await.unwrap();
    for rule in ["at least 12 characters", "upper-case", "digit"] {
        assert!(body.to_lowercase().contains(rule), "{rule} missing: {body}");
    }
    assert!(
        body.contains("value=\"new@example.com\""),
        "the email is kept"
    );
    let res = browser
        .post(app.url("/register"))
        .form(&[
            ("email", "new@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Check your email"));
    app.smtp
        .wait_for("new@example.com", "/verify?token=", 1)
        .await;
    let forged = browser
        .post(app.url("/register"))
        .form(&[
            ("email", "x@example.com"),
            ("password", PASSWORD),
            ("csrf_token", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

async fn deleting_the_account_from_its_page(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let browser = app.signed_in_browser("bye@example.com").await;
    let (status, account) = page(&browser, app.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("bye@example.com"));
    let csrf = form_field(&account, "csrf_token");
    let res = browser
        .post(app.url("/account/delete"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("That password is not right.")
    );
    let res = browser
        .post(app.url("/account/delete"))
        .form(&[("csrf_token", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Account deleted"));
    assert_eq!(
        app.login("bye@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = browser.get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.finish().await;
}

async fn static_assets_are_versioned_files(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = app.signed_in_browser("assets@example.com").await;
    let (_, home) = page(&browser, app.url("/")).await;
    // Assets: versioned URLs are immutable, the script is a file (CSP has no inline).
    let css = app
        .client
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["cache-control"], "no-cache");
    let href = home
        .split("href=\"/static/app.css?v=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let css = app
        .client
        .get(app.url(&format!("/static/app.css?v={href}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        app.client
            .get(app.url("/static/..%2Fsecret.key"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        !home.contains("<script>") && !home.contains("style="),
        "no inline code"
    );
    app.finish().await;
}

async fn several_files_through_the_plain_form(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let browser = app.signed_in_browser("several@example.com").await;
    let (_, upload) = page(&browser, app.url("/upload")).await;
    let csrf = form_field(&upload, "csrf_token");
    let form = Form::new()
        .text("csrf_token", csrf)
        .part("file", Part::bytes(jpeg(50, 40, 1)).file_name("one.jpg"))
        .part(
            "file",
            Part::bytes(b"GIF89a but not really".to_vec()).file_name("two.gif"),
        )
        .part("file", Part::bytes(png(30, 20, 2)).file_name("three.png"));
    let res = upload_form(&app, &browser, form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let results = res.text().await.unwrap();
    assert_eq!(
        results.matches("data-state=\"done\"").count(),
        2,
        "{results}"
    );
    assert_eq!(
        results.matches("data-state=\"error\"").count(),
        1,
        "{results}"
    );
    assert!(results.contains("two.gif"));
    let (_, home) = page(&browser, app.url("/")).await;
    assert_eq!(home.matches("class=\"tile\"").count(), 2);
    app.finish().await;
}

async fn hostile_page_inputs_get_their_4xx(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let browser = app.signed_in_browser("hostile@example.com").await;
    for (path, status) in [
        ("/?cursor=not-a-cursor", StatusCode::BAD_REQUEST),
        ("/?cursor=%00%FF", StatusCode::BAD_REQUEST),
        ("/images/not-a-uuid", StatusCode::NOT_FOUND),
        ("/images/..%2F..%2Fkeys%2Fmaster.key", StatusCode::NOT_FOUND),
        ("/static/app.css%00.js", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(page(&browser, app.url(path)).await.0, status, "{path}");
    }
    // Page forms are URL-encoded only: a multipart body is never parsed (or spooled).
    let multipart = browser
        .post(app.url("/login"))
        .multipart(
            Form::new()
                .text("email", "x@example.com")
                .part("file", Part::bytes(vec![0; 1024])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(multipart.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A cookie request without a URL-encoded CSRF field is refused before anything else.
    let json = browser
        .post(app.url("/account/delete"))
        .json(&serde_json::json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.login("hostile@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );

    // More files than one form may carry: the first 20 are stored, the rest refused.
    let (_, upload) = page(&browser, app.url("/upload")).await;
    let mut form = Form::new().text("csrf_token", form_field(&upload, "csrf_token"));
    for n in 0..21 {
        form = form.part(
            "file",
            Part::bytes(png(8, 8, n)).file_name(format!("f{n}.png")),
        );
    }
    let res = upload_form(&app, &browser, form).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let results = res.text().await.unwrap();
    assert!(
        results.contains("Send at most 20 files at once."),
        "{results}"
    );
    assert_eq!(results.matches("data-state=\"done\"").count(), 20);
    app.finish().await;
}
