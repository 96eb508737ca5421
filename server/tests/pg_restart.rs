//! PostgreSQL restarted under load: a private cluster (created with Debian's
//! `pg_createcluster` on its own port, so the shared server of the other tests is never
//! touched) is stopped while clients list and upload, then started again. Verdict:
//! while it is down every request answers 503 `unavailable` within seconds (none
//! hangs); afterwards the same server process serves again and every acknowledged
//! upload is readable.

use imagevault_test_support as support;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::images::jpeg;
use support::{Engine, TestApp};

/// A PostgreSQL cluster of this test's own, dropped at the end.
struct Cluster {
    version: String,
    name: String,
    port: u16,
}

impl Cluster {
    fn create() -> Self {
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("Debian's PostgreSQL packages (scripts/test installs them)")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max()
            .expect("a PostgreSQL version");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let name = format!("iv{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let status = Command::new("pg_createcluster")
            .args([&version, &name, "--port", &port.to_string(), "--start"])
            .args(["--", "--auth-host=trust", "--auth-local=trust"])
            .status()
            .expect("pg_createcluster runs");
        assert!(status.success(), "pg_createcluster failed (needs root)");
        Self {
            version,
            name,
            port,
        }
    }

    fn ctl(&self, action: &str) {
        let status = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                action,
            ])
            .args(if action == "stop" {
                &["-m", "fast"][..]
            } else {
                &[][..]
            })
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctlcluster {action}");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_while_postgres_restarts_then_recover() {
    let cluster = Cluster::create();
    let url = cluster.url();
    let app = TestApp::spawn_stack_with(Engine::Sqlite, &[("DATABASE_URL", &url)]).await;
    let token = app.signed_up_user("restart@example.com").await;
    let before: Value = app
        .upload(&token, "before.jpg", jpeg(32, 32, 1))
        .await
        .json()
        .await
        .unwrap();

    cluster.ctl("stop");
    let mut statuses = Vec::new();
    for seed in 0..6 {
        let started = Instant::now();
        let status = if seed % 2 == 0 {
            app.get_bearer("/api/v1/images", &token).await.status()
        } else {
            app.upload(&token, "during.jpg", jpeg(32, 32, seed))
                .await
                .status()
        };
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no request hangs"
        );
        statuses.push(status);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "503 while the database is down: {statuses:?}"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    cluster.ctl("start");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = app.get_bearer("/api/v1/images", &token).await;
        if res.status() == StatusCode::OK {
            let list: Value = res.json().await.unwrap();
            assert_eq!(
                list["items"].as_array().unwrap().len(),
                1,
                "only the acknowledged upload"
            );
            break;
        }
        assert!(Instant::now() < deadline, "recovers without a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let content = format!("/api/v1/images/{}/content", before["id"].as_str().unwrap());
    assert_eq!(
        app.get_bearer(&content, &token).await.status(),
        StatusCode::OK
    );
    let after = app.upload(&token, "after.jpg", jpeg(32, 32, 9)).await;
    assert_eq!(after.status(), StatusCode::CREATED);
    app.finish().await;
    drop(cluster);
}
