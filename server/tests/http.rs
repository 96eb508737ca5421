//! HTTP hygiene: security headers on every kind of answer, the host allow-list, hostile
//! bodies and headers, slow clients, readiness.

use imagevault_test_support as support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Executor;
use support::{Engine, TestApp, error_code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn assert_security_headers(res: &reqwest::Response) {
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.contains_key("permissions-policy"));
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert_eq!(h["cross-origin-resource-policy"], "same-origin");
    assert!(h["cache-control"].to_str().unwrap().contains("no-store"));
    assert!(
        !h.contains_key("strict-transport-security"),
        "no HSTS over plain HTTP"
    );
}

/// The id the server gave the request (16 URL-safe characters).
fn request_id(res: &reqwest::Response) -> String {
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    id
}

#[tokio::test]
async fn security_headers_are_on_successes_and_errors() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let ok = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_security_headers(&ok);
    let missing = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&missing);
    let unauthorized = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(&unauthorized);
    let bad_host = app
        .client
        .get(app.url("/healthz"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_security_headers(&bad_host);
    // Every answer names its request, each with an id of its own.
    let ids: std::collections::HashSet<String> = [&ok, &missing, &unauthorized, &bad_host]
        .into_iter()
        .map(request_id)
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    // A client's own id is never taken: it could forge or collide with another's lines.
    let chosen = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "forged\r\nid")
        .send()
        .await;
    assert!(
        chosen.is_err(),
        "reqwest refuses a header with a line break"
    );
    let chosen = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "chosen-by-client")
        .send()
        .await
        .unwrap();
    assert_ne!(request_id(&chosen), "chosen-by-client");
    app.finish().await;
}

#[tokio::test]
async fn head_answers_every_get_route_without_a_body() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.signed_up_user("head@example.com").await;
    for (path, status) in [
        ("/healthz", StatusCode::OK),
        ("/login", StatusCode::OK),
        ("/api/v1/password-policy", StatusCode::OK),
        ("/api/openapi.json", StatusCode::OK),
        ("/", StatusCode::SEE_OTHER),
        ("/api/v1/images", StatusCode::UNAUTHORIZED),
        ("/no/such/page", StatusCode::NOT_FOUND),
    ] {
        let get = app.client.get(app.url(path)).send().await.unwrap();
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(get.status(), status, "GET {path}");
        assert_eq!(head.status(), status, "HEAD {path}");
        // Salvo renders no error page for HEAD, so an unknown path's answer names no
        // content type; every routed answer has the GET's.
        if status != StatusCode::NOT_FOUND {
            assert_eq!(
                head.headers().get("content-type"),
                get.headers().get("content-type"),
                "HEAD {path}"
            );
        }
        assert_security_headers(&head);
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    // With a session: the same headers as GET, the length of the GET body, no body.
    let get = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let head = app
        .client
        .head(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        get.bytes().await.unwrap().len().to_string()
    );
    // A route without GET still says which methods it has.
    let head = app.client.head(app.url("/logout")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
    app.finish().await;
}

#[tokio::test]
async fn server_errors_carry_headers_and_no_internals() {
    // Make the database disappear under a running server: every query now fails.
    let app = TestApp::spawn(Engine::Postgres).await;
    let token = app.signed_up_user("olga@example.com").await;
    app.db.drop_database().await;
    let res = app.me(&token).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    assert_security_headers(&res);
    let id = request_id(&res);
    let body: Value = res.json().await.unwrap();
    let code = body["error"]["code"].as_str().unwrap();
    assert!(code == "unavailable" || code == "internal", "{code}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("request {id}")),
        "the request's id to quote: {message}"
    );
    for leak in ["sqlx", "postgres", "SELECT", "database \""] {
        assert!(!message.contains(leak), "internal detail leaked: {message}");
    }
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    app.finish().await;
}

#[tokio::test]
async fn readiness_and_liveness_answer() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn hosts_outside_allowed_hosts_get_400() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for host in ["evil.example", "localhost.evil.example", "127.0.0.2", ""] {
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{host}");
        assert_eq!(error_code(res).await, "invalid_host");
    }
    for host in ["localhost", "LOCALHOST:8080", "127.0.0.1:1"] {
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{host}");
    }
    app.finish().await;
}

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/api/v1/auth/login")).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn hostile_json_bodies_get_4xx_never_5xx() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let json = Some("application/json");
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(Option<&str>, Vec<u8>, StatusCode)> = vec![
        (json, b"{".to_vec(), StatusCode::BAD_REQUEST),
        (json, b"".to_vec(), StatusCode::BAD_REQUEST),
        (json, b"null".to_vec(), StatusCode::BAD_REQUEST),
        (json, b"[]".to_vec(), StatusCode::BAD_REQUEST),
        (
            json,
            br#"{"email": 1, "password": []}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json,
            br#"{"email": "a@example.com"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json,
            b"{\"email\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (json, nested.into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
        (
            json,
            vec![b' '; 10 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Some("text/plain"),
            br#"{"email":"a@example.com","password":"x"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            None,
            br#"{"email":"a@example.com","password":"x"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"email=a&password=b".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (ct, body, expected) in cases {
        let len = body.len();
        let res = post_raw(&app, ct, body).await;
        assert_eq!(res.status(), expected, "{ct:?}, {len} bytes");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
    // Deep nesting under the size limit is refused by the parser's recursion limit.
    let deep = format!("{}{}", "[".repeat(4_000), "]".repeat(4_000));
    assert_eq!(
        post_raw(&app, json, deep.into_bytes()).await.status(),
        StatusCode::BAD_REQUEST
    );
    app.finish().await;
}

#[tokio::test]
async fn wrong_methods_and_huge_headers_get_4xx() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-filler", "a".repeat(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..200 {
        many.insert(
            reqwest::header::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
            "v".parse().unwrap(),
        );
    }
    let res = app
        .client
        .get(app.url("/healthz"))
        .headers(many)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    app.finish().await;
}

#[tokio::test]
async fn slow_header_senders_are_dropped_and_others_unaffected() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    // Meanwhile a normal client is served at once.
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The server gives up on the slow one after its header timeout (10 s).
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the slow connection was still open after 20 s"
    );
    app.finish().await;
}

/// Sends the head of an upload and then its file a byte at a time, for as long as the
/// server reads; returns the server's whole answer.
async fn trickle_upload(addr: std::net::SocketAddr, token: &str) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let file = support::images::png(64, 48, 1);
    let head = format!(
        "POST /api/v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {}\r\n\r\n\
         --XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\
         Content-Type: image/png\r\n\r\n",
        file.len() + 200
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for byte in file {
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), read.read_to_end(&mut answer)).await;
    trickle.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Starts one trickling upload per upload slot and returns once every slot is held
/// (only then can a later upload prove what a full house does).
async fn hold_every_upload_slot(
    app: &TestApp,
    token: &str,
) -> Vec<tokio::task::JoinHandle<String>> {
    let slow: Vec<_> = (0..imagevault_server::app::upload_slots())
        .map(|_| {
            let (addr, token) = (app.addr, token.to_owned());
            tokio::spawn(async move { trickle_upload(addr, &token).await })
        })
        .collect();
    let all_taken = async {
        while app.state.upload_slots.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), all_taken)
        .await
        .expect("the tricklers hold every upload slot");
    slow
}

#[tokio::test]
async fn slow_body_uploads_are_cut_off_and_others_unaffected() {
    let app = TestApp::spawn_with(Engine::Sqlite, &[("UPLOAD_TIMEOUT_SECONDS", "3")]).await;
    let token = app.signed_up_user("slow-body@example.com").await;
    // Enough tricklers to hold every upload slot: the normal upload can only be served
    // if the time limit frees a slot.
    let slow = hold_every_upload_slot(&app, &token).await;
    let fast = app.upload(&token, "fast.png", support::images::png(32, 32, 2));
    let res = tokio::time::timeout(Duration::from_secs(20), fast)
        .await
        .expect("a normal upload is served once the time limit frees a slot");
    assert_eq!(res.status(), StatusCode::CREATED);
    for answer in slow {
        let answer = tokio::time::timeout(Duration::from_secs(20), answer)
            .await
            .expect("the trickling upload was cut off")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("took longer than 3 seconds"), "{answer}");
    }
    let listed = app.listed(&token).await["items"].as_array().unwrap().len();
    assert_eq!(listed, 1, "only the fast upload");
    app.finish().await;
}

#[tokio::test]
async fn uploads_waiting_too_long_for_a_slot_are_told_the_server_is_busy() {
    let app = TestApp::spawn_with(Engine::Sqlite, &[("UPLOAD_TIMEOUT_SECONDS", "60")]).await;
    let token = app.signed_up_user("busy@example.com").await;
    // Tricklers hold every slot far longer than the wait for one.
    let slow = hold_every_upload_slot(&app, &token).await;
    let other = app.signed_up_user("other@example.com").await;
    let waiting = app.upload(&other, "waiting.png", support::images::png(32, 32, 2));
    let res = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the wait for a slot has a deadline");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(support::error_code(res).await, "busy");
    assert!(
        app.listed(&other).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for task in slow {
        task.abort();
    }
    app.finish().await;
}

#[tokio::test]
async fn one_user_trickling_on_every_slot_cannot_delay_another() {
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        &[("UPLOADS_PER_USER", "2"), ("UPLOAD_TIMEOUT_SECONDS", "60")],
    )
    .await;
    let hog = app.signed_up_user("hog@example.com").await;
    // One trickler per slot: only the account's two are let in; the rest are told at
    // once, before their bodies are read.
    let slots = imagevault_server::app::upload_slots();
    let tricklers: Vec<_> = (0..slots)
        .map(|_| {
            let (addr, token) = (app.addr, hog.clone());
            tokio::spawn(async move { trickle_upload(addr, &token).await })
        })
        .collect();
    let two_held = async {
        while app.state.upload_slots.available_permits() > slots - 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), two_held)
        .await
        .expect("the account's two uploads hold their slots");
    // A third upload through another instance is refused too: the count is shared.
    let (sibling, sibling_handle) = app.sibling_with(&[("UPLOADS_PER_USER", "2")]).await;
    let extra = trickle_upload(sibling, &hog).await;
    assert!(extra.starts_with("HTTP/1.1 429"), "{extra}");
    assert!(extra.to_lowercase().contains("retry-after"), "{extra}");
    assert!(extra.contains("rate_limited"), "{extra}");
    sibling_handle.stop_forceful();

    // Someone else uploads as if nothing were happening: no wait for a slot, no 503.
    let other = app.signed_up_user("patient@example.com").await;
    let res = app
        .upload(&other, "mine.png", support::images::png(32, 32, 2))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.state.upload_slots.available_permits(), slots - 2);

    // Of the hog's tricklers, all but two were answered 429; two are still sending.
    let answered = async {
        while tricklers.iter().filter(|t| t.is_finished()).count() < slots - 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(40), answered)
        .await
        .expect("the refused tricklers were answered");
    let mut still = 0;
    for task in tricklers {
        if task.is_finished() {
            let answer = task.await.unwrap();
            assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        } else {
            still += 1;
            task.abort();
        }
    }
    assert_eq!(still, 2, "two uploads in progress");
    app.finish().await;
}

#[tokio::test]
async fn a_plain_form_has_one_deadline_for_all_its_files() {
    let app = TestApp::spawn_with(Engine::Sqlite, &[("UPLOAD_TIMEOUT_SECONDS", "3")]).await;
    let token = app.signed_up_user("form@example.com").await;
    // Two files, each arriving well within 3 s, but the whole form takes longer.
    let file = support::images::png(8, 8, 1);
    let part = |name: &str| {
        let mut part = format!(
            "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        part.extend_from_slice(&file);
        part.extend_from_slice(b"\r\n");
        part
    };
    let body = part("one.png");
    let second = part("two.png");
    let end = b"--XYZ--\r\n".to_vec();
    let length = body.len() + second.len() + end.len();
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {length}\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    write.write_all(&body).await.unwrap();
    // The second file starts after 2 s and trickles for 2 s more: 4 s in all.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sender = tokio::spawn(async move {
        for chunk in second.chunks(second.len() / 8 + 1).chain([end.as_slice()]) {
            if write.write_all(chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut answer)).await;
    sender.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("took longer than 3 seconds"), "{answer}");
    // The first file, whole and in time, is kept; the second is not.
    let listed = app.listed(&token).await["items"].as_array().unwrap().len();
    assert_eq!(listed, 1);
    app.finish().await;
}

#[test]
fn upload_timeout_is_configurable_and_checked() {
    let config = |v: &str| {
        imagevault_server::config::Config::from_lookup(|k| {
            (k == "UPLOAD_TIMEOUT_SECONDS")
                .then(|| v.to_owned())
                .or_else(|| (k == "DEBUG").then(|| "True".into()))
        })
    };
    assert_eq!(
        config("45").unwrap().upload_timeout,
        Duration::from_secs(45)
    );
    for bad in ["0", "-1", "3601", "soon", "2m"] {
        let err = config(bad).unwrap_err().to_string();
        assert!(err.contains("UPLOAD_TIMEOUT_SECONDS"), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn sqlite_file_is_in_wal_mode() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url)
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute("SELECT 1").await.unwrap();
    app.finish().await;
}
