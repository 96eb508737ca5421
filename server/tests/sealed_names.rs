//! Filenames sealed under their owner's key, on both stacks: no name in clear in the
//! database, the rows of earlier versions sealed when a server starts, and a sealed name
//! moved onto another row (or another user's) shown as unreadable, never as the other
//! image's name.

use imagevault_test_support as support;

use imagevault_server::db::Db;
use imagevault_server::image_names::UNREADABLE;
use reqwest::StatusCode;
use serde_json::Value;
use support::images::jpeg;
use support::{Engine, TestApp, both_engines};

both_engines!(
    names_are_sealed_and_rows_of_earlier_versions_are_sealed_at_start,
    a_name_moved_to_another_row_does_not_open,
);

const SECRET_NAME: &str = "passport_scan.jpg";

/// Uploads `name`; the new image's id.
async fn upload(app: &TestApp, token: &str, name: &str, seed: u32) -> String {
    let res = app.upload(token, name, jpeg(24, 16, seed)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let object: Value = res.json().await.unwrap();
    assert_eq!(object["filename"], name, "the upload answers the name");
    object["id"].as_str().unwrap().to_owned()
}

/// `id → name` as the listing shows them.
async fn listed(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let res = app.get_bearer("/api/v1/images?limit=100", token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["id"].as_str().unwrap().to_owned(),
                item["filename"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn name_of(app: &TestApp, token: &str, id: &str) -> String {
    let res = app.get_bearer(&format!("/api/v1/images/{id}"), token).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["filename"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `(filename, sealed_name)` columns of one row.
async fn columns(db: &Db, id: &str) -> (String, String) {
    sqlx::query_as("SELECT filename, sealed_name FROM images WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn names_are_sealed_and_rows_of_earlier_versions_are_sealed_at_start(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("names@example.com").await;
    let secret = upload(&app, &token, SECRET_NAME, 1).await;
    let unicode = "Ünïcødé – 日本の写真.jpg";
    let other = upload(&app, &token, unicode, 2).await;
    let mut names = listed(&app, &token).await;
    names.sort();
    let mut expected = vec![
        (secret.clone(), SECRET_NAME.to_owned()),
        (other.clone(), unicode.to_owned()),
    ];
    expected.sort();
    assert_eq!(names, expected);

    let db = Db::connect(&app.db.url).await.unwrap();
    let (clear, sealed) = columns(&db, &secret).await;
    assert_eq!(clear, "", "nothing in the clear column");
    assert!(!sealed.is_empty() && !sealed.contains("passport"));
    if engine == Engine::Sqlite {
        let mut on_disk = std::fs::read(app.dir.join("test.db")).unwrap();
        on_disk.extend(std::fs::read(app.dir.join("test.db-wal")).unwrap_or_default());
        assert!(
            !contains(&on_disk, b"passport_scan"),
            "the name is on disk in clear"
        );
    }

    // A row as an earlier version wrote it: its name in clear, nothing sealed.
    sqlx::query("UPDATE images SET filename = $1, sealed_name = '' WHERE id = $2")
        .bind("old scan.jpg")
        .bind(&other)
        .execute(db.pool())
        .await
        .unwrap();
    // More than one batch of them (rows only: the listing reads no blob).
    let owner: String = sqlx::query_scalar("SELECT owner_id FROM images WHERE id = $1")
        .bind(&other)
        .fetch_one(db.pool())
        .await
        .unwrap();
    support::images::insert_rows_of_an_earlier_version(&db, &owner, 1100).await;
    let (_, handle) = app.sibling().await;
    handle.stop_forceful();
    let (clear, sealed) = columns(&db, &other).await;
    assert_eq!(clear, "", "a start seals the rows of earlier versions");
    assert!(!sealed.is_empty());
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM images WHERE sealed_name = '' OR filename <> ''")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(left, 0, "every row of an earlier version is sealed");
    let res = app.get_bearer("/api/v1/images?limit=100", &token).await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(
        page["items"][99]["filename"], "photo-1002.jpg",
        "newest first, names open"
    );
    assert_eq!(name_of(&app, &token, &other).await, "old scan.jpg");
    let res = app
        .get_bearer(&format!("/api/v1/images/{other}/content"), &token)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("old%20scan.jpg"), "{disposition}");
    // Sealed once: a second start leaves the sealed name as it is.
    let (_, handle) = app.sibling().await;
    handle.stop_forceful();
    assert_eq!(columns(&db, &other).await.1, sealed);
    db.pool().close().await;
    app.finish().await;
}

async fn a_name_moved_to_another_row_does_not_open(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let alice = app.signed_up_user("alice@example.com").await;
    let bob = app.signed_up_user("bob@example.com").await;
    let kept = upload(&app, &alice, SECRET_NAME, 1).await;
    let swapped = upload(&app, &alice, "holiday.jpg", 2).await;
    let bobs = upload(&app, &bob, "bob.jpg", 3).await;
    let garbled = upload(&app, &alice, "garbled.jpg", 4).await;

    let db = Db::connect(&app.db.url).await.unwrap();
    let (_, sealed) = columns(&db, &kept).await;
    let set = async |id: &str, value: &str| {
        sqlx::query("UPDATE images SET sealed_name = $1 WHERE id = $2")
            .bind(value)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    };
    set(&swapped, &sealed).await;
    set(&bobs, &sealed).await;
    set(&garbled, "not base64 at all!").await;

    let names: std::collections::HashMap<_, _> = listed(&app, &alice).await.into_iter().collect();
    assert_eq!(names[&kept], SECRET_NAME);
    assert_eq!(
        names[&swapped], UNREADABLE,
        "another row's name never shows"
    );
    assert_eq!(names[&garbled], UNREADABLE);
    assert_eq!(name_of(&app, &bob, &bobs).await, UNREADABLE);
    // The image itself is still there to open, share or delete.
    let res = app
        .get_bearer(&format!("/api/v1/images/{swapped}/content"), &alice)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let browser = support::browser();
    let res = app.login_form(&browser, "alice@example.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = app.page(&browser, &format!("/images/{swapped}")).await;
    assert!(page.contains(UNREADABLE) && !page.contains(SECRET_NAME));
    db.pool().close().await;
    app.finish().await;
}
