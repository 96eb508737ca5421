//! Accounts end to end: the real server, a real database (each test runs on SQLite and
//! on PostgreSQL) and a real SMTP sink.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Executor;
use support::{Engine, PASSWORD, TestApp, error_code};

async fn register_verify_login_me_logout(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = "Alice@Example.com";
    let res = app.register(email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "verification_sent"})
    );

    // Not verified yet: the right password is answered 403, not a session.
    let res = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "email_not_verified");

    let mail = app
        .smtp
        .wait_for("alice@example.com", "/verify?token=", 1)
        .await;
    assert!(mail.link().starts_with("http://app.test/verify?token="));
    assert_eq!(app.verify(&mail.token()).await.status(), StatusCode::OK);

    let res = app.login(" ALICE@example.com ", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["email"], "alice@example.com");

    assert_eq!(
        app.post_bearer("/api/v1/auth/logout", &token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let res = app.me(&token).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "unauthorized");
    app.finish().await;
}

async fn weak_passwords_list_every_failed_rule(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app.register("bob@example.com", "password").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "weak_password");
    let rules: Vec<&str> = body["error"]["failed_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "too_short",
            "no_uppercase",
            "no_digit",
            "no_special",
            "too_common"
        ]
    );
    let res = app.register("bob@example.com", "Password123!").await;
    assert_eq!(error_code(res).await, "weak_password");
    let res = app.register("not-an-email", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "invalid_email");
    app.finish().await;
}

async fn registering_a_taken_email_looks_the_same_and_tells_the_owner(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("carol@example.com").await;
    let taken = app
        .register("carol@example.com", "Another-Strong-9-Passphrase")
        .await;
    let fresh = app
        .register("dave@example.com", "Another-Strong-9-Passphrase")
        .await;
    assert_eq!(taken.status(), fresh.status());
    assert_eq!(taken.text().await.unwrap(), fresh.text().await.unwrap());
    app.smtp
        .wait_for("carol@example.com", "already have one", 1)
        .await;
    app.smtp
        .wait_for("dave@example.com", "/verify?token=", 1)
        .await;
    // The existing account keeps its password.
    assert_eq!(
        app.login("carol@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}

async fn verification_tokens_are_single_use_and_expire(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.register("erin@example.com", PASSWORD).await;
    let token = app
        .emailed_token("erin@example.com", "/verify?token=", 1)
        .await;
    assert_eq!(app.verify(&token).await.status(), StatusCode::OK);
    let again = app.verify(&token).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(again).await, "invalid_token");
    for bogus in ["", "nope", &"x".repeat(10_000)] {
        assert_eq!(error_code(app.verify(bogus).await).await, "invalid_token");
    }

    // An expired token (time moved forward in the database) is refused too.
    app.register("frank@example.com", PASSWORD).await;
    let token = app
        .emailed_token("frank@example.com", "/verify?token=", 1)
        .await;
    expire_tokens(&app).await;
    assert_eq!(error_code(app.verify(&token).await).await, "invalid_token");
    assert_eq!(
        error_code(app.login("frank@example.com", PASSWORD).await).await,
        "email_not_verified"
    );
    app.finish().await;
}

async fn expire_tokens(app: &TestApp) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url)
        .await
        .unwrap();
    conn.execute("UPDATE email_tokens SET expires_at = 0")
        .await
        .unwrap();
}

async fn resending_verification_works_and_is_rate_limited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.register("gina@example.com", PASSWORD).await;
    app.smtp
        .wait_for("gina@example.com", "/verify?token=", 1)
        .await;
    let resend = || {
        app.post_json(
            "/api/v1/auth/resend-verification",
            json!({"email": "gina@example.com"}),
        )
    };
    for _ in 0..3 {
        assert_eq!(resend().await.status(), StatusCode::ACCEPTED);
    }
    let mail = app
        .smtp
        .wait_for("gina@example.com", "/verify?token=", 4)
        .await;
    let limited = resend().await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_some());
    assert_eq!(error_code(limited).await, "rate_limited");
    // The newest link works; unknown addresses get the same 202.
    assert_eq!(app.verify(&mail.token()).await.status(), StatusCode::OK);
    let unknown = app
        .post_json(
            "/api/v1/auth/resend-verification",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    app.finish().await;
}

async fn wrong_password_and_unknown_email_get_the_same_answer(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("hank@example.com").await;
    let wrong = app.login("hank@example.com", "Wrong-Password-123!").await;
    let unknown = app.login("nobody@example.com", "Wrong-Password-123!").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
    app.finish().await;
}

async fn five_failures_lock_the_account_even_for_the_right_password(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("ivy@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            app.login("ivy@example.com", "Wrong-Password-123!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = app.login("ivy@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::LOCKED);
    let retry: i64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (800..=900).contains(&retry),
        "about 15 minutes, got {retry}"
    );
    assert_eq!(error_code(locked).await, "account_locked");
    app.smtp.wait_for("ivy@example.com", "was locked", 1).await;

    // Unknown addresses lock the same way, so lockout reveals nothing.
    for _ in 0..5 {
        app.login("ghost@example.com", "Wrong-Password-123!").await;
    }
    let ghost = app.login("ghost@example.com", "Wrong-Password-123!").await;
    assert_eq!(ghost.status(), StatusCode::LOCKED);
    let ghost_retry: i64 = ghost.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (800..=900).contains(&ghost_retry),
        "same as a real account: {ghost_retry}"
    );
    app.finish().await;
}

async fn a_burst_of_failures_locks_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("xena@example.com").await;
    // Eight at once (with the sign-up login and the check below, the per-account limit
    // of ten a minute is not reached).
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/login"));
        burst.spawn(async move {
            let body = json!({"email": "xena@example.com", "password": "Wrong-Password-123!"});
            client.post(url).json(&body).send().await.unwrap().status()
        });
    }
    while let Some(status) = burst.join_next().await {
        let status = status.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::LOCKED,
            "{status}"
        );
    }
    let locked = app.login("xena@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::LOCKED);
    let retry: i64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry <= 900, "one burst is one 15-minute lockout: {retry}");
    // Every notice the burst caused was queued before its answer came back: once the
    // mailer has settled, all of them have reached the sink.
    app.state.mailer.settled().await;
    let notices = app.smtp.mails_to("xena@example.com");
    assert_eq!(
        notices
            .iter()
            .filter(|m| m.data.contains("was locked"))
            .count(),
        1
    );
    app.finish().await;
}

async fn lockout_is_shared_by_instances_on_one_database(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("jack@example.com").await;
    let (other, other_handle) = app.sibling().await;
    let login_at = |base: String| {
        let client = app.client.clone();
        async move {
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": "jack@example.com", "password": "Wrong-Password-123!"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..5 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            format!("http://{other}")
        };
        assert_eq!(login_at(base).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_at(format!("http://{other}")).await,
        StatusCode::LOCKED
    );
    assert_eq!(login_at(app.base.clone()).await, StatusCode::LOCKED);
    other_handle.stop_forceful();
    app.finish().await;
}

async fn sessions_made_on_one_instance_work_on_another(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("kate@example.com").await;
    let (other, other_handle) = app.sibling().await;
    let res = app
        .client
        .get(format!("http://{other}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    other_handle.stop_forceful();
    app.finish().await;
}

async fn login_floods_from_one_address_are_rate_limited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut last = StatusCode::OK;
    for i in 0..31 {
        last = app
            .login(&format!("user{i}@example.com"), "Wrong-Password-123!")
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    app.finish().await;
}

async fn logout_everywhere_revokes_every_session(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let first = app.signed_up_user("liam@example.com").await;
    let second: Value = app
        .login("liam@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let second = second["token"].as_str().unwrap();
    assert_eq!(
        app.post_bearer("/api/v1/auth/logout-all", &first)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(&first).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(second).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.post_bearer("/api/v1/auth/logout", second)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.finish().await;
}

async fn password_reset_changes_the_password_and_revokes_sessions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let old_session = app.signed_up_user("mia@example.com").await;
    let forgot = |email: &'static str| {
        app.post_json("/api/v1/auth/forgot-password", json!({"email": email}))
    };
    assert_eq!(
        forgot("mia@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        forgot("nobody@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let earlier = app
        .emailed_token("mia@example.com", "/reset-password?token=", 1)
        .await;
    assert_eq!(
        forgot("mia@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let token = app
        .emailed_token("mia@example.com", "/reset-password?token=", 2)
        .await;

    let reset = |password: &'static str| {
        app.post_json(
            "/api/v1/auth/reset-password",
            json!({"token": token, "password": password}),
        )
    };
    // A weak choice is refused without using up the link.
    assert_eq!(error_code(reset("weak").await).await, "weak_password");
    let new_password = "Fresh-Start-42-Lantern";
    assert_eq!(reset(new_password).await.status(), StatusCode::OK);
    assert_eq!(error_code(reset(new_password).await).await, "invalid_token");
    // The earlier link died with the reset.
    let stale = json!({"token": earlier, "password": "Another-Fresh-77-Start"});
    let stale = app.post_json("/api/v1/auth/reset-password", stale).await;
    assert_eq!(error_code(stale).await, "invalid_token");

    assert_eq!(
        app.me(&old_session).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("mia@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("mia@example.com", new_password).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}

async fn wrong_passwords_when_deleting_the_account_count_like_sign_in(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keepme@example.com").await;
    // A stolen session guessing the password: five wrong guesses lock its device.
    for _ in 0..5 {
        let wrong = app.delete_me(&token, "Wrong-Guess-12-Password").await;
        assert_eq!(error_code(wrong).await, "invalid_credentials");
    }
    let locked = app.delete_me(&token, PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::LOCKED);
    assert!(locked.headers().contains_key("retry-after"));
    // The owner is told, as after failed sign-ins, with a link past the lock…
    app.smtp
        .wait_for("keepme@example.com", "/unlock?token=", 1)
        .await;
    // …and the account is still there. Only that session's device is locked: the
    // owner elsewhere is not kept out by whoever holds it.
    let sign_in = app.login("keepme@example.com", PASSWORD).await;
    assert_eq!(sign_in.status(), StatusCode::OK);
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn bearer_tokens_are_checked_strictly(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("noah@example.com").await;
    let lower = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("bearer {token}"));
    assert_eq!(
        lower.send().await.unwrap().status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );
    for header in [
        format!("Basic {token}"),
        token.clone(),
        "Bearer ".to_owned(),
        format!("Bearer {token}x"),
        format!("Bearer {}", "A".repeat(5000)),
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    app.finish().await;
}

both_engines!(
    register_verify_login_me_logout,
    weak_passwords_list_every_failed_rule,
    registering_a_taken_email_looks_the_same_and_tells_the_owner,
    verification_tokens_are_single_use_and_expire,
    resending_verification_works_and_is_rate_limited,
    wrong_password_and_unknown_email_get_the_same_answer,
    five_failures_lock_the_account_even_for_the_right_password,
    a_burst_of_failures_locks_once,
    lockout_is_shared_by_instances_on_one_database,
    sessions_made_on_one_instance_work_on_another,
    login_floods_from_one_address_are_rate_limited,
    logout_everywhere_revokes_every_session,
    password_reset_changes_the_password_and_revokes_sessions,
    bearer_tokens_are_checked_strictly,
    wrong_passwords_when_deleting_the_account_count_like_sign_in,
);

mod maintenance {
    use super::support::{Engine, TestApp};
    use imagevault_server::db::{Db, now};
    use sqlx::Executor;

    async fn stale_rows_are_purged_and_live_ones_kept(engine: Engine) {
        let app = TestApp::spawn(engine).await;
        let live = app.signed_up_user("wes@example.com").await;
        let db = Db::connect(&app.db.url).await.unwrap();
        let old = now() - 3 * 24 * 3600;
        db.pool()
            .execute(sqlx::AssertSqlSafe(format!(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('old', {old}, 3); \
                 UPDATE email_tokens SET expires_at = {old};"
            )))
            .await
            .unwrap();
        let deleted = db.purge_stale(now()).await.unwrap();
        assert!(
            deleted >= 2,
            "old window and used token deleted, got {deleted}"
        );
        let windows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM rate_limits WHERE bucket = 'old'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(windows, 0);
        assert_eq!(
            app.me(&live).await.status(),
            reqwest::StatusCode::OK,
            "live session kept"
        );
        app.finish().await;
    }

    crate::both_engines!(stale_rows_are_purged_and_live_ones_kept);
}
