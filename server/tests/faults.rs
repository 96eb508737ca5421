//! Faults of the parts around the server, each with a verdict: the object store going
//! away and coming back, and the blob volume filling up. Requests fail cleanly with the
//! documented status (503, 507), quickly, nothing is half-written, and service comes
//! back by itself.

use imagevault_test_support as support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::images::{jpeg, png};
use support::{Engine, TestApp, error_code};

async fn image_count(app: &TestApp, token: &str) -> usize {
    let list: Value = app
        .get_bearer("/api/v1/images?limit=100", token)
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_outage_answers_503_then_recovers() {
    let mut app = TestApp::spawn_stack(Engine::Postgres).await;
    let token = app.signed_up_user("outage@example.com").await;
    let before = app.upload(&token, "before.jpg", jpeg(64, 64, 1)).await;
    assert_eq!(before.status(), StatusCode::CREATED);
    let before: Value = before.json().await.unwrap();

    app.s3.as_mut().unwrap().stop();
    let started = Instant::now();
    let res = app.upload(&token, "during.jpg", jpeg(64, 64, 2)).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "fails fast, no hang"
    );
    assert_eq!(error_code(res).await, "unavailable");
    let path = format!("/api/v1/images/{}/content", before["id"].as_str().unwrap());
    assert_eq!(
        app.get_bearer(&path, &token).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        image_count(&app, &token).await,
        1,
        "no row for the failed upload"
    );

    app.s3.as_mut().unwrap().resume();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let res = app.get_bearer(&path, &token).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the acknowledged upload survived"
    );
    let after = app.upload(&token, "after.jpg", jpeg(64, 64, 3)).await;
    assert_eq!(
        after.status(),
        StatusCode::CREATED,
        "recovered without a restart"
    );
    app.finish().await;
}

/// A tmpfs of `size` mounted at `dir` (root only; CI runs as root).
struct SmallVolume(std::path::PathBuf);

impl SmallVolume {
    fn mount(dir: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self(dir.to_owned())
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_blob_volume_answers_507_and_recovers() {
    let volume_dir = std::env::temp_dir().join(format!("iv-full-{}", uuid::Uuid::new_v4()));
    let volume = SmallVolume::mount(&volume_dir, "1m");
    let storage = format!("file://{}", volume_dir.display());
    let app = TestApp::spawn_stack_with(Engine::Sqlite, &[("STORAGE_URL", &storage)]).await;
    let token = app.signed_up_user("full@example.com").await;

    // Fill the volume with uploads until the store refuses.
    let mut stored = Vec::new();
    let mut refusal = None;
    for seed in 0..40 {
        let res = app.upload(&token, "fill.png", png(256, 256, seed)).await;
        match res.status() {
            StatusCode::CREATED => {
                let object: Value = res.json().await.unwrap();
                stored.push(object["id"].as_str().unwrap().to_owned());
            }
            status => {
                refusal = Some((status, error_code(res).await));
                break;
            }
        }
    }
    assert_eq!(
        refusal,
        Some((
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage".to_owned()
        )),
        "a full volume answers 507"
    );
    assert!(!stored.is_empty());
    assert_eq!(
        image_count(&app, &token).await,
        stored.len(),
        "no row for the refusal"
    );
    assert_eq!(
        support::files_under(&volume_dir).len(),
        2 * stored.len(),
        "no temporary or half-written blob left"
    );
    for id in &stored {
        let res = app
            .get_bearer(&format!("/api/v1/images/{id}/content"), &token)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "stored images stay readable");
    }

    // Space comes back: uploads work again without a restart.
    for id in stored.iter().take(3) {
        let res = app
            .delete_bearer(&format!("/api/v1/images/{id}"), &token)
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let res = app.upload(&token, "again.png", png(64, 64, 99)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.finish().await;
    drop(volume);
    let _ = std::fs::remove_dir_all(&volume_dir);
}
