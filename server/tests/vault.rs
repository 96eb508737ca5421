//! The master key file at start-up: created on first run, required (and checked against
//! the database) once user keys exist.

use imagevault_test_support as support;

use std::collections::HashMap;
use std::path::Path;

use imagevault_server::app::{Application, BuildError};
use imagevault_server::config::Config;
use imagevault_server::keys::user_key;
use imagevault_server::vault::blob::{BlobId, BlobKind, open, seal};

async fn build(dir: &Path) -> Result<Application, BuildError> {
    let vars: HashMap<&str, String> = HashMap::from([
        ("DEBUG", "True".to_owned()),
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("DATA_DIR", dir.display().to_string()),
    ]);
    Application::build(Config::from_lookup(|k| vars.get(k).cloned()).unwrap()).await
}

#[tokio::test]
async fn master_key_is_created_once_then_required_and_checked() {
    let dir = std::env::temp_dir().join(format!("iv-vault-{}", uuid::Uuid::new_v4()));
    let key_file = dir.join("keys/master.key");

    let app = build(&dir).await.unwrap();
    assert!(key_file.exists(), "created on first run");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let user = support::create_verified_user(app.state(), "keys@example.com").await;
    let state = app.state();
    let (first, version, _) = user_key(&state.db, &state.keyring, user).await.unwrap();
    assert_eq!(version, 1);
    let (again, _, _) = user_key(&state.db, &state.keyring, user).await.unwrap();
    let id = BlobId {
        image: uuid::Uuid::new_v4(),
        owner: user.uuid(),
        kind: BlobKind::Image,
    };
    let blob = seal(&first, 1, &id, b"pixels");
    assert_eq!(
        open(&again, &id, &blob).unwrap(),
        b"pixels",
        "one key per user, stored wrapped"
    );
    drop(app);

    // Without the key file the stored user keys are useless: refuse to start.
    let saved = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let err = build(&dir).await.err().expect("must refuse to start");
    assert!(err.to_string().starts_with("MASTER_KEY_FILE:"), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!key_file.exists(), "no fresh key was created over the loss");

    // A different key file (another installation's) is refused too.
    imagevault_server::vault::keyring::Keyring::create(&key_file).unwrap();
    let err = build(&dir)
        .await
        .err()
        .expect("a foreign key file must be refused");
    assert!(err.to_string().contains("version 1"), "{err}");

    // The right file, restored, works again — once it is the owner's alone.
    std::fs::write(&key_file, saved).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = build(&dir)
            .await
            .err()
            .expect("a key file other users may read must be refused");
        assert!(err.to_string().starts_with("MASTER_KEY_FILE:"), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let app = build(&dir).await.unwrap();
    let state = app.state();
    let (restored, _, _) = user_key(&state.db, &state.keyring, user).await.unwrap();
    assert_eq!(open(&restored, &id, &blob).unwrap(), b"pixels");
    drop(app);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn instances_sharing_a_database_must_share_the_master_key() {
    let dir_a = std::env::temp_dir().join(format!("iv-vault-{}", uuid::Uuid::new_v4()));
    let dir_b = std::env::temp_dir().join(format!("iv-vault-{}", uuid::Uuid::new_v4()));
    let db = support::TestDb::create(support::Engine::Postgres, &dir_a).await;
    let build_on = |dir: &Path| {
        let vars: HashMap<&str, String> = HashMap::from([
            ("DEBUG", "True".to_owned()),
            ("BIND_ADDR", "127.0.0.1:0".to_owned()),
            ("DATA_DIR", dir.display().to_string()),
            ("DATABASE_URL", db.url.clone()),
            (
                "SECRET_KEY",
                "test-secret-key-0123456789abcdef-0123456789".to_owned(),
            ),
        ]);
        Application::build(Config::from_lookup(|k| vars.get(k).cloned()).unwrap())
    };
    let first = build_on(&dir_a).await.unwrap();
    // A second instance without the shared key file would make its own key: refused.
    let err = build_on(&dir_b)
        .await
        .err()
        .expect("a different master key must be refused");
    assert!(err.to_string().contains("same key file"), "{err}");
    // With a copy of the first instance's key file it starts.
    std::fs::create_dir_all(dir_b.join("keys")).unwrap();
    std::fs::copy(dir_a.join("keys/master.key"), dir_b.join("keys/master.key")).unwrap();
    let second = build_on(&dir_b).await.unwrap();
    drop((first, second));
    db.drop_database().await;
    for dir in [dir_a, dir_b] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
