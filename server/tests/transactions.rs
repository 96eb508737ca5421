//! Flows that write more than once commit all of it or nothing. Each test makes a real
//! write fail midway — a trigger in the test's own database raises an error on one of
//! the flow's later statements — and proves that nothing of the flow remains, that the
//! failure is an opaque 500 naming the request's id, and that the same request succeeds
//! once the fault is gone (so nothing was half used up, e.g. the emailed link).

use imagevault_test_support as support;
use support::both_engines;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use support::images::jpeg;
use support::{Engine, PASSWORD, TestApp, error_code};

/// A statement the flow runs that will fail while the fault is in place.
struct Fault {
    name: &'static str,
    table: &'static str,
    /// `UPDATE` or `DELETE`.
    event: &'static str,
}

impl Fault {
    async fn connect(app: &TestApp) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&app.db.url).await.unwrap()
    }

    async fn inject(&self, app: &TestApp, engine: Engine) {
        let mut db = Self::connect(app).await;
        let (name, table, event) = (self.name, self.table, self.event);
        let sql = match engine {
            Engine::Sqlite => format!(
                "CREATE TRIGGER {name} BEFORE {event} ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            ),
            Engine::Postgres => {
                db.execute(
                    "CREATE OR REPLACE FUNCTION injected_failure() RETURNS trigger AS \
                     $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
                )
                .await
                .unwrap();
                format!(
                    "CREATE TRIGGER {name} BEFORE {event} ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION injected_failure()"
                )
            }
        };
        db.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }

    async fn remove(&self, app: &TestApp, engine: Engine) {
        let mut db = Self::connect(app).await;
        let sql = match engine {
            Engine::Sqlite => format!("DROP TRIGGER {}", self.name),
            Engine::Postgres => format!("DROP TRIGGER {} ON {}", self.name, self.table),
        };
        db.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
}

/// A 500 that says nothing of its cause and names the id of its request.
async fn assert_opaque_failure(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = res
        .headers()
        .get("x-request-id")
        .expect("every answer names its request")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&request_id),
        "{message} names {request_id}"
    );
    assert!(!message.contains("injected"), "no internals: {message}");
}

async fn a_failed_password_reset_changes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let session = app.signed_up_user("reset@example.com").await;
    let forgot = json!({"email": "reset@example.com"});
    let res = app.post_json("/api/v1/auth/forgot-password", forgot).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let token = app
        .emailed_token("reset@example.com", "/reset-password?token=", 1)
        .await;
    let new_password = "Fresh-Start-42-Lantern";
    let reset = || {
        app.post_json(
            "/api/v1/auth/reset-password",
            json!({"token": token, "password": new_password}),
        )
    };

    // Revoking the sessions is the reset's last write.
    let fault = Fault {
        name: "fail_session_revoke",
        table: "sessions",
        event: "UPDATE",
    };
    fault.inject(&app, engine).await;
    assert_opaque_failure(reset().await).await;
    assert_eq!(
        app.me(&session).await.status(),
        StatusCode::OK,
        "sessions live"
    );
    let new_login = app.login("reset@example.com", new_password).await;
    assert_eq!(
        new_login.status(),
        StatusCode::UNAUTHORIZED,
        "password kept"
    );
    let old_login = app.login("reset@example.com", PASSWORD).await;
    assert_eq!(old_login.status(), StatusCode::OK, "old password works");

    // The link was not used up: once the fault is gone, the same request completes.
    fault.remove(&app, engine).await;
    assert_eq!(reset().await.status(), StatusCode::OK);
    assert_eq!(app.me(&session).await.status(), StatusCode::UNAUTHORIZED);
    let old_login = app.login("reset@example.com", PASSWORD).await;
    assert_eq!(old_login.status(), StatusCode::UNAUTHORIZED);
    let new_login = app.login("reset@example.com", new_password).await;
    assert_eq!(new_login.status(), StatusCode::OK);
    app.finish().await;
}

async fn a_failed_account_deletion_keeps_the_key_and_the_images(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("keep@example.com").await;
    let res = app.upload(&token, "kept.jpg", jpeg(64, 48, 1)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let content = || {
        app.client
            .get(app.url(&format!("/api/v1/images/{id}/content")))
            .bearer_auth(&token)
            .send()
    };

    // The key is deleted before the account: the account's deletion fails.
    let fault = Fault {
        name: "fail_user_delete",
        table: "users",
        event: "DELETE",
    };
    fault.inject(&app, engine).await;
    assert_opaque_failure(app.delete_me(&token, PASSWORD).await).await;
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::OK,
        "account kept"
    );
    let kept = content().await.unwrap();
    assert_eq!(
        kept.status(),
        StatusCode::OK,
        "key kept: the image decrypts"
    );

    fault.remove(&app, engine).await;
    assert_eq!(
        app.delete_me(&token, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn a_failed_verification_leaves_the_link_usable(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let res = app.register("late@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let token = app
        .emailed_token("late@example.com", "/verify?token=", 1)
        .await;

    // Using up the token comes first; marking the address verified fails.
    let fault = Fault {
        name: "fail_user_update",
        table: "users",
        event: "UPDATE",
    };
    fault.inject(&app, engine).await;
    assert_opaque_failure(app.verify(&token).await).await;
    let login = app.login("late@example.com", PASSWORD).await;
    assert_eq!(error_code(login).await, "email_not_verified");

    fault.remove(&app, engine).await;
    assert_eq!(app.verify(&token).await.status(), StatusCode::OK);
    let login = app.login("late@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    app.finish().await;
}

async fn a_failed_sign_in_keeps_the_failure_count(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("count@example.com").await;
    for _ in 0..4 {
        let wrong = app.login("count@example.com", "Wrong-Password-99-x").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // Clearing the failures and storing the session are one write: the session fails.
    let fault = Fault {
        name: "fail_session_insert",
        table: "sessions",
        event: "INSERT",
    };
    fault.inject(&app, engine).await;
    assert_opaque_failure(app.login("count@example.com", PASSWORD).await).await;
    fault.remove(&app, engine).await;
    // The four failures still count: one more locks the account.
    let wrong = app.login("count@example.com", "Wrong-Password-99-x").await;
    assert_eq!(error_code(wrong).await, "invalid_credentials");
    let locked = app.login("count@example.com", PASSWORD).await;
    assert_eq!(error_code(locked).await, "account_locked");
    app.finish().await;
}

both_engines!(
    a_failed_password_reset_changes_nothing,
    a_failed_account_deletion_keeps_the_key_and_the_images,
    a_failed_verification_leaves_the_link_usable,
    a_failed_sign_in_keeps_the_failure_count,
);
