//! The image API on both whole stacks — SQLite + files and PostgreSQL + S3 (a real
//! `s3s-fs` server) — over real HTTP: upload, list, read, delete, owner scoping,
//! hostile uploads, tampering, rotation, sweep and account deletion.

use imagevault_test_support as support;
use support::both_engines;

use imagevault_common::image::validate;
use imagevault_server::db::{Db, user_keys};
use imagevault_server::maintenance;
use imagevault_server::storage::BlobStore;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use support::images::{gif, jpeg, jpeg_with_metadata, png};
use support::{Engine, PASSWORD, TestApp, error_code};

both_engines!(
    upload_then_read_back_through_every_endpoint,
    other_users_images_are_indistinguishable_from_missing_ones,
    refused_uploads_get_their_4xx_and_store_nothing,
    listing_pages_newest_first_with_cursors,
    stored_blobs_hold_no_plaintext_and_tampering_fails_cleanly,
    rotating_master_keys_keeps_every_image_readable,
    sweep_removes_orphans_and_reports_rows_without_blobs,
    deleting_an_account_destroys_its_key_and_blobs,
    two_instances_share_images_through_a_rotation,
);

async fn upload_ok(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let res = app.upload(token, name, bytes).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{name}");
    res.json().await.unwrap()
}

async fn upload_then_read_back_through_every_endpoint(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("reader@example.com").await;
    let original = jpeg_with_metadata("GPS-47.3769-8.5417");
    let expected = validate(&original, "x.jpg").unwrap().bytes().to_vec();

    let res = app
        .upload(&token, "../../etc/Holiday \u{202e}gpj.jpg", original)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let object: Value = res.json().await.unwrap();
    let id = object["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/images/{id}"));
    assert_eq!(object["content_type"], "image/jpeg");
    assert_eq!(
        (object["width"].as_u64(), object["height"].as_u64()),
        (Some(64), Some(48))
    );
    assert_eq!(object["size"].as_u64(), Some(expected.len() as u64));
    let name = object["filename"].as_str().unwrap();
    assert!(!name.contains(['/', '\u{202e}']), "{name}");
    assert_eq!(std::path::Path::new(name).extension().unwrap(), "jpg");

    let meta: Value = app
        .get_bearer(&location, &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta, object);

    let res = app.get_bearer(&format!("{location}/content"), &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers[CACHE_CONTROL], "private, no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("inline; filename=\""),
        "{disposition}"
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(
        body.as_ref(),
        expected.as_slice(),
        "the sanitised bytes, exactly"
    );
    let secret = b"GPS-47.3769-8.5417";
    assert!(
        !body.windows(secret.len()).any(|w| w == secret),
        "metadata stripped"
    );

    let res = app
        .get_bearer(&format!("{location}/thumbnail"), &token)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "private, no-cache");
    let thumb = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert!(thumb.width().max(thumb.height()) <= 320);

    let list: Value = app
        .get_bearer("/api/v1/images", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([object]));
    assert_eq!(list["next_cursor"], Value::Null);

    assert_eq!(app.blob_files().len(), 2, "image and thumbnail blobs");
    let res = app.delete_bearer(&location, &token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for path in [
        location.clone(),
        format!("{location}/content"),
        format!("{location}/thumbnail"),
    ] {
        let res = app.get_bearer(&path, &token).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.delete_bearer(&location, &token).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(app.blob_files().is_empty(), "blobs removed with the image");
    app.finish().await;
}

async fn other_users_images_are_indistinguishable_from_missing_ones(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let alice = app.signed_up_user("alice@example.com").await;
    let mallory = app.signed_up_user("mallory@example.com").await;
    let object = upload_ok(&app, &alice, "a.png", png(40, 30, 1)).await;
    let theirs = format!("/api/v1/images/{}", object["id"].as_str().unwrap());
    let random = format!("/api/v1/images/{}", uuid::Uuid::new_v4());
    for suffix in ["", "/content", "/thumbnail"] {
        let stolen = app.get_bearer(&format!("{theirs}{suffix}"), &mallory).await;
        let missing = app.get_bearer(&format!("{random}{suffix}"), &mallory).await;
        assert_eq!(stolen.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let (a, b): (Value, Value) = (stolen.json().await.unwrap(), missing.json().await.unwrap());
        assert_eq!(
            a, b,
            "same answer for someone else's image and a missing one"
        );
    }
    assert_eq!(
        app.delete_bearer(&theirs, &mallory).await.status(),
        StatusCode::NOT_FOUND
    );
    for bad in [
        "/api/v1/images/not-a-uuid",
        "/api/v1/images/..%2F..%2Fetc%2Fpasswd/content",
    ] {
        assert_eq!(
            app.get_bearer(bad, &alice).await.status(),
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
    let list: Value = app
        .get_bearer("/api/v1/images", &mallory)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    assert_eq!(
        app.get_bearer(&theirs, &alice).await.status(),
        StatusCode::OK,
        "still there"
    );
    let anonymous = app.client.get(app.url(&theirs)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn refused_uploads_get_their_4xx_and_store_nothing(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("refused@example.com").await;
    let valid = jpeg(32, 32, 3);
    let mut truncated = valid.clone();
    truncated.truncate(valid.len() / 2);
    let over = vec![0xFF; 5 * 1024 * 1024 + 1];
    for (name, bytes, status, code) in [
        (
            "notes.jpg",
            b"just some text".to_vec(),
            415,
            "unsupported_type",
        ),
        (
            "page.gif",
            b"<html><script>alert(1)</script>".to_vec(),
            415,
            "unsupported_type",
        ),
        ("really-a-png.jpg", png(8, 8, 1), 422, "invalid_image"),
        ("cut.jpg", truncated, 422, "invalid_image"),
        ("empty.jpg", Vec::new(), 422, "invalid_image"),
        ("anim.png", gif(8, 8, 2), 422, "invalid_image"),
        ("huge.jpg", over, 413, "too_large"),
    ] {
        let res = app.upload(&token, name, bytes).await;
        assert_eq!(res.status().as_u16(), status, "{name}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{name}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }

    malformed_requests_are_refused(&app, &token).await;

    let list: Value = app
        .get_bearer("/api/v1/images", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]), "no row for any refused upload");
    assert!(
        app.blob_files().is_empty(),
        "no blob for any refused upload"
    );
    // The server is still healthy and accepts a good file.
    upload_ok(&app, &token, "fine.jpg", valid).await;
    app.finish().await;
}

async fn listing_pages_newest_first_with_cursors(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("pages@example.com").await;
    let mut uploaded = Vec::new();
    for seed in 0..5 {
        let object = upload_ok(&app, &token, &format!("p{seed}.png"), png(8, 8, seed)).await;
        uploaded.push(object["id"].as_str().unwrap().to_owned());
    }
    uploaded.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/images?limit=2&cursor={c}"),
            None => "/api/v1/images?limit=2".into(),
        };
        let page: Value = app.get_bearer(&path, &token).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, uploaded, "every image once, newest first");
    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=bm9wZQ",
        "cursor=%00%01",
    ] {
        let res = app
            .get_bearer(&format!("/api/v1/images?{bad}"), &token)
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(res).await, "bad_request");
    }
    app.finish().await;
}

async fn stored_blobs_hold_no_plaintext_and_tampering_fails_cleanly(engine: Engine) {
    // Without the cache, so every fetch reads and checks the stored blob again.
    let app = TestApp::spawn_stack_with(engine, &[("IMAGE_CACHE_BYTES", "0")]).await;
    let token = app.signed_up_user("tamper@example.com").await;
    let first = upload_ok(&app, &token, "one.png", png(96, 64, 5)).await;
    let second = upload_ok(&app, &token, "two.png", png(96, 64, 6)).await;
    let id = first["id"].as_str().unwrap().to_owned();
    let other = second["id"].as_str().unwrap().to_owned();
    let content = format!("/api/v1/images/{id}/content");
    let plain = app
        .get_bearer(&content, &token)
        .await
        .bytes()
        .await
        .unwrap();

    // No 16-byte window of the image appears in any stored file (blobs, database).
    let windows: std::collections::HashSet<&[u8]> = plain.chunks_exact(16).collect();
    for file in support::files_under(&app.dir) {
        let stored = std::fs::read(&file).unwrap();
        assert!(
            !stored.windows(16).any(|w| windows.contains(w)),
            "plaintext found in {}",
            file.display()
        );
    }

    let blob = app.blob_file(&id, false);
    let sealed = std::fs::read(&blob).unwrap();
    for position in [
        0,
        1,
        4,
        5,
        20,
        21,
        sealed.len() / 2,
        sealed.len() - 33,
        sealed.len() - 1,
    ] {
        let mut flipped = sealed.clone();
        flipped[position] ^= 0x01;
        std::fs::write(&blob, &flipped).unwrap();
        let res = app.get_bearer(&content, &token).await;
        assert_eq!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "byte {position}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("request")
        );
    }
    std::fs::write(&blob, &sealed[..sealed.len() - 16]).unwrap();
    assert_eq!(
        app.get_bearer(&content, &token).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // Another image's blob (same owner, same key) in its place fails too.
    std::fs::copy(app.blob_file(&other, false), &blob).unwrap();
    assert_eq!(
        app.get_bearer(&content, &token).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // Its thumbnail in its place fails too (keys are per blob kind).
    std::fs::copy(app.blob_file(&id, true), &blob).unwrap();
    assert_eq!(
        app.get_bearer(&content, &token).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    std::fs::write(&blob, &sealed).unwrap();
    let res = app.get_bearer(&content, &token).await;
    assert_eq!(res.status(), StatusCode::OK, "restored blob reads again");
    assert_eq!(res.bytes().await.unwrap(), plain);
    app.finish().await;
}

async fn rotating_master_keys_keeps_every_image_readable(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("rotate@example.com").await;
    let object = upload_ok(&app, &token, "r.jpg", jpeg(50, 40, 7)).await;
    let content = format!("/api/v1/images/{}/content", object["id"].as_str().unwrap());
    let before = app
        .get_bearer(&content, &token)
        .await
        .bytes()
        .await
        .unwrap();

    let db = Db::connect(&app.db.url).await.unwrap();
    let report = maintenance::rotate_keys(&db, &app.master_keys(&db).await, false)
        .await
        .unwrap();
    assert_eq!((report.version, report.rewrapped), (2, 1));
    assert_eq!(
        user_keys::kek_versions_in_use(db.pool()).await.unwrap(),
        vec![2]
    );
    // Re-running finishes cleanly and adds another version.
    let again = maintenance::rotate_keys(&db, &app.master_keys(&db).await, false)
        .await
        .unwrap();
    assert_eq!((again.version, again.rewrapped), (3, 1));

    // The running server follows the rotation without a restart.
    let res = app.get_bearer(&content, &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.bytes().await.unwrap(),
        before,
        "images untouched by rotation"
    );
    let newcomer = app.signed_up_user("after-rotation@example.com").await;
    upload_ok(&app, &newcomer, "n.gif", gif(10, 10, 1)).await;
    // The server wraps the newcomer's key with the newest version, not the one it
    // started with.
    assert_eq!(
        user_keys::kek_versions_in_use(db.pool()).await.unwrap(),
        vec![3]
    );
    app.finish().await;
}

async fn sweep_removes_orphans_and_reports_rows_without_blobs(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("sweep@example.com").await;
    let kept = upload_ok(&app, &token, "kept.png", png(8, 8, 1)).await;
    let orphaned = upload_ok(&app, &token, "orphan.png", png(8, 8, 2)).await;
    let damaged = upload_ok(&app, &token, "damaged.png", png(8, 8, 3)).await;
    let db = Db::connect(&app.db.url).await.unwrap();
    // A crash between "delete row" and "delete blobs" leaves orphans...
    sqlx::query("DELETE FROM images WHERE id = $1")
        .bind(orphaned["id"].as_str().unwrap())
        .execute(db.pool())
        .await
        .unwrap();
    // ...and a lost blob leaves a row pointing nowhere.
    let damaged_id = damaged["id"].as_str().unwrap().to_owned();
    std::fs::remove_file(app.blob_file(&damaged_id, true)).unwrap();

    let store = BlobStore::open(&app.config.storage).unwrap();
    let young = maintenance::sweep(&db, &store, maintenance::SWEEP_GRACE)
        .await
        .unwrap();
    assert_eq!(
        (young.removed, young.young_orphans),
        (0, 2),
        "young orphans are left alone"
    );
    let report = maintenance::sweep(&db, &store, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.blobs, 5);
    assert_eq!(report.removed, 2);
    assert_eq!(report.rows_without_blobs, vec![damaged_id.parse().unwrap()]);
    assert_eq!(app.blob_files().len(), 3);
    let kept = format!("/api/v1/images/{}/content", kept["id"].as_str().unwrap());
    assert_eq!(app.get_bearer(&kept, &token).await.status(), StatusCode::OK);
    app.finish().await;
}

async fn deleting_an_account_destroys_its_key_and_blobs(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("leaving@example.com").await;
    let other = app.signed_up_user("staying@example.com").await;
    upload_ok(&app, &token, "mine.jpg", jpeg(20, 20, 1)).await;
    upload_ok(&app, &token, "mine.png", png(20, 20, 2)).await;
    let theirs = upload_ok(&app, &other, "theirs.png", png(20, 20, 3)).await;
    assert_eq!(app.blob_files().len(), 6);

    let res = app.delete_me(&token, "not-the-password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.blob_files().len(),
        6,
        "nothing deleted without the password"
    );

    assert_eq!(
        app.delete_me(&token, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    let db = Db::connect(&app.db.url).await.unwrap();
    let me: Value = app.me(&other).await.json().await.unwrap();
    let leaving_keys: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_keys WHERE user_id <> $1")
            .bind(me["id"].as_str().unwrap())
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(leaving_keys, 0, "the user key is destroyed");
    assert_eq!(
        app.blob_files().len(),
        2,
        "only the other user's blobs remain"
    );
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::UNAUTHORIZED,
        "sessions gone"
    );
    assert_eq!(
        app.login("leaving@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let path = format!("/api/v1/images/{}/content", theirs["id"].as_str().unwrap());
    assert_eq!(app.get_bearer(&path, &other).await.status(), StatusCode::OK);
    app.finish().await;
}

/// Bodies that are not one well-formed `file` part: 400s, or 413 from the header alone.
async fn malformed_requests_are_refused(app: &TestApp, token: &str) {
    use reqwest::multipart::{Form, Part};
    let post = |form: Form| {
        app.client
            .post(app.url("/api/v1/images"))
            .bearer_auth(token)
            .multipart(form)
    };
    let file = || Part::bytes(jpeg(16, 16, 4)).file_name("a.jpg");
    let two_files = Form::new().part("file", file()).part("file", file());
    let other_field = Form::new().part("picture", file());
    let no_file = Form::new().text("csrf_token", "x");
    for (what, form) in [
        ("two files", two_files),
        ("other field", other_field),
        ("no file", no_file),
    ] {
        let res = post(form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(error_code(res).await, "bad_request");
    }
    let json_body = app
        .client
        .post(app.url("/api/v1/images"))
        .bearer_auth(token)
        .json(&json!({"file": "aGVsbG8="}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    let garbage = app
        .client
        .post(app.url("/api/v1/images"))
        .bearer_auth(token)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let declared = app
        .client
        .post(app.url("/api/v1/images"))
        .bearer_auth(token)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=XYZ")
        .header("content-length", "999999999")
        .body("--XYZ--")
        .send()
        .await;
    // Refused from the header alone; the client may see the 413 or a reset connection.
    if let Ok(res) = declared {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let anonymous = app
        .client
        .post(app.url("/api/v1/images"))
        .multipart(Form::new().part("file", file()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// Scale-out: two instances on one database and one store (S3 on the PostgreSQL stack)
/// serve each other's uploads, and a key rotation run while both serve breaks neither.
async fn two_instances_share_images_through_a_rotation(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let (other, other_handle) = app.sibling().await;
    let other = format!("http://{other}");
    let token = app.signed_up_user("twins@example.com").await;
    let object = upload_ok(&app, &token, "a.jpg", jpeg(40, 30, 1)).await;
    let id = object["id"].as_str().unwrap().to_owned();
    let read_on = |base: String, id: String| {
        let (client, token) = (app.client.clone(), token.clone());
        async move {
            let res = client
                .get(format!("{base}/api/v1/images/{id}/content"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            (res.status(), res.bytes().await.unwrap())
        }
    };
    let (status, on_a) = read_on(app.base.clone(), id.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        read_on(other.clone(), id.clone()).await,
        (StatusCode::OK, on_a.clone())
    );

    let db = Db::connect(&app.db.url).await.unwrap();
    maintenance::rotate_keys(&db, &app.master_keys(&db).await, false)
        .await
        .unwrap();
    for base in [app.base.clone(), other.clone()] {
        assert_eq!(
            read_on(base, id.clone()).await,
            (StatusCode::OK, on_a.clone())
        );
    }
    // An upload on the second instance after the rotation reads on the first.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(20, 20, 2)).file_name("b.png"),
    );
    let res = app
        .client
        .post(format!("{other}/api/v1/images"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let second: Value = res.json().await.unwrap();
    let (status, _) = read_on(app.base.clone(), second["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    other_handle.stop_forceful();
    app.finish().await;
}
