//! Single sign-on (OpenID Connect) against a real OpenID Provider — `oidc-provider` from
//! npm, run by Node on loopback (`e2e/oidc-provider.mjs`) — on both stacks: the
//! browser's flow through the provider's own login and consent pages, `state` forged,
//! replayed or carried to another browser, ID tokens tampered with, expired or for
//! another audience, unverified emails, linking an existing account only after its
//! password, a changed email at the provider, local two-step sign-in, and a native
//! app's loopback flow with the code exchanged at the API.

use imagevault_test_support as support;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::oidc::{Consent, OidcProvider, Person};
use support::{Engine, PASSWORD, TestApp, both_engines, browser, error_code, form_field};

both_engines!(
    a_new_person_signs_in_from_the_button_and_gets_an_account,
    a_forged_replayed_or_carried_state_signs_nobody_in,
    bad_id_tokens_and_unverified_emails_are_refused,
    an_existing_account_links_only_after_its_password,
    a_changed_email_at_the_provider_keeps_the_account,
    local_two_step_applies_unless_the_provider_did_mfa,
    a_native_app_exchanges_its_loopback_code,
    hostile_exchange_and_start_input_gets_4xx,
    hostile_callback_link_and_unlink_input_gets_4xx,
    the_last_way_in_cannot_be_unlinked,
);

/// Runs a browser's sign-in as `who` from the server's start to the provider's
/// redirect back; returns that redirect (the server's callback URL, not yet opened).
async fn at_provider(
    app: &TestApp,
    provider: &OidcProvider,
    browser: &reqwest::Client,
    who: &str,
    consent: Consent,
) -> String {
    provider
        .authorize(
            browser,
            &app.url("/auth/oidc/start"),
            who,
            consent,
            &app.url("/auth/oidc/callback"),
        )
        .await
}

/// A whole browser sign-in as `who`: the server's answer to the callback.
async fn sso_sign_in(
    app: &TestApp,
    provider: &OidcProvider,
    browser: &reqwest::Client,
    who: &str,
) -> (StatusCode, String) {
    let callback = at_provider(app, provider, browser, who, Consent::Allow).await;
    let res = browser.get(callback).send().await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// Whether `browser` holds a session: the gallery, not a redirect to sign-in.
async fn signed_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    let res = browser.get(app.url("/account")).send().await.unwrap();
    res.status() == StatusCode::OK
}

/// How many audit rows of `kind` the server wrote.
async fn audited(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE kind = $1")
        .bind(kind)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn a_new_person_signs_in_from_the_button_and_gets_an_account(engine: Engine) {
    let provider = OidcProvider::start(&[Person::verified("alice", "Alice@Example.com")]);
    let app = provider
        .app(engine, &[("OIDC_BUTTON_TEXT", "Sign in with Example SSO")])
        .await;
    let alice = browser();
    let login = app.page(&alice, "/login").await;
    assert!(login.contains("href=\"/auth/oidc/start\""), "{login}");
    assert!(login.contains("Sign in with Example SSO"));
    let info: Value = app
        .client
        .get(app.url("/api/v1/auth/oidc"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["button_text"], "Sign in with Example SSO");

    let (status, location) = sso_sign_in(&app, &provider, &alice, "alice").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert!(signed_in(&app, &alice).await);
    let account = app.page(&alice, "/account").await;
    assert!(account.contains("alice@example.com"), "normalised email");
    assert!(account.contains(&provider.issuer), "the link is listed");
    assert!(account.contains("Single sign-on"));
    assert_eq!(user_count(&app).await, 1);
    assert_eq!(audited(&app, "registered").await, 1);
    assert_eq!(audited(&app, "sso_linked").await, 1);
    assert_eq!(audited(&app, "sign_in").await, 1);

    // A second sign-in (a new browser, the provider asks again) finds the same account.
    let again = browser();
    let (status, _) = sso_sign_in(&app, &provider, &again, "alice").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(user_count(&app).await, 1);

    // Denied consent at the provider: a sentence on the sign-in page, no session.
    let denied = browser();
    let callback = at_provider(&app, &provider, &denied, "alice", Consent::Deny).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let res = denied.get(callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("You did not allow ImageVault"), "{page}");
    assert!(!signed_in(&app, &denied).await);

    // Without OIDC_AUTO_REGISTER a new person gets no account.
    let closed = provider
        .app(engine, &[("OIDC_AUTO_REGISTER", "False")])
        .await;
    let stranger = browser();
    let callback = at_provider(&closed, &provider, &stranger, "alice", Consent::Allow).await;
    let res = stranger.get(callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("does not make accounts"));
    assert_eq!(user_count(&closed).await, 0);
    closed.finish().await;

    // A server without a provider offers none of it.
    let plain = TestApp::spawn(engine).await;
    assert!(
        !plain
            .page(&browser(), "/login")
            .await
            .contains("/auth/oidc/start")
    );
    for path in [
        "/auth/oidc/start",
        "/auth/oidc/callback?state=x&code=y",
        "/api/v1/auth/oidc",
    ] {
        let res = plain.client.get(plain.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = plain
        .post_json("/api/v1/auth/oidc/exchange", json!({"code": "x"}))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    plain.finish().await;
    app.finish().await;
}

async fn a_forged_replayed_or_carried_state_signs_nobody_in(engine: Engine) {
    let provider = OidcProvider::start(&[Person::verified("alice", "alice@example.com")]);
    let app = provider.app(engine, &[]).await;

    // A state the server never issued.
    let forger = browser();
    for query in ["state=forged&code=abc", "code=abc", "state=&code=abc"] {
        let res = forger
            .get(app.url(&format!("/auth/oidc/callback?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(res.text().await.unwrap().contains("no longer valid"));
    }
    let long = "s".repeat(10_000);
    let res = forger
        .get(app.url(&format!("/auth/oidc/callback?state={long}&code=abc")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Login CSRF: the attacker's own finished sign-in, opened in the victim's browser.
    let attacker = browser();
    let victim = browser();
    let callback = at_provider(&app, &provider, &attacker, "alice", Consent::Allow).await;
    let res = victim.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!signed_in(&app, &victim).await);
    // ...and the state is spent: not even the browser that started it can use it now.
    let res = attacker.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!signed_in(&app, &attacker).await);

    // A replay of a sign-in that worked.
    let alice = browser();
    let callback = at_provider(&app, &provider, &alice, "alice", Consent::Allow).await;
    let res = alice.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let replayer = browser();
    let res = replayer.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!signed_in(&app, &replayer).await);
    assert_eq!(audited(&app, "sign_in").await, 1);
    assert_eq!(audited(&app, "sso_refused").await, 7);
    app.finish().await;
}

async fn bad_id_tokens_and_unverified_emails_are_refused(engine: Engine) {
    let unverified = Person {
        verified: false,
        ..Person::verified("uma", "uma@example.com")
    };
    let provider =
        OidcProvider::start(&[Person::verified("alice", "alice@example.com"), unverified]);
    let app = provider.app(engine, &[]).await;
    for word in [
        "bad_signature",
        "wrong_audience",
        "expired",
        "wrong_nonce",
        "wrong_issuer",
        "email_unverified",
    ] {
        provider.tamper(word);
        let browser = browser();
        let (status, page) = sso_sign_in(&app, &provider, &browser, "alice").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{word}: {page}");
        let expected = if word == "email_unverified" {
            "has not confirmed your email"
        } else {
            "could not be verified"
        };
        assert!(page.contains(expected), "{word}: {page}");
        assert!(!signed_in(&app, &browser).await, "{word}");
    }
    let uma = browser();
    let (status, page) = sso_sign_in(&app, &provider, &uma, "uma").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("has not confirmed your email"));
    assert_eq!(user_count(&app).await, 0, "no account for any of them");
    assert_eq!(audited(&app, "sso_refused").await, 7);

    // The provider is fine again: the same person signs in.
    let alice = browser();
    let (status, _) = sso_sign_in(&app, &provider, &alice, "alice").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    app.finish().await;
}

/// The link page's form, posted with `password` (and `code`).
async fn post_link(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    password: &str,
    code: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/auth/oidc/link"))
        .form(&[
            ("csrf_token", form_field(page, "csrf_token").as_str()),
            ("link_token", &form_field(page, "link_token")),
            ("email", &form_field(page, "email")),
            ("password", password),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
}

async fn an_existing_account_links_only_after_its_password(engine: Engine) {
    let provider = OidcProvider::start(&[Person::verified("bob-at-idp", "bob@example.com")]);
    let app = provider.app(engine, &[]).await;
    support::create_verified_user(&app.state, "bob@example.com").await;
    let bob = browser();
    let (status, page) = sso_sign_in(&app, &provider, &bob, "bob-at-idp").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Link your ImageVault account"), "{page}");
    assert!(page.contains("bob@example.com"));
    assert!(!signed_in(&app, &bob).await, "not before the password");

    let res = post_link(&app, &bob, &page, "Wrong-Password-123!", "").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("wrong"));
    assert!(!signed_in(&app, &bob).await);
    assert_eq!(audited(&app, "sso_linked").await, 0);

    let res = post_link(&app, &bob, &page, PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &bob).await);
    assert_eq!(audited(&app, "sso_linked").await, 1);
    // The link token is spent.
    let res = post_link(&app, &bob, &page, PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // From now on the provider alone signs Bob in, in any browser.
    let elsewhere = browser();
    let (status, _) = sso_sign_in(&app, &provider, &elsewhere, "bob-at-idp").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &elsewhere).await);
    assert_eq!(user_count(&app).await, 1);
    app.finish().await;
}

async fn a_changed_email_at_the_provider_keeps_the_account(engine: Engine) {
    let provider = OidcProvider::start(&[Person::verified("carol", "carol@example.com")]);
    let app = provider.app(engine, &[]).await;
    let (status, _) = sso_sign_in(&app, &provider, &browser(), "carol").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    provider.set_people(&[Person::verified("carol", "carol.new@example.com")]);
    let carol = browser();
    let (status, _) = sso_sign_in(&app, &provider, &carol, "carol").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let account = app.page(&carol, "/account").await;
    assert!(
        account.contains("carol@example.com"),
        "the account keeps its email"
    );
    assert!(
        account.contains("carol.new@example.com"),
        "the link shows the new one"
    );
    assert_eq!(user_count(&app).await, 1, "no second account");

    // Someone else taking over the old address at the provider is someone else.
    provider.set_people(&[
        Person::verified("carol", "carol.new@example.com"),
        Person::verified("mallory", "carol@example.com"),
    ]);
    let mallory = browser();
    let (status, page) = sso_sign_in(&app, &provider, &mallory, "mallory").await;
    assert_eq!(status, StatusCode::OK, "asked for Carol's password");
    assert!(page.contains("Link your ImageVault account"));
    assert!(!signed_in(&app, &mallory).await);
    app.finish().await;
}

/// Turns two-step sign-in on for `email` (through the API); its recovery codes.
async fn two_step_on(app: &TestApp, email: &str) -> Vec<String> {
    let token = app.bearer_token(email).await;
    let res = app
        .bearer(
            reqwest::Method::POST,
            "/api/v1/me/mfa/totp",
            &token,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    let secret = res.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let res = app
        .bearer(
            reqwest::Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            &token,
            Some(json!({"code": support::totp_code(&secret, now)})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

async fn local_two_step_applies_unless_the_provider_did_mfa(engine: Engine) {
    let with_mfa: &[&str] = &["pwd", "otp"];
    let provider = OidcProvider::start(&[Person::verified("dave", "dave@example.com")]);
    let app = provider.app(engine, &[]).await;
    support::create_verified_user(&app.state, "dave@example.com").await;
    let codes = two_step_on(&app, "dave@example.com").await;

    // Linking asks for the password and a code.
    let dave = browser();
    let (status, page) = sso_sign_in(&app, &provider, &dave, "dave").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"code\""), "the code is asked: {page}");
    let res = post_link(&app, &dave, &page, PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "no code");
    let (_, page) = sso_sign_in(&app, &provider, &dave, "dave").await;
    let res = post_link(&app, &dave, &page, PASSWORD, &codes[0]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Later sign-ins through the provider still ask for the code...
    let later = browser();
    let (status, page) = sso_sign_in(&app, &provider, &later, "dave").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Two-step sign-in"), "{page}");
    assert!(!signed_in(&app, &later).await);
    let res = later
        .post(app.url("/login/code"))
        .form(&[
            ("csrf_token", form_field(&page, "csrf_token").as_str()),
            ("mfa_token", &form_field(&page, "mfa_token")),
            ("code", &codes[1]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &later).await);

    // ...unless the provider says it asked for a second factor itself.
    provider.set_people(&[Person {
        amr: Some(with_mfa),
        ..Person::verified("dave", "dave@example.com")
    }]);
    let trusted = browser();
    let (status, _) = sso_sign_in(&app, &provider, &trusted, "dave").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(signed_in(&app, &trusted).await);
    app.finish().await;
}

/// A native app's PKCE pair and loopback redirect.
struct Native {
    verifier: String,
    challenge: String,
    redirect: String,
}

impl Native {
    fn new() -> Self {
        let verifier = format!("{}-verifier-0123456789abcdef", uuid::Uuid::new_v4());
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&verifier));
        Self {
            verifier,
            challenge,
            redirect: "http://127.0.0.1:49152/callback".into(),
        }
    }

    fn start(&self, app: &TestApp, state: &str) -> String {
        let mut url = url::Url::parse(&app.url("/auth/oidc/start")).unwrap();
        url.query_pairs_mut()
            .append_pair("redirect_uri", &self.redirect)
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state);
        url.into()
    }

    /// The app's round trip through the system browser: the code its loopback gets.
    async fn code(&self, app: &TestApp, provider: &OidcProvider, who: &str) -> String {
        let at = provider
            .authorize(
                &browser(),
                &self.start(app, "app-state-1"),
                who,
                Consent::Allow,
                &self.redirect,
            )
            .await;
        let url = url::Url::parse(&at).unwrap();
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(
            query["state"], "app-state-1",
            "the app's own state comes back"
        );
        query["code"].clone()
    }

    async fn exchange(&self, app: &TestApp, code: &str) -> reqwest::Response {
        app.post_json(
            "/api/v1/auth/oidc/exchange",
            json!({"code": code, "code_verifier": self.verifier, "redirect_uri": self.redirect}),
        )
        .await
    }
}

async fn a_native_app_exchanges_its_loopback_code(engine: Engine) {
    let provider = OidcProvider::start(&[
        Person::verified("erin", "erin@example.com"),
        Person::verified("frank", "frank@example.com"),
    ]);
    let app = provider.app(engine, &[]).await;
    let native = Native::new();
    let code = native.code(&app, &provider, "erin").await;
    let res = native.exchange(&app, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["email"], "erin@example.com");
    assert_eq!(me["sso"][0]["issuer"], provider.issuer.as_str());
    // A code works once.
    let res = native.exchange(&app, &code).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "sso_failed");

    // Another app's verifier for this code: the provider refuses it.
    let code = native.code(&app, &provider, "erin").await;
    let thief = Native::new();
    let res = thief.exchange(&app, &code).await;
    assert_eq!(error_code(res).await, "sso_failed");

    // An existing account: 409 with a link token, then the password once.
    support::create_verified_user(&app.state, "frank@example.com").await;
    let code = native.code(&app, &provider, "frank").await;
    let res = native.exchange(&app, &code).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sso_link_required");
    let link_token = body["error"]["link_token"].as_str().unwrap().to_owned();
    let res = app
        .post_json(
            "/api/v1/auth/oidc/link",
            json!({"link_token": link_token, "password": "Not-His-Password-1!"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .post_json(
            "/api/v1/auth/oidc/link",
            json!({"link_token": link_token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    app.finish().await;
}

async fn hostile_exchange_and_start_input_gets_4xx(engine: Engine) {
    let provider = OidcProvider::start(&[Person::verified("erin", "erin@example.com")]);
    let app = provider.app(engine, &[]).await;
    let native = Native::new();
    let long_code = "c".repeat(5000);
    for (body, expected) in [
        (
            json!({"code": "x", "code_verifier": native.verifier, "redirect_uri": "https://evil.example/cb"}),
            "bad_request",
        ),
        (
            json!({"code": "x", "code_verifier": native.verifier, "redirect_uri": "http://127.0.0.1/cb"}),
            "bad_request",
        ),
        (
            json!({"code": "x", "code_verifier": "short", "redirect_uri": native.redirect}),
            "bad_request",
        ),
        (
            json!({"code": "", "code_verifier": native.verifier, "redirect_uri": native.redirect}),
            "bad_request",
        ),
        (
            json!({"code": long_code, "code_verifier": native.verifier, "redirect_uri": native.redirect}),
            "bad_request",
        ),
        (json!({"code": 7}), "bad_request"),
        (
            json!({"code": "made-up", "code_verifier": native.verifier, "redirect_uri": native.redirect}),
            "sso_failed",
        ),
    ] {
        let res = app
            .post_json("/api/v1/auth/oidc/exchange", body.clone())
            .await;
        assert!(res.status().is_client_error(), "{body}");
        assert_eq!(error_code(res).await, expected, "{body}");
    }
    let res = app
        .post_json(
            "/api/v1/auth/oidc/link",
            json!({"link_token": "nope", "password": "x"}),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_token");
    for query in [
        "redirect_uri=https%3A%2F%2Fevil.example%2Fcb&code_challenge=x&code_challenge_method=S256&state=s",
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb&code_challenge=short&code_challenge_method=S256&state=s",
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb&code_challenge_method=plain&state=s",
    ] {
        let res = app
            .client
            .get(app.url(&format!("/auth/oidc/start?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let res = app
        .client
        .get(native.start(&app, "bad state with spaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    app.finish().await;
}

async fn the_last_way_in_cannot_be_unlinked(engine: Engine) {
    let provider = OidcProvider::start(&[
        Person::verified("gina", "gina@example.com"),
        Person::verified("hal", "hal@example.com"),
    ]);
    let app = provider.app(engine, &[]).await;
    let remove = |browser: reqwest::Client, app: &TestApp| {
        let url = app.url("/account");
        let remove_url = app.url("/account/sso/remove");
        let issuer = provider.issuer.clone();
        async move {
            let page = browser.get(url).send().await.unwrap().text().await.unwrap();
            browser
                .post(remove_url)
                .form(&[
                    ("csrf_token", form_field(&page, "csrf_token").as_str()),
                    ("issuer", &issuer),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Gina's account was made by the provider: it has no password and no passkey.
    let gina = browser();
    sso_sign_in(&app, &provider, &gina, "gina").await;
    let res = remove(gina.clone(), &app).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("only way into your account")
    );
    // Nor does any password sign her in.
    let res = app
        .login("gina@example.com", "Any-Password-at-all-1!")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Hal has a password too: his link can go, and the next sign-in asks it again.
    support::create_verified_user(&app.state, "hal@example.com").await;
    let hal = browser();
    let (_, page) = sso_sign_in(&app, &provider, &hal, "hal").await;
    post_link(&app, &hal, &page, PASSWORD, "").await;
    let res = remove(hal.clone(), &app).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Single sign-on was removed")
    );
    assert_eq!(audited(&app, "sso_unlinked").await, 1);
    let (status, page) = sso_sign_in(&app, &provider, &browser(), "hal").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Link your ImageVault account"));
    app.finish().await;
}

async fn hostile_callback_link_and_unlink_input_gets_4xx(engine: Engine) {
    let provider = OidcProvider::start(&[Person::verified("gina", "gina@example.com")]);
    let app = provider.app(engine, &[]).await;

    // The provider's error text is never echoed back: a fixed sentence answers it.
    let visitor = browser();
    let res = visitor
        .get(app.url("/auth/oidc/start"))
        .send()
        .await
        .unwrap();
    let to_provider = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let state = to_provider
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut callback = url::Url::parse(&app.url("/auth/oidc/callback")).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", "<script>alert(1)</script>")
        .append_pair("error_description", "<b>owned</b>");
    let res = visitor.get(callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("could not sign you in"), "{page}");
    assert!(
        !page.contains("<script>alert") && !page.contains("owned"),
        "{page}"
    );

    // The link form: its CSRF field, a form body, and a token that names nothing.
    let stranger = browser();
    let login = app.page(&stranger, "/login").await;
    let csrf = form_field(&login, "csrf_token");
    let form = |token: &str, csrf: &str| {
        vec![
            ("csrf_token", csrf.to_owned()),
            ("link_token", token.to_owned()),
            ("password", PASSWORD.to_owned()),
        ]
    };
    let post = |body: Vec<(&'static str, String)>| {
        stranger.post(app.url("/auth/oidc/link")).form(&body).send()
    };
    assert_eq!(
        post(form("x", "forged")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    for token in ["", "nope", &"t".repeat(10_000)] {
        let res = post(form(token, &csrf)).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{} bytes",
            token.len()
        );
        assert!(res.text().await.unwrap().contains("expired"));
    }
    let res = stranger
        .post(app.url("/auth/oidc/link"))
        .json(&json!({"csrf_token": csrf, "link_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Removing a link (from an account with a password, so removing is allowed):
    // unknown or absurd issuers name nothing; without the CSRF field nothing changes.
    support::create_verified_user(&app.state, "gina@example.com").await;
    let gina = browser();
    let (_, page) = sso_sign_in(&app, &provider, &gina, "gina").await;
    post_link(&app, &gina, &page, PASSWORD, "").await;
    let account = app.page(&gina, "/account").await;
    let csrf = form_field(&account, "csrf_token");
    for (issuer, field, expected) in [
        (
            "https://other.example",
            csrf.as_str(),
            StatusCode::NOT_FOUND,
        ),
        (&"i".repeat(10_000), csrf.as_str(), StatusCode::NOT_FOUND),
        (provider.issuer.as_str(), "forged", StatusCode::FORBIDDEN),
    ] {
        let res = gina
            .post(app.url("/account/sso/remove"))
            .form(&[("csrf_token", field), ("issuer", issuer)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "{} bytes", issuer.len());
    }
    assert!(app.page(&gina, "/account").await.contains(&provider.issuer));
    app.finish().await;
}
