//! Master keys inside a PKCS#11 token (`SoftHSM2`, a real PKCS#11 module), on both
//! stacks: the real binary generates its master key in the token on first start,
//! serves uploads across a restart, rotates and retires versions in the token beside the
//! live server, and refuses to start, in one line, with a wrong PIN or a missing key.

use imagevault_test_support as support;
use support::both_engines;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::images::jpeg;
use support::process::Process;
use support::softhsm::{PIN, SoftHsm, module};
use support::{Engine, S3Server, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");
const KEY_LABEL: &str = "imagevault-master-key";

both_engines!(master_keys_live_in_the_token);

fn token_label(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "iv-sqlite",
        Engine::Postgres => "iv-postgres",
    }
}

/// `(CKA_ID, access)` of each master key in the token, as an independent PKCS#11 client
/// (`OpenSC`'s `pkcs11-tool`) lists them; it also tries to read each key's value, and
/// every try must be refused by the token.
fn master_keys_in(hsm: &SoftHsm, engine: Engine) -> Vec<(String, String)> {
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module())
        .args([
            "--token-label",
            token_label(engine),
            "--login",
            "--pin",
            PIN,
        ])
        .args(["--list-objects", "--type", "secrkey"])
        .env("SOFTHSM2_CONF", &hsm.conf)
        .output()
        .expect("pkcs11-tool runs (Debian package opensc; scripts/test installs it)");
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8_lossy(&out.stdout);
    let field = |line: &str, name: &str| {
        line.trim()
            .strip_prefix(name)
            .map(|rest| rest.trim().to_owned())
    };
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut label = String::new();
    for line in listing.lines() {
        if let Some(l) = field(line, "label:") {
            label = l;
        } else if let Some(id) = field(line, "ID:") {
            if label == KEY_LABEL {
                keys.push((id, String::new()));
            }
        } else if let Some(access) = field(line, "Access:")
            && label == KEY_LABEL
            && let Some(last) = keys.last_mut()
        {
            last.1 = access;
        }
    }
    let refusals = String::from_utf8_lossy(&out.stderr)
        .matches("C_GetAttributeValue(VALUE) failed: rv = CKR_ATTRIBUTE_SENSITIVE")
        .count();
    assert_eq!(
        refusals,
        keys.len(),
        "every key's value is refused: {out:?}"
    );
    keys
}

/// What a master key in the token must look like.
fn sealed(id: &str) -> (String, String) {
    (
        id.to_owned(),
        "sensitive, always sensitive, never extractable, local".to_owned(),
    )
}

/// `serve` that must refuse to start: its one line of refusal, and all it printed.
fn refusal(setup: &Process) -> (String, String) {
    let mut child = setup
        .command()
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let (out, err) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    (lines[0].to_owned(), format!("{out}{err}"))
}

async fn master_keys_live_in_the_token(engine: Engine) {
    let hsm = SoftHsm::new(token_label(engine));
    let dir = std::env::temp_dir().join(format!("iv-pkcs11-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = TestDb::create(engine, &dir).await;
    let s3 = (engine == Engine::Postgres).then(|| S3Server::start(&dir));
    let mut setup = Process::new(BIN, &dir, &db, s3.as_ref());
    for (name, value) in hsm.vars() {
        setup.set(name, &value);
    }

    // First start: the master key is generated inside the token, and never leaves it.
    setup.create_user("owner@example.com");
    assert_eq!(master_keys_in(&hsm, engine), vec![sealed("00000001")]);
    let client = reqwest::Client::new();
    let mut server = setup.serve();
    let token = setup.sign_in(&client, "owner@example.com").await;
    let first = setup
        .upload(&client, &token, "t.jpg", jpeg(64, 48, 1))
        .await;
    let expected = setup.content(&client, &token, &first).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let mut server = setup.serve();
    assert_eq!(setup.content(&client, &token, &first).await, expected);

    // Rotation makes a new version in the token, beside the live server.
    let (ok, said) = setup.job(&["rotate-keys"]);
    assert!(
        ok && said.contains("version 2 added; 1 user key(s) rewrapped"),
        "{said}"
    );
    assert_eq!(setup.content(&client, &token, &first).await, expected);
    let (ok, said) = setup.job(&["rotate-keys", "--retire"]);
    assert!(ok && said.contains("retired: [1, 2]"), "{said}");
    assert_eq!(master_keys_in(&hsm, engine), vec![sealed("00000003")]);
    assert_eq!(setup.content(&client, &token, &first).await, expected);
    let second = setup
        .upload(&client, &token, "u.jpg", jpeg(64, 48, 2))
        .await;
    setup.content(&client, &token, &second).await;
    let (ok, said) = setup.job(&["audit", "verify"]);
    assert!(ok && said.contains("audit log intact"), "{said}");
    server.kill().unwrap();
    server.wait().unwrap();

    // No key material on disk outside the token.
    let on_disk = support::files_under(&dir);
    assert!(
        on_disk
            .iter()
            .all(|f| !f.to_string_lossy().contains("master.key")),
        "{on_disk:?}"
    );

    // A wrong PIN, a missing key: one clear line each, and the PIN is never printed.
    setup
        .unset("PKCS11_PIN_FILE")
        .set("PKCS11_PIN", "not-the-pin-4417");
    let (line, all) = refusal(&setup);
    assert!(
        line.contains("PKCS11_PIN") && line.contains("not the token's user PIN"),
        "{line}"
    );
    assert!(
        !all.contains("not-the-pin-4417"),
        "the PIN was printed: {all}"
    );
    setup
        .set("PKCS11_PIN", PIN)
        .set("PKCS11_KEY_LABEL", "someone-else");
    let (line, all) = refusal(&setup);
    assert!(
        line.contains("PKCS11_KEY_LABEL") && line.contains("someone-else"),
        "{line}"
    );
    assert!(!all.contains(PIN), "the PIN was printed: {all}");
    setup
        .set("PKCS11_KEY_LABEL", KEY_LABEL)
        .set("PKCS11_TOKEN_LABEL", "no-such-token");
    let (line, _) = refusal(&setup);
    assert!(line.contains("PKCS11_TOKEN_LABEL"), "{line}");
    // A file that is not a PKCS#11 library (here: the PIN file) is named, not loaded.
    setup.set("PKCS11_MODULE", &hsm.pin_file.display().to_string());
    let (line, all) = refusal(&setup);
    assert!(
        line.contains("PKCS11_MODULE") && line.contains("cannot be loaded"),
        "{line}"
    );
    assert!(!all.contains(PIN), "the PIN was printed: {all}");

    drop(s3);
    db.drop_database().await;
    let _ = std::fs::remove_dir_all(&dir);
}
