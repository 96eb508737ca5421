//! Crash safety of uploads: the real binary is killed with SIGKILL while uploads are in
//! flight, restarted, and audited — every upload that got its 201 reads back
//! bit-identical, and no row points to a missing blob (`sweep` finds none); then
//! `rotate-keys` runs beside the live server. Run on the embedded default (SQLite +
//! files) and on PostgreSQL + S3.

use imagevault_test_support as support;
use support::both_engines;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagevault_common::image::validate;
use reqwest::StatusCode;
use serde_json::Value;
use support::images::jpeg;
use support::process::Process;
use support::{Engine, S3Server, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");
const EMAIL: &str = "crash@example.com";
const UPLOADERS: u32 = 8;

both_engines!(acknowledged_uploads_survive_sigkill);

/// `(image id, bytes it must read back as)` of every acknowledged upload.
type Acknowledged = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Uploads distinct images until the server dies, recording each acknowledged one
/// with the bytes it must read back as.
async fn upload_until_killed(
    client: reqwest::Client,
    url: String,
    token: String,
    worker: u32,
    acknowledged: Acknowledged,
) {
    for round in 0.. {
        let original = jpeg(160, 120, worker * 10_000 + round);
        let expected = validate(&original, "a.jpg").unwrap().bytes().to_vec();
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(original).file_name("a.jpg"),
        );
        let Ok(res) = client
            .post(&url)
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
        else {
            return;
        };
        if res.status() != StatusCode::CREATED {
            return;
        }
        let Ok(object) = res.json::<Value>().await else {
            return;
        };
        let id = object["id"].as_str().unwrap().to_owned();
        acknowledged.lock().unwrap().push((id, expected));
    }
}

async fn acknowledged_uploads_survive_sigkill(engine: Engine) {
    let dir = std::env::temp_dir().join(format!("iv-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = TestDb::create(engine, &dir).await;
    let s3 = (engine == Engine::Postgres).then(|| S3Server::start(&dir));
    let mut setup = Process::new(BIN, &dir, &db, s3.as_ref());
    // All uploaders are one account: let each of them be in flight at the kill.
    setup
        .set("UPLOADS_PER_USER", &UPLOADERS.to_string())
        .set("UPLOAD_RATE_PER_MINUTE", "100000");
    setup.create_user(EMAIL);

    let base = setup.base_url();
    let client = reqwest::Client::new();
    let mut server = setup.serve();
    let token = setup.sign_in(&client, EMAIL).await;

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..UPLOADERS)
        .map(|worker| {
            tokio::spawn(upload_until_killed(
                client.clone(),
                format!("{base}/api/v1/images"),
                token.clone(),
                worker,
                acknowledged.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_mins(1);
    while acknowledged.lock().unwrap().len() < 24 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap(); // SIGKILL, mid-upload
    server.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(
        acknowledged.len() >= 24,
        "uploads were acknowledged before the kill"
    );

    let mut server = setup.serve();
    for (id, expected) in &acknowledged {
        assert_eq!(
            &setup.content(&client, &token, id).await,
            expected,
            "{id} changed"
        );
    }
    let (ok, report) = setup.job(&["sweep", "--grace-seconds", "0"]);
    assert!(ok, "a row points to a missing blob: {report}");
    // The operator rotates the master key while the server runs; it keeps serving.
    let (ok, said) = setup.job(&["rotate-keys"]);
    assert!(
        ok && said.contains("version 2 added; 1 user key(s) rewrapped"),
        "{said}"
    );
    let (id, expected) = &acknowledged[0];
    assert_eq!(&setup.content(&client, &token, id).await, expected);

    server.kill().unwrap();
    server.wait().unwrap();
    drop(s3);
    db.drop_database().await;
    let _ = std::fs::remove_dir_all(&dir);
}
