//! `Idempotency-Key` on uploads, on both stacks (design.md, "Upload idempotency"): a
//! retry after a lost answer, concurrent duplicates, keys of other users, keys freed by
//! a failure, a deletion or a day, and hostile keys.

use imagevault_test_support as support;

use futures_util::future::join_all;
use reqwest::header::LOCATION;
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use support::images::jpeg;
use support::{Engine, TestApp, both_engines};

both_engines!(
    a_retry_gets_the_first_answer_and_stores_nothing_new,
    concurrent_uploads_with_one_key_store_one_image,
    a_key_is_freed_by_a_failure_a_deletion_or_a_day_and_is_per_user,
    hostile_keys_are_refused_and_store_nothing,
);

/// Posts `bytes` as `name` with `key` as its `Idempotency-Key` (raw bytes, so hostile
/// values reach the server as sent).
async fn upload_keyed(
    app: &TestApp,
    token: &str,
    key: &[u8],
    name: &str,
    bytes: Vec<u8>,
) -> Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    app.client
        .post(app.url("/api/v1/images"))
        .bearer_auth(token)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(key).unwrap(),
        )
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A 201's `Location` and body.
async fn created(res: Response) -> (String, Value) {
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    (location, res.json().await.unwrap())
}

/// Ids of the user's images, newest first.
async fn ids(app: &TestApp, token: &str) -> Vec<String> {
    app.listed(token).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `(bytes_used, image_count)` of the account with `email`.
async fn usage(app: &TestApp, email: &str) -> (i64, i64) {
    sqlx::query_as("SELECT bytes_used, image_count FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

async fn a_retry_gets_the_first_answer_and_stores_nothing_new(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let email = "retry@example.com";
    let token = app.signed_up_user(email).await;
    let key = b"desktop-0123456789abcdef";
    let first =
        created(upload_keyed(&app, &token, key, "holiday.jpg", jpeg(64, 48, 1)).await).await;
    let stored = usage(&app, email).await;
    assert_eq!(stored.1, 1);

    let again =
        created(upload_keyed(&app, &token, key, "holiday.jpg", jpeg(64, 48, 1)).await).await;
    assert_eq!(again, first, "the same answer: status, Location and body");
    // Another file under the same key still gets the first answer: the key decides.
    let other = upload_keyed(&app, &token, key, "other.jpg", jpeg(30, 20, 2)).await;
    assert_eq!(created(other).await, first);
    // A large body the answer does not need is read to its end, so the client gets the
    // answer rather than a reset connection; it is not even parsed.
    let junk = upload_keyed(&app, &token, key, "junk.jpg", vec![0x5a; 4 << 20]).await;
    assert_eq!(created(junk).await, first);

    assert_eq!(ids(&app, &token).await, [first.1["id"].as_str().unwrap()]);
    assert_eq!(
        usage(&app, email).await,
        stored,
        "the quota counts one image"
    );
    assert_eq!(app.blob_files().len(), 2, "one image and one thumbnail");
    // Without a key, the same file is a new image, as before.
    let plain = app.upload(&token, "holiday.jpg", jpeg(64, 48, 1)).await;
    assert_eq!(plain.status(), StatusCode::CREATED);
    assert_eq!(ids(&app, &token).await.len(), 2);
    app.finish().await;
}

async fn concurrent_uploads_with_one_key_store_one_image(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let email = "racer@example.com";
    let token = app.signed_up_user(email).await;
    let key = b"sha256-of-the-file-keyed-per-account";
    // All eight are sent at once and each takes a while to process, so none finds the
    // key at its start: only the claim inside the row's transaction keeps them to one
    // image.
    let photo = jpeg(1600, 1200, 7);
    let answers = join_all((0..8).map(|_| {
        let photo = photo.clone();
        let (app, token) = (&app, &token);
        async move { created(upload_keyed(app, token, key, "race.jpg", photo).await).await }
    }))
    .await;
    let first = &answers[0];
    assert!(
        answers.iter().all(|a| a == first),
        "every racer gets one answer: {answers:#?}"
    );
    assert_eq!(ids(&app, &token).await, [first.1["id"].as_str().unwrap()]);
    assert_eq!(usage(&app, email).await.1, 1, "the quota counts one image");
    assert_eq!(app.blob_files().len(), 2, "the losers' blobs are removed");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_keys")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(keys, 1);
    app.finish().await;
}

async fn a_key_is_freed_by_a_failure_a_deletion_or_a_day_and_is_per_user(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let alice = app.signed_up_user("alice@example.com").await;
    let bob = app.signed_up_user("bob@example.com").await;
    let key = b"same-key";

    // Per user: Bob's key names nothing of Alice's.
    let (_, a) = created(upload_keyed(&app, &alice, key, "a.jpg", jpeg(20, 20, 1)).await).await;
    let (_, b) = created(upload_keyed(&app, &bob, key, "b.jpg", jpeg(20, 20, 1)).await).await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(ids(&app, &bob).await, [b["id"].as_str().unwrap()]);

    // A refused upload claims nothing: the retry with a good file is stored.
    let refused = upload_keyed(&app, &alice, b"k2", "x.jpg", b"not an image".to_vec()).await;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, stored) =
        created(upload_keyed(&app, &alice, b"k2", "x.jpg", jpeg(20, 20, 2)).await).await;

    // Deleting the image frees its key: the same photo sent again is a new image.
    let id = stored["id"].as_str().unwrap();
    let deleted = app
        .delete_bearer(&format!("/api/v1/images/{id}"), &alice)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (_, again) =
        created(upload_keyed(&app, &alice, b"k2", "x.jpg", jpeg(20, 20, 2)).await).await;
    assert_ne!(again["id"], stored["id"]);

    // A day (and a second) later the key is free again, and the hourly purge removes what has expired.
    let day_ago = imagevault_server::db::now() - imagevault_server::db::upload_keys::LIFETIME - 1;
    sqlx::query("UPDATE upload_keys SET created_at = $1 WHERE idem_key = 'same-key'")
        .bind(day_ago)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let (_, next_day) =
        created(upload_keyed(&app, &alice, key, "a.jpg", jpeg(20, 20, 1)).await).await;
    assert_ne!(next_day["id"], a["id"]);
    assert_eq!(ids(&app, &alice).await.len(), 3);
    app.state
        .db
        .purge_stale(imagevault_server::db::now())
        .await
        .unwrap();
    let left: Vec<String> =
        sqlx::query_scalar("SELECT idem_key FROM upload_keys ORDER BY idem_key")
            .fetch_all(app.state.db.pool())
            .await
            .unwrap();
    // Alice's renewed key and her "k2" stay; Bob's day-old key is purged.
    assert_eq!(left, ["k2", "same-key"]);
    app.finish().await;
}

async fn hostile_keys_are_refused_and_store_nothing(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("hostile@example.com").await;
    let too_long = vec![b'k'; 65];
    for key in [&b""[..], &too_long, b"tab\there", "ünïcødé".as_bytes()] {
        let res = upload_keyed(&app, &token, key, "k.jpg", jpeg(8, 8, 1)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{key:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Idempotency-Key must be 1 to 64"),
            "{message}"
        );
    }
    assert!(ids(&app, &token).await.is_empty(), "nothing stored");
    // The longest key, every printable character class in it, is accepted.
    let longest: Vec<u8> = (b' '..=b'~').cycle().skip(1).take(64).collect();
    let first = created(upload_keyed(&app, &token, &longest, "k.jpg", jpeg(8, 8, 1)).await).await;
    let again = created(upload_keyed(&app, &token, &longest, "k.jpg", jpeg(8, 8, 1)).await).await;
    assert_eq!(again, first);
    assert_eq!(ids(&app, &token).await.len(), 1);
    app.finish().await;
}
