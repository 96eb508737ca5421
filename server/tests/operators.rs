//! Operators, on both engines: the admin console (404 to everyone but administrators;
//! accounts found, disabled, enabled, given a quota and signed out; never a photo, a
//! thumbnail or a filename on any admin route), the audit log (every security event
//! chained; a row deleted, edited or moved is caught by `audit verify` naming the first
//! broken `seq`; two instances appending at once keep one chain), alerts mailed to
//! administrators, and the Prometheus scrape.

use imagevault_test_support as support;
use support::both_engines;

use imagevault_server::audit;
use imagevault_server::db::Db;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::images::png;
use support::{Engine, PASSWORD, TestApp, error_code};

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");

/// A filename no admin route may ever show.
const SECRET_NAME: &str = "grandmas-birthday-secret.png";

/// Every admin route, as (method, path) with `{id}` for an account id. The test below
/// checks this list against the OpenAPI document, so a new admin endpoint cannot
/// escape the walk.
const API_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/admin/users"),
    ("PATCH", "/api/v1/admin/users/{id}"),
    ("POST", "/api/v1/admin/users/{id}/sign-out"),
    ("GET", "/api/v1/admin/audit"),
];
const PAGE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/users/{id}"),
];

fn method(name: &str) -> Method {
    name.parse().unwrap()
}

async fn user_id(app: &TestApp, token: &str) -> String {
    app.me(token).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn json_of(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
}

async fn admin_routes_answer_404_to_everyone_else(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("plain@example.com").await;
    let id = user_id(&app, &token).await;
    let browser = app.signed_in_browser("browsing@example.com").await;
    let nothing = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    let nothing = nothing.text().await.unwrap();
    for (verb, path) in API_ROUTES.iter().chain(PAGE_ROUTES) {
        let path = path.replace("{id}", &id);
        let body = json!({"disabled": true});
        let anonymous = app
            .client
            .request(method(verb), app.url(&path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let signed_in = app
            .bearer(method(verb), &path, &token, Some(body.clone()))
            .await;
        let cookie = browser
            .request(method(verb), app.url(&path))
            .form(&[("action", "disable")])
            .send()
            .await
            .unwrap();
        for res in [anonymous, signed_in, cookie] {
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{verb} {path}");
            assert_eq!(
                res.text().await.unwrap(),
                nothing,
                "{verb} {path} looks like no page"
            );
        }
    }
    // Nothing changed: the account was not disabled by any of those.
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn admins_manage_accounts_and_never_see_content(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let admin = app.admin("root@example.com").await;
    let owner = app.signed_up_user("owner@example.com").await;
    let owner_id = user_id(&app, &owner).await;
    let photo = png(320, 240, 9);
    let res = app.upload(&owner, SECRET_NAME, photo.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Found by a part of the address, with state and usage.
    let res = app
        .bearer(
            Method::GET,
            "/api/v1/admin/users?query=OWNER@",
            &admin,
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = json_of(res).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let listed = &items[0];
    assert_eq!(listed["id"], owner_id);
    assert_eq!(listed["email"], "owner@example.com");
    assert_eq!(listed["verified"], true);
    assert_eq!(listed["disabled"], false);
    assert_eq!(listed["is_admin"], false);
    assert_eq!(listed["mfa"], false);
    assert_eq!(listed["image_count"], 1);
    assert!(listed["bytes_used"].as_u64().unwrap() > 0);
    assert_eq!(listed["quota_bytes"], 10_u64 << 30);
    assert!(listed["last_sign_in_at"].is_string());

    // Walk every admin route as the administrator: never the photo, its thumbnail or
    // its name.
    let walked = walk_admin_routes(&app, &admin, &owner_id).await;
    assert_eq!(walked.len(), API_ROUTES.len() + PAGE_ROUTES.len() + 2);
    let signature = &photo[..16];
    for res in walked {
        let status = res.status();
        let url = res.url().to_string();
        assert!(status.is_success(), "{url}: {status}");
        let kind = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(!kind.starts_with("image/"), "{url} answered {kind}");
        let body = res.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(SECRET_NAME), "{url} shows the filename");
        assert!(
            !text.contains("grandmas"),
            "{url} shows part of the filename"
        );
        assert!(
            !body.windows(signature.len()).any(|w| w == signature),
            "{url} holds the photo's bytes"
        );
    }
    // The quota form set 2 GiB; the sign-out route ended the owner's session.
    let listed = app
        .bearer(Method::GET, "/api/v1/admin/users?query=owner", &admin, None)
        .await;
    assert_eq!(
        json_of(listed).await["items"][0]["quota_bytes"],
        2_u64 << 30
    );
    assert_eq!(app.me(&owner).await.status(), StatusCode::UNAUTHORIZED);

    // Every admin endpoint of the OpenAPI document was walked.
    let doc = json_of(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.contains("/admin"))
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |verb| format!("{} {path}", verb.to_uppercase()))
        })
        .collect();
    documented.sort();
    let mut known: Vec<String> = API_ROUTES.iter().map(|(v, p)| format!("{v} {p}")).collect();
    known.sort();
    assert_eq!(documented, known);
    app.finish().await;
}

/// Every admin route answered to the administrator `root@example.com` (token `admin`),
/// each page through a signed-in browser, about the account `owner_id`.
async fn walk_admin_routes(app: &TestApp, admin: &str, owner_id: &str) -> Vec<reqwest::Response> {
    let admin_browser = support::browser();
    assert_eq!(
        app.login_form(&admin_browser, "root@example.com")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let mut walked = Vec::new();
    for (verb, path) in API_ROUTES {
        let path = path.replace("{id}", owner_id);
        let body = (*verb == "PATCH").then(|| json!({"quota_bytes": 1_u64 << 30}));
        walked.push(app.bearer(method(verb), &path, admin, body).await);
    }
    for path in [
        "/admin",
        "/admin/audit",
        "/admin?query=owner",
        "/admin/audit?kind=sign_in",
    ] {
        walked.push(admin_browser.get(app.url(path)).send().await.unwrap());
    }
    let csrf = support::form_field(&app.page(&admin_browser, "/admin").await, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("action", "quota"),
        ("quota_gib", "2"),
    ];
    let path = format!("/admin/users/{owner_id}");
    walked.push(
        admin_browser
            .post(app.url(&path))
            .form(&form)
            .send()
            .await
            .unwrap(),
    );
    walked
}

async fn disabling_ends_sessions_at_once_and_refuses_sign_in(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.admin("boss@example.com").await;
    let admin_id = user_id(&app, &admin).await;
    let token = app.signed_up_user("worker@example.com").await;
    let id = user_id(&app, &token).await;
    let path = format!("/api/v1/admin/users/{id}");
    let res = app
        .bearer(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await["disabled"], true);
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::UNAUTHORIZED,
        "session ended"
    );
    let res = app.login("worker@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "account_disabled");
    // The guard every sign-in passes under the account's row lock, so a password check
    // that overlapped the disable cannot slip a session in after it.
    let typed: imagevault_server::db::ids::UserId = id.parse().unwrap();
    let now = imagevault_server::db::now();
    let pool = app.state.db.pool();
    assert!(
        !imagevault_server::db::users::signed_in(pool, typed, now)
            .await
            .unwrap()
    );
    // A wrong password says nothing about the account being disabled.
    let res = app
        .login("worker@example.com", "Wrong-Horse-7-Battery")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The browser form says it too, in words.
    let browser = support::browser();
    let res = app.login_form(&browser, "worker@example.com").await;
    assert_ne!(
        res.status(),
        StatusCode::SEE_OTHER,
        "no session for a disabled account"
    );

    let res = app
        .bearer(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.login("worker@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again = json_of(res).await["token"].as_str().unwrap().to_owned();

    // Sign out everywhere.
    let res = app
        .bearer(Method::POST, &format!("{path}/sign-out"), &admin, None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me(&again).await.status(), StatusCode::UNAUTHORIZED);

    // An administrator cannot lock themselves out.
    let own = format!("/api/v1/admin/users/{admin_id}");
    let res = app
        .bearer(Method::PATCH, &own, &admin, Some(json!({"disabled": true})))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.me(&admin).await.status(), StatusCode::OK);

    // The owner sees what was done to the account, newest first.
    owner_sees_what_was_done(&app, &id).await;
    app.finish().await;
}

/// The disabled-then-enabled account's `/me/activity`: every step, newest first, and
/// which administrator acted (and from where) stays with the administrators.
async fn owner_sees_what_was_done(app: &TestApp, id: &str) {
    let res = app.login("worker@example.com", PASSWORD).await;
    let token = json_of(res).await["token"].as_str().unwrap().to_owned();
    let activity = json_of(
        app.bearer(Method::GET, "/api/v1/me/activity", &token, None)
            .await,
    )
    .await;
    let kinds: Vec<&str> = activity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let expected = [
        "sign_in",
        "admin_signed_out",
        "sign_in",
        "admin_enabled",
        "sign_in_failed",
        "admin_disabled",
        "sign_in",
        "email_verified",
        "registered",
    ];
    assert_eq!(kinds, expected);
    let items = activity["items"].as_array().unwrap();
    assert!(items.iter().all(|e| e["user_id"] == id));
    // Which administrator acted, and from where, stays with the administrators.
    let admin_events = items
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("admin_"));
    for event in admin_events {
        assert!(event["address_hint"].is_null(), "{event}");
        assert!(event["detail"].get("by").is_none(), "{event}");
    }
}

async fn hostile_admin_requests_get_clear_4xx(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.admin("keeper@example.com").await;
    let token = app.signed_up_user("target@example.com").await;
    let id = user_id(&app, &token).await;
    let path = format!("/api/v1/admin/users/{id}");
    for (body, why) in [
        (json!({"quota_bytes": -1}), "negative quota"),
        (json!({"quota_bytes": 1.5}), "fractional quota"),
        (json!({"quota_bytes": u64::MAX}), "quota past i64"),
        (json!({"disabled": "yes"}), "disabled not a bool"),
        (json!({"email": "x@example.com"}), "unknown field"),
        (json!([1, 2]), "not an object"),
    ] {
        let res = app.bearer(Method::PATCH, &path, &admin, Some(body)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
    }
    for path in [
        "/api/v1/admin/users/not-a-uuid",
        "/api/v1/admin/users/00000000-0000-4000-8000-000000000000",
    ] {
        let res = app
            .bearer(Method::PATCH, path, &admin, Some(json!({"disabled": true})))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let long = "a".repeat(300);
    for query in [
        format!("/api/v1/admin/users?query={long}"),
        "/api/v1/admin/users?cursor=%%%".to_owned(),
        "/api/v1/admin/audit?kind=everything".to_owned(),
        "/api/v1/admin/audit?user_id=robert'); DROP TABLE users;--".to_owned(),
        "/api/v1/admin/audit?cursor=-5".to_owned(),
        "/api/v1/me/activity?cursor=abc".to_owned(),
    ] {
        let res = app.bearer(Method::GET, &query, &admin, None).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(!error_code(res).await.is_empty());
    }
    // LIKE wildcards are taken literally.
    let res = app
        .bearer(Method::GET, "/api/v1/admin/users?query=%25", &admin, None)
        .await;
    assert!(json_of(res).await["items"].as_array().unwrap().is_empty());
    // The setting stuck nowhere.
    let listed = json_of(
        app.bearer(
            Method::GET,
            "/api/v1/admin/users?query=target",
            &admin,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(listed["items"][0]["disabled"], false);
    assert_eq!(listed["items"][0]["quota_bytes"], 10_u64 << 30);
    app.finish().await;
}

async fn accounts_page_by_page(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.admin("pager@example.com").await;
    let now = imagevault_server::db::now();
    for n in 0..120 {
        let new = imagevault_server::db::users::NewUser {
            email: &format!("member{n:03}@example.org"),
            password_hash: "not-a-hash",
            is_admin: false,
            verified_at: Some(now),
            now,
        };
        imagevault_server::db::users::insert(app.state.db.pool(), &new)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/admin/users?query=example.org".to_owned();
    loop {
        let page = json_of(app.bearer(Method::GET, &path, &admin, None).await).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 50);
        seen.extend(
            items
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/admin/users?query=example.org&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..120)
        .map(|n| format!("member{n:03}@example.org"))
        .collect();
    assert_eq!(seen, expected, "every account once, in address order");
    app.finish().await;
}

/// Runs `imagevault-server audit <action>` against the app's database and key file.
fn audit_command(app: &TestApp, action: &str) -> std::process::Output {
    std::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DEBUG", "True")
        .env("DATA_DIR", &app.dir)
        .env("DATABASE_URL", app.db.url.as_str())
        .env("MASTER_KEY_FILE", &app.config.master_key_file)
        .env("SECRET_KEY", "test-secret-key-0123456789abcdef-0123456789")
        .args(["audit", action])
        .output()
        .unwrap()
}

async fn sql(db: &Db, statement: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(db.pool())
        .await
        .unwrap();
}

async fn broken_at(app: &TestApp) -> Option<i64> {
    audit::verify(&app.state.db, &app.state.keyring)
        .await
        .unwrap()
        .broken
        .map(|b| b.seq)
}

/// `audit export`: one JSON object a line, oldest first, details as objects, no email
/// address anywhere.
fn exported(app: &TestApp, rows: i64) -> Vec<Value> {
    let out = audit_command(app, "export");
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), usize::try_from(rows).unwrap());
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );
    assert!(
        lines
            .iter()
            .all(|l| l["detail"].is_object() && l["mac"].is_string())
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.to_string().contains("audited@example.com")),
        "events hold ids, never addresses"
    );
    lines
}

async fn tampering_with_the_audit_log_is_caught(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.signed_up_user("audited@example.com").await;
    for _ in 0..2 {
        let res = app
            .login("audited@example.com", "Wrong-Horse-7-Battery")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.post_bearer("/api/v1/auth/logout", &token).await;
    assert!(res.status().is_success());
    let db = &app.state.db;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(
        rows >= 6,
        "register, verify, sign-in, two failures, sign-out: {rows}"
    );
    assert_eq!(broken_at(&app).await, None);
    let out = audit_command(&app, "verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{rows} event(s)")), "{stdout}");

    let lines = exported(&app, rows);

    // Edited: a failure rewritten as a success.
    sql(db, "UPDATE audit_log SET kind = 'sign_in' WHERE seq = 4").await;
    assert_eq!(broken_at(&app).await, Some(4));
    let out = audit_command(&app, "verify");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seq 4"));
    sql(
        db,
        "UPDATE audit_log SET kind = 'sign_in_failed' WHERE seq = 4",
    )
    .await;
    assert_eq!(broken_at(&app).await, None, "restored, it holds again");

    // Edited detail only.
    sql(db, "UPDATE audit_log SET detail = '{}' WHERE seq = 3").await;
    assert_eq!(broken_at(&app).await, Some(3));
    let original: String = lines[2]["detail"].to_string();
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = 3")
        .bind(&original)
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(broken_at(&app).await, None);

    // Reordered: rows 4 and 5 swap places.
    sql(db, "UPDATE audit_log SET seq = -1 WHERE seq = 4").await;
    sql(db, "UPDATE audit_log SET seq = 4 WHERE seq = 5").await;
    sql(db, "UPDATE audit_log SET seq = 5 WHERE seq = -1").await;
    assert_eq!(broken_at(&app).await, Some(4));
    sql(db, "UPDATE audit_log SET seq = -1 WHERE seq = 4").await;
    sql(db, "UPDATE audit_log SET seq = 4 WHERE seq = 5").await;
    sql(db, "UPDATE audit_log SET seq = 5 WHERE seq = -1").await;
    assert_eq!(broken_at(&app).await, None);

    // A row slipped in before the first, and a key version the key file lacks.
    sql(
        db,
        "INSERT INTO audit_log (seq, at, kind, user_id, address_hint, detail, key_version, mac) \
         VALUES (0, 0, 'sign_in', NULL, NULL, '{}', 1, '00')",
    )
    .await;
    assert_eq!(broken_at(&app).await, Some(0));
    sql(db, "DELETE FROM audit_log WHERE seq = 0").await;
    sql(db, "UPDATE audit_log SET key_version = 99 WHERE seq = 3").await;
    assert_eq!(broken_at(&app).await, Some(3));
    sql(db, "UPDATE audit_log SET key_version = 1 WHERE seq = 3").await;
    assert_eq!(broken_at(&app).await, None);

    // Deleted from the middle.
    sql(db, "DELETE FROM audit_log WHERE seq = 2").await;
    assert_eq!(broken_at(&app).await, Some(2));
    let out = audit_command(&app, "verify");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seq 2"));
    app.finish().await;
}

async fn rows_cut_off_the_end_are_caught(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.signed_up_user("tail@example.com").await;
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let statement = format!("DELETE FROM audit_log WHERE seq = {last}");
    sql(&app.state.db, &statement).await;
    assert_eq!(broken_at(&app).await, Some(last));
    app.finish().await;
}

async fn two_instances_appending_at_once_keep_one_chain(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // A second instance's connections: its own pool on the same database.
    let other = Db::connect(app.db.url.as_str()).await.unwrap();
    let each = 40;
    let append = |db: Db, n: usize| {
        let state = app.state.clone();
        async move {
            let event = audit::Event::new(audit::Kind::SignInFailed).with("n", n);
            audit::append(&db, &state.keyring, &event).await.unwrap()
        }
    };
    let mut tasks = Vec::new();
    for n in 0..each {
        tasks.push(tokio::spawn(append(app.state.db.clone(), n)));
        tasks.push(tokio::spawn(append(other.clone(), each + n)));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 2 * each, "every append got its own seq");
    let verified = audit::verify(&app.state.db, &app.state.keyring)
        .await
        .unwrap();
    assert_eq!(verified.broken, None);
    assert_eq!(verified.rows, i64::try_from(2 * each).unwrap());
    app.finish().await;
}

async fn admins_are_alerted_by_email(engine: Engine) {
    let app = TestApp::spawn_stack_with(engine, &[("ALERT_LOCKOUTS_PER_HOUR", "2")]).await;
    support::create_account(&app.state, "alerts@example.com", true).await;
    // A lockout storm: three strangers' accounts locked (nonexistent ones count too).
    for n in 0..3 {
        for _ in 0..5 {
            let res = app
                .login(&format!("victim{n}@example.com"), "Wrong-Horse-7-Battery")
                .await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
    }
    let mail = app
        .smtp
        .wait_for("alerts@example.com", "Lockout storm", 1)
        .await;
    assert!(mail.data.contains("3 sign-in lockouts"), "{}", mail.data);

    // An integrity failure: a stored blob damaged on disk or in the bucket.
    let token = app.signed_up_user("damaged@example.com").await;
    let res = app.upload(&token, "a.png", png(64, 64, 3)).await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = app.blob_file(&id, false);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let res = app
        .get_bearer(&format!("/api/v1/images/{id}/content"), &token)
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let mail = app
        .smtp
        .wait_for("alerts@example.com", "Integrity failure", 1)
        .await;
    assert!(mail.data.contains(&id), "{}", mail.data);
    let events = audit::page(
        &app.state.db,
        &imagevault_server::db::audit::Filter {
            kind: Some("integrity_failure"),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .0;
    assert_eq!(events.len(), 1);

    // A master key that does not match the database: that instance does not start.
    let wrong_key = app.dir.join("other-master.key");
    imagevault_server::vault::keyring::Keyring::create(&wrong_key).unwrap();
    let res = app
        .sibling_try(&[("MASTER_KEY_FILE", wrong_key.to_str().unwrap())])
        .await;
    assert!(
        res.is_err(),
        "an instance with another key file must not start"
    );
    let mail = app
        .smtp
        .wait_for("alerts@example.com", "Master key mismatch", 1)
        .await;
    assert!(mail.data.contains("master key"), "{}", mail.data);

    // Each kind is mailed once an hour, however often it happens.
    for _ in 0..5 {
        let res = app
            .login("victim9@example.com", "Wrong-Horse-7-Battery")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    app.state.mailer.settled().await;
    assert_eq!(
        app.smtp
            .mails_to("alerts@example.com")
            .iter()
            .filter(|m| m.data.contains("Lockout storm"))
            .count(),
        1
    );
    app.finish().await;
}

async fn metrics_are_scraped_with_the_token_only(engine: Engine) {
    let token_value = "metrics-token-0123456789-abcdefghijklmnop";
    let app = TestApp::spawn_with(engine, &[("METRICS_TOKEN", token_value)]).await;
    let user = app.signed_up_user("counted@example.com").await;
    let res = app
        .login("counted@example.com", "Wrong-Horse-7-Battery")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.upload(&user, "a.png", png(32, 32, 1)).await.status(),
        StatusCode::CREATED
    );
    let refused = app.upload(&user, "a.png", b"not an image".to_vec()).await;
    assert!(refused.status().is_client_error());
    let refused_code = error_code(refused).await;

    for auth in [None, Some("wrong-token-0123456789-abcdefghijklmnop")] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(auth) = auth {
            req = req.bearer_auth(auth);
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    }
    let scrape = app.scrape(token_value).await;
    let value = |name: &str, label: (&str, &str)| scrape.value(name, &[label]);
    assert_eq!(
        value("imagevault_uploads_total", ("outcome", "accepted")),
        1
    );
    assert_eq!(
        value("imagevault_uploads_total", ("outcome", &refused_code)),
        1
    );
    assert_eq!(
        value("imagevault_sign_ins_total", ("outcome", "success")),
        1
    );
    assert_eq!(
        value("imagevault_sign_ins_total", ("outcome", "failure")),
        1
    );
    assert!(
        value(
            "imagevault_http_requests_total",
            ("route", "/api/v1/images")
        ) >= 2
    );
    assert!(value("imagevault_http_requests_total", ("status", "201")) >= 1);
    for family in [
        "imagevault_http_request_duration_seconds",
        "imagevault_upload_slot_wait_seconds",
        "imagevault_image_cache_bytes",
        "imagevault_db_pool_connections",
        "imagevault_db_pool_idle_connections",
    ] {
        assert!(
            scrape.describes(family),
            "{family} is described in the scrape"
        );
    }
    app.finish().await;

    let without = TestApp::spawn(engine).await;
    let res = without
        .client
        .get(without.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "no token configured, no endpoint"
    );
    without.finish().await;
}

both_engines!(
    admin_routes_answer_404_to_everyone_else,
    admins_manage_accounts_and_never_see_content,
    disabling_ends_sessions_at_once_and_refuses_sign_in,
    hostile_admin_requests_get_clear_4xx,
    accounts_page_by_page,
    tampering_with_the_audit_log_is_caught,
    rows_cut_off_the_end_are_caught,
    two_instances_appending_at_once_keep_one_chain,
    admins_are_alerted_by_email,
    metrics_are_scraped_with_the_token_only,
);
