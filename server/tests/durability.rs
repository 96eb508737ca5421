//! Crash safety of uploads: the real binary is killed with SIGKILL while uploads are in
//! flight, restarted, and audited — every upload that got its 201 reads back
//! bit-identical, and no row points to a missing blob (`sweep` finds none); then
//! `rotate-keys` runs beside the live server. Run on the embedded default (SQLite +
//! files) and on PostgreSQL + S3.

use imagevault_test_support as support;
use support::both_engines;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagevault_common::image::validate;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::images::jpeg;
use support::{Engine, PASSWORD, S3Server, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");
const EMAIL: &str = "crash@example.com";
const UPLOADERS: u32 = 8;

both_engines!(acknowledged_uploads_survive_sigkill);

/// `(image id, bytes it must read back as)` of every acknowledged upload.
type Acknowledged = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

struct Setup {
    vars: Vec<(&'static str, String)>,
    addr: SocketAddr,
}

fn command(setup: &Setup, dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in &setup.vars {
        cmd.env(k, v);
    }
    cmd
}

fn serve(setup: &Setup, dir: &Path) -> Child {
    let child = command(setup, dir).arg("serve").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(setup.addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(25));
    }
    child
}

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

fn create_user(setup: &Setup, dir: &Path) {
    let mut create = command(setup, dir)
        .args(["create-user", "--email", EMAIL])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        create.stdin.as_mut().unwrap(),
        format!("{PASSWORD}\n").as_bytes(),
    )
    .unwrap();
    assert!(create.wait().unwrap().success());
}

/// Runs an operator command to completion: (success, what it printed).
fn job(setup: &Setup, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = command(setup, dir)
        .args(args)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn content(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Vec<u8> {
    let res = client
        .get(format!("{base}/api/v1/images/{id}/content"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "acknowledged upload {id} lost"
    );
    res.bytes().await.unwrap().to_vec()
}

async fn acknowledged_uploads_survive_sigkill(engine: Engine) {
    let dir = std::env::temp_dir().join(format!("iv-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = TestDb::create(engine, &dir).await;
    let s3 = (engine == Engine::Postgres).then(|| S3Server::start(&dir));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut vars = vec![
        ("DEBUG", "True".to_owned()),
        ("DATA_DIR", dir.display().to_string()),
        ("DATABASE_URL", db.url.clone()),
        ("BIND_ADDR", format!("127.0.0.1:{port}")),
        (
            "SECRET_KEY",
            "crash-test-secret-key-0123456789abcdef".into(),
        ),
        // All uploaders are one account: let each of them be in flight at the kill.
        ("UPLOADS_PER_USER", UPLOADERS.to_string()),
        ("UPLOAD_RATE_PER_MINUTE", "100000".to_owned()),
    ];
    vars.extend(s3.as_ref().map(S3Server::vars).unwrap_or_default());
    let setup = Setup {
        vars,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    create_user(&setup, &dir);

    let base = format!("http://{}", setup.addr);
    let client = reqwest::Client::new();
    let mut server = serve(&setup, &dir);
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();

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

    let mut server = serve(&setup, &dir);
    for (id, expected) in &acknowledged {
        assert_eq!(
            &content(&client, &base, &token, id).await,
            expected,
            "{id} changed"
        );
    }
    let (ok, report) = job(&setup, &dir, &["sweep", "--grace-seconds", "0"]);
    assert!(ok, "a row points to a missing blob: {report}");
    // The operator rotates the master key while the server runs; it keeps serving.
    let (ok, said) = job(&setup, &dir, &["rotate-keys"]);
    assert!(
        ok && said.contains("version 2 added; 1 user key(s) rewrapped"),
        "{said}"
    );
    let (id, expected) = &acknowledged[0];
    assert_eq!(&content(&client, &base, &token, id).await, expected);

    server.kill().unwrap();
    server.wait().unwrap();
    drop(s3);
    db.drop_database().await;
    let _ = std::fs::remove_dir_all(&dir);
}
