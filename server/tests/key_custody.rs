//! Key custody: what is left of a destroyed user key on disk, retiring master-key
//! versions that no user key uses any more, and a user-key rotation meeting a damaged
//! blob.

use imagevault_test_support as support;

use imagevault_server::audit;
use imagevault_server::db::ids::UserId;
use imagevault_server::db::{Db, user_keys};
use imagevault_server::maintenance;
use imagevault_server::rekey::{self, Whom};
use imagevault_server::vault::keyring::{Keyring, WrappedKey};
use reqwest::StatusCode;
use serde_json::Value;
use support::images::jpeg;
use support::{Engine, PASSWORD, TestApp, both_engines};

/// Every byte of the SQLite database as it is on disk: the file and its write-ahead log.
fn sqlite_files(app: &TestApp) -> Vec<u8> {
    let db = app.dir.join("test.db");
    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(app.dir.join("test.db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_deleted_accounts_wrapped_key_is_gone_from_the_sqlite_file_and_its_log() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.signed_up_user("leaving@example.com").await;
    let res = app.upload(&token, "a.jpg", jpeg(32, 24, 1)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let me: Value = app.me(&token).await.json().await.unwrap();
    let db = Db::connect(&app.db.url).await.unwrap();
    let wrapped: String = sqlx::query_scalar("SELECT wrapped FROM user_keys WHERE user_id = $1")
        .bind(me["id"].as_str().unwrap())
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.pool().close().await;
    assert!(
        contains(&sqlite_files(&app), wrapped.as_bytes()),
        "the scan sees the key while the account exists"
    );

    assert_eq!(
        app.delete_me(&token, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    let on_disk = sqlite_files(&app);
    assert!(
        !contains(&on_disk, wrapped.as_bytes()),
        "the wrapped key survives in the database file or its log"
    );
    // A prefix long enough to be unique, in case a page kept part of the cell.
    assert!(!contains(&on_disk, &wrapped.as_bytes()[..16]));
    app.finish().await;
}

both_engines!(retiring_removes_unused_master_keys_and_the_audit_log_still_verifies);

async fn retiring_removes_unused_master_keys_and_the_audit_log_still_verifies(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let token = app.signed_up_user("keeper@example.com").await;
    let res = app.upload(&token, "k.jpg", jpeg(40, 30, 2)).await;
    let object: Value = res.json().await.unwrap();
    let content = format!("/api/v1/images/{}/content", object["id"].as_str().unwrap());
    let before = app
        .get_bearer(&content, &token)
        .await
        .bytes()
        .await
        .unwrap();
    let db = Db::connect(&app.db.url).await.unwrap();
    let keys = app.master_keys(&db).await;
    let path = &app.config.master_key_file;

    let plain = maintenance::rotate_keys(&db, &keys, false).await.unwrap();
    assert_eq!((plain.version, plain.retired.len()), (2, 0));
    assert_eq!(Keyring::load(path).unwrap().unwrap().versions(), vec![1, 2]);

    let retired = maintenance::rotate_keys(&db, &keys, true).await.unwrap();
    assert_eq!((retired.version, retired.retired), (3, vec![1, 2]));
    let ring = Keyring::load(path).unwrap().unwrap();
    assert_eq!(ring.versions(), vec![3], "only the newest can unwrap");
    let text = String::from_utf8(imagevault_durable::read_private(path).unwrap().to_vec()).unwrap();
    let kinds: Vec<&str> = text.lines().map(|l| l.split_once(':').unwrap().0).collect();
    assert_eq!(
        kinds,
        vec!["v3", "a1", "a2"],
        "retired versions keep only audit keys"
    );

    // The running server follows: the image reads back, new audit rows chain on.
    let res = app.get_bearer(&content, &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), before);
    let newcomer = app.signed_up_user("newcomer@example.com").await;
    assert_eq!(
        app.upload(&newcomer, "n.jpg", jpeg(8, 8, 3)).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        user_keys::kek_versions_in_use(db.pool()).await.unwrap(),
        vec![3]
    );
    // Rows chained under versions 1 and 2 still check out, with a freshly opened ring.
    let report = audit::verify(&db, &app.master_keys(&db).await)
        .await
        .unwrap();
    assert!(report.broken.is_none(), "{:?}", report.broken);
    assert!(report.rows > 3);

    // A key wrapped by a retired version is never stored (a server that wrapped it just
    // before the rotation tries again with the newest).
    let late: Value = app
        .me(&app.signed_up_user("late@example.com").await)
        .await
        .json()
        .await
        .unwrap();
    let late: UserId = late["id"].as_str().unwrap().parse().unwrap();
    let stale = WrappedKey {
        kek_version: 1,
        bytes: vec![0; 40],
    };
    user_keys::insert_if_absent(db.pool(), late, &stale)
        .await
        .unwrap();
    assert_eq!(user_keys::get_keys(db.pool(), late).await.unwrap(), None);

    // The newest version is never retired, and a retired number is never reused.
    assert!(Keyring::retire(path, &[3]).is_err());
    let next = maintenance::rotate_keys(&db, &keys, true).await.unwrap();
    assert_eq!((next.version, next.retired), (4, vec![3]));
    app.finish().await;
}

#[tokio::test]
async fn a_blob_that_does_not_open_stops_the_key_rotation_and_loses_nothing() {
    // No cache: every read below comes from the store.
    let app = TestApp::spawn_with(Engine::Sqlite, &[("IMAGE_CACHE_BYTES", "0")]).await;
    let token = app.signed_up_user("careful@example.com").await;
    let mut ids = Vec::new();
    for seed in 0..2 {
        let res = app.upload(&token, "c.jpg", jpeg(24, 24, seed)).await;
        let object: Value = res.json().await.unwrap();
        ids.push(object["id"].as_str().unwrap().to_owned());
    }
    let content = |id: &str| format!("/api/v1/images/{id}/content");
    let good = app
        .get_bearer(&content(&ids[0]), &token)
        .await
        .bytes()
        .await
        .unwrap();
    let damaged = app.blob_file(&ids[1], false);
    let original = std::fs::read(&damaged).unwrap();
    let mut flipped = original.clone();
    flipped[30] ^= 1;
    std::fs::write(&damaged, &flipped).unwrap();

    let state = &app.state;
    let whom = Whom::Email("careful@example.com".into());
    let mut quiet = |_, _, _| {};
    let err = rekey::rotate_user_keys(&state.db, &state.store, &state.keyring, &whom, &mut quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&ids[1]) && err.contains("restore the blob"),
        "{err}"
    );
    // The old key still opens everything not damaged, and nothing was made unreadable.
    let me: Value = app.me(&token).await.json().await.unwrap();
    let owner: UserId = me["id"].as_str().unwrap().parse().unwrap();
    let keys = user_keys::get_keys(state.db.pool(), owner)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(keys.epoch, 0, "the old key is kept while an image needs it");
    assert_eq!(
        app.get_bearer(&content(&ids[0]), &token)
            .await
            .bytes()
            .await
            .unwrap(),
        good
    );
    assert_eq!(
        std::fs::read(&damaged).unwrap(),
        flipped,
        "the damaged blob is left as it was"
    );

    // Restored from a backup, the job finishes.
    std::fs::write(&damaged, &original).unwrap();
    let done = rekey::rotate_user_keys(&state.db, &state.store, &state.keyring, &whom, &mut quiet)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].epoch, 1);
    for id in &ids {
        assert_eq!(
            app.get_bearer(&content(id), &token).await.status(),
            StatusCode::OK
        );
    }
    app.finish().await;
}
