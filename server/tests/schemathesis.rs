//! The JSON API against its own OpenAPI document with schemathesis (property-based:
//! generated valid and invalid requests, stateful sequences), authenticated as a real
//! user who owns a real image. Verdict: no 5xx, every status code documented, every
//! response body, content type and header conforming to the schema.

use imagevault_test_support as support;

use serde_json::Value;
use support::images::png;
use support::{Engine, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_conforms_to_its_schema_under_generated_requests() {
    let app = TestApp::spawn_stack(Engine::Sqlite).await;
    let token = app.signed_up_user("schemathesis@example.com").await;
    let image: Value = app
        .upload(&token, "known.png", png(32, 32, 1))
        .await
        .json()
        .await
        .unwrap();
    let config = app.dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.id\" = \"{}\"\n",
            image["id"].as_str().unwrap()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new("python3")
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(app.url("/api/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            // Signing out or deleting the account would end the run's own session.
            "--exclude-path-regex",
            "logout|/me$",
            "--max-examples",
            "25",
            "--seed",
            "20261128",
        ])
        .current_dir(&app.dir)
        .output()
        .await
        .expect("python3 -m schemathesis.cli runs (scripts/test installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
    app.finish().await;
}
