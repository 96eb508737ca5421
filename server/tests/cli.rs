//! The `imagevault-server` binary as an operator runs it: configuration errors, the
//! `migrate` and `create-user` commands, the outbox, and the JSON security log.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");
const PASSWORD: &str = "Correct-Horse-7-Battery-Staple";

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iv-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary with a clean environment: only what the test sets.
fn server(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir)
        .env("RUST_LOG", "info")
        .current_dir(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn configuration_errors_are_one_line_naming_the_variable() {
    let dir = temp_dir();
    for (vars, variable) in [
        (vec![], "DEBUG"),
        (
            vec![("DEBUG", "True"), ("BIND_ADDR", "nonsense")],
            "BIND_ADDR",
        ),
        (
            vec![("DEBUG", "True"), ("DATABASE_URL", "mysql://x")],
            "DATABASE_URL",
        ),
        (
            vec![
                ("TLS_CERT_FILE", "/nonexistent.pem"),
                ("TLS_KEY_FILE", "/nonexistent.key"),
            ],
            "TLS_CERT_FILE",
        ),
    ] {
        let out = server(&dir, &vars).arg("serve").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{vars:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn create_user(dir: &Path, email: &str, password: &str) -> std::process::Output {
    let mut child = server(dir, &[("DEBUG", "True")])
        .args(["create-user", "--email", email])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn migrate_then_create_user_from_stdin() {
    let dir = temp_dir();
    let migrated = server(&dir, &[("DEBUG", "True")])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(dir.join("imagevault.db").exists());

    let created = create_user(&dir, "Admin@Example.com", PASSWORD);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("created admin@example.com"));

    let weak = create_user(&dir, "weak@example.com", "password");
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(
        stderr.contains("Use at least 12 characters.") && stderr.contains("Add a digit."),
        "{stderr}"
    );

    let duplicate = create_user(&dir, "admin@example.com", PASSWORD);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A running `serve` process and its captured log lines.
struct Served {
    child: Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

fn serve_json_logs(dir: &Path) -> Served {
    // Behind a TLS proxy DEBUG may stay False, so logs are JSON, as in production.
    let mut child = server(
        dir,
        &[
            ("BEHIND_TLS_PROXY", "True"),
            ("TRUSTED_PROXIES", "127.0.0.2"),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("PUBLIC_URL", "https://vault.example"),
        ],
    )
    .arg("serve")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let port = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("server starts");
        let event: Value = serde_json::from_str(&line).expect("log lines are JSON");
        if event["fields"]["message"] == "listening" {
            let addr = event["fields"]["addr"].as_str().unwrap();
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    Served { child, port, lines }
}

fn outbox_token(dir: &Path) -> String {
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(dir.join("outbox")) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                if entry.path().extension().is_some_and(|e| e == "eml")
                    && let Some(at) = text.find("token=")
                {
                    return text[at + 6..].split_whitespace().next().unwrap().to_owned();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no verification email in the outbox");
}

#[tokio::test]
async fn security_events_are_json_with_ids_and_no_secrets() {
    let dir = temp_dir();
    let mut served = serve_json_logs(&dir);
    let base = format!("http://127.0.0.1:{}/api/v1", served.port);
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
    let creds = json!({"email": "log@example.com", "password": PASSWORD});
    assert_eq!(
        post("/auth/register", creds.clone())
            .await
            .unwrap()
            .status(),
        202
    );
    let token = outbox_token(&dir);
    assert_eq!(
        post("/auth/verify", json!({"token": token}))
            .await
            .unwrap()
            .status(),
        200
    );
    let wrong = json!({"email": "log@example.com", "password": "Wrong-Password-1!"});
    assert_eq!(post("/auth/login", wrong).await.unwrap().status(), 401);
    let session: Value = post("/auth/login", creds)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = session["token"].as_str().unwrap().to_owned();
    let logout = client
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);

    // The logout's line is the last one this test causes: read until it has come.
    let mut lines: Vec<String> = Vec::new();
    while !lines.iter().any(|l| l.contains(r#""event":"sign_out""#)) {
        let line = served.lines.recv_timeout(Duration::from_secs(10));
        lines.push(line.expect("the logout is logged"));
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let security: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "security")
        .collect();
    for expected in [
        "registered",
        "email_verified",
        "sign_in_failed",
        "sign_in",
        "sign_out",
    ] {
        let event = security
            .iter()
            .find(|e| e["fields"]["event"] == expected)
            .unwrap_or_else(|| panic!("no {expected} event in {security:?}"));
        assert!(
            in_context(event, "user.id").is_some(),
            "{expected} names the user: {event}"
        );
        assert!(
            in_context(event, "request.id").is_some_and(|id| id.len() == 16),
            "{expected} names its request: {event}"
        );
    }
    let login = security
        .iter()
        .find(|e| e["fields"]["event"] == "sign_in")
        .unwrap();
    assert_eq!(login["fields"]["ip"], "127.0.0.1");
    let all = lines.join("\n");
    for secret in [
        PASSWORD,
        "Wrong-Password-1!",
        token.as_str(),
        bearer.as_str(),
    ] {
        assert!(!all.contains(secret), "a secret reached the log");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A field of a JSON log line: its own, or one of the spans it was logged in (the
/// request's span carries the request id and, once known, the user id).
fn in_context<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    let spans = event["spans"].as_array().into_iter().flatten();
    std::iter::once(&event["fields"])
        .chain(spans)
        .find_map(|fields| fields[name].as_str())
}
