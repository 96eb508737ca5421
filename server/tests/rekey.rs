//! `rotate-user-keys` on both stacks, with the real binary: the job is killed (SIGKILL) midway
//! (twice, at different points) while the server keeps serving the user's reads and
//! uploads; run again, it finishes, and every image reads back bit-identical under a
//! fresh key with its name, the TOTP seed still works, nothing is left behind for
//! `sweep`.

use imagevault_test_support as support;
use support::both_engines;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use imagevault_common::image::validate;
use imagevault_server::db::ids::UserId;
use imagevault_server::db::{Db, images, user_keys, users};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::images::jpeg;
use support::process::Process;
use support::{Engine, PASSWORD, S3Server, TestDb, totp_code};
use tokio::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");
const OWNER: &str = "rekey@example.com";
const BYSTANDER: &str = "bystander@example.com";
const IMAGES: u32 = 60;

both_engines!(user_keys_are_replaced_online_and_survive_sigkill);

/// `(image id, bytes it must read back as)`.
type Expected = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn upload_expecting(
    setup: &Process,
    client: &reqwest::Client,
    token: &str,
    seed: u32,
) -> (String, Vec<u8>) {
    let original = jpeg(48, 36, seed);
    let expected = validate(&original, "r.jpg").unwrap().bytes().to_vec();
    let name = format!("r-{seed}.jpg");
    (setup.upload(client, token, &name, original).await, expected)
}

/// `(id, name)` of every image the listing shows, walking all its pages.
async fn listed(setup: &Process, client: &reqwest::Client, token: &str) -> Vec<(String, String)> {
    let first = format!("{}/api/v1/images?limit=100", setup.base_url());
    let (mut all, mut url) = (Vec::new(), first.clone());
    loop {
        let page = support::get_json(client, &url, token).await;
        for item in page["items"].as_array().unwrap() {
            all.push((
                item["id"].as_str().unwrap().to_owned(),
                item["filename"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => url = format!("{first}&cursor={next}"),
            None => return all,
        }
    }
}

/// Turns two-step sign-in on; returns the secret.
async fn enrol(setup: &Process, client: &reqwest::Client, token: &str) -> String {
    let base = setup.base_url();
    let res = client
        .post(format!("{base}/api/v1/me/mfa/totp"))
        .bearer_auth(token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let secret = res.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{base}/api/v1/me/mfa/totp/confirm"))
        .bearer_auth(token)
        .json(&json!({"code": totp_code(&secret, unix_now())}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    secret
}

/// Signs in with the password and then a code (of the next step, so it is not the one
/// enrolment used).
async fn sign_in_with_code(setup: &Process, client: &reqwest::Client, secret: &str) -> StatusCode {
    let base = setup.base_url();
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": OWNER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let mfa_token = body["error"]["mfa_token"].as_str().unwrap();
    client
        .post(format!("{base}/api/v1/auth/login/mfa"))
        .json(&json!({"mfa_token": mfa_token, "code": totp_code(secret, unix_now() + 30)}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Reads every expected image and uploads new ones until told to stop, as a person
/// using the app during the job; panics on the first wrong answer.
async fn use_the_app(
    setup: Arc<Process>,
    token: String,
    expected: Expected,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    let mut seed = 10_000;
    while !stop.load(Ordering::Relaxed) {
        let known = expected.lock().await.clone();
        for (id, bytes) in known.iter().step_by(7) {
            assert_eq!(
                &setup.content(&client, &token, id).await,
                bytes,
                "{id} during the job"
            );
        }
        let uploaded = upload_expecting(&setup, &client, &token, seed).await;
        expected.lock().await.push(uploaded);
        seed += 1;
    }
}

/// Starts `rotate-user-keys --email OWNER` and SIGKILLs it once `moved(db)` holds.
async fn kill_when(
    setup: &Process,
    db: &Db,
    owner: UserId,
    moved: impl Fn(Option<u32>, i64) -> bool,
) {
    let mut job = setup
        .command()
        .args(["rotate-user-keys", "--email", OWNER])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let keys = user_keys::get_keys(db.pool(), owner)
            .await
            .unwrap()
            .unwrap();
        let next = keys.next.as_ref().map(|_| keys.epoch + 1);
        let at_next = images::count_at_epoch(db.pool(), owner, keys.epoch + 1)
            .await
            .unwrap();
        if moved(next, at_next) {
            break;
        }
        assert!(
            job.try_wait().unwrap().is_none(),
            "the job finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "the job never got there");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    job.kill().unwrap();
    job.wait().unwrap();
}

async fn user_keys_are_replaced_online_and_survive_sigkill(engine: Engine) {
    let dir = std::env::temp_dir().join(format!("iv-rekey-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = TestDb::create(engine, &dir).await;
    let s3 = (engine == Engine::Postgres).then(|| S3Server::start(&dir));
    let mut setup = Process::new(BIN, &dir, &db, s3.as_ref());
    setup.set("UPLOAD_RATE_PER_MINUTE", "100000");
    setup.create_user(OWNER);
    setup.create_user(BYSTANDER);
    let setup = Arc::new(setup);
    let mut server = setup.serve();
    let client = reqwest::Client::new();
    let token = setup.sign_in(&client, OWNER).await;
    let expected: Expected = Arc::default();
    for seed in 0..IMAGES {
        let uploaded = upload_expecting(&setup, &client, &token, seed).await;
        expected.lock().await.push(uploaded);
    }
    let bystander = setup.sign_in(&client, BYSTANDER).await;
    let theirs = upload_expecting(&setup, &client, &bystander, 99).await;
    let secret = enrol(&setup, &client, &token).await;

    let pool = Db::connect(&db.url).await.unwrap();
    let owner = user_id(&pool, OWNER).await;
    let before = user_keys::get_keys(pool.pool(), owner)
        .await
        .unwrap()
        .unwrap();
    let bystanders_key = user_keys::get_keys(pool.pool(), user_id(&pool, BYSTANDER).await)
        .await
        .unwrap();

    // The person keeps using the app while the job is killed twice and then finishes.
    let stop = Arc::new(AtomicBool::new(false));
    let user = tokio::spawn(use_the_app(
        setup.clone(),
        token.clone(),
        expected.clone(),
        stop.clone(),
    ));
    kill_when(&setup, &pool, owner, |next, _| next.is_some()).await;
    kill_when(&setup, &pool, owner, |_, moved| moved >= 10).await;
    kill_when(&setup, &pool, owner, |_, moved| moved >= 30).await;
    let (ok, said, err) = setup.run(&["rotate-user-keys", "--email", OWNER]);
    assert!(ok && said.contains("1 user key(s) replaced"), "{said}{err}");
    assert!(err.contains("left"), "progress is shown: {err}");
    stop.store(true, Ordering::Relaxed);
    user.await.unwrap();

    let after = user_keys::get_keys(pool.pool(), owner)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.epoch, after.next), (1, None));
    assert_ne!(after.current.bytes, before.current.bytes, "a fresh key");
    for (id, bytes) in expected.lock().await.iter() {
        assert_eq!(
            &setup.content(&client, &token, id).await,
            bytes,
            "{id} after the job"
        );
    }
    assert_eq!(
        images::count_at_epoch(pool.pool(), owner, 0).await.unwrap(),
        0
    );
    // The old key is gone: names that open were sealed again under the new one.
    let names = listed(&setup, &client, &token).await;
    assert_eq!(names.len(), expected.lock().await.len());
    assert!(
        names.iter().all(|(_, name)| name.starts_with("r-")),
        "every name still opens: {names:?}"
    );
    let (ok, said) = setup.job(&["sweep", "--grace-seconds", "0"]);
    assert!(
        ok && said.contains(" 0 orphan(s) removed"),
        "old blobs left behind: {said}"
    );
    assert_eq!(
        sign_in_with_code(&setup, &client, &secret).await,
        StatusCode::OK,
        "the TOTP seed moved with the key"
    );
    assert_eq!(
        user_keys::get_keys(pool.pool(), user_id(&pool, BYSTANDER).await)
            .await
            .unwrap(),
        bystanders_key,
        "other accounts keep their keys"
    );

    // Everyone, once more: both move on.
    let (ok, said) = setup.job(&["rotate-user-keys", "--all"]);
    assert!(ok && said.contains("2 user key(s) replaced"), "{said}");
    assert_eq!(
        setup.content(&client, &bystander, &theirs.0).await,
        theirs.1
    );
    let (id, bytes) = &expected.lock().await[0];
    assert_eq!(&setup.content(&client, &token, id).await, bytes);

    refusals(&setup);

    server.kill().unwrap();
    server.wait().unwrap();
    drop(s3);
    db.drop_database().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn user_id(db: &Db, email: &str) -> UserId {
    users::by_email(db.pool(), email).await.unwrap().unwrap().id
}

/// Hostile or missing arguments: a clear refusal, nothing changed.
fn refusals(setup: &Process) {
    let (ok, _, err) = setup.run(&["rotate-user-keys", "--email", "nobody@example.com"]);
    assert!(
        !ok && err.contains("no account has the email address"),
        "{err}"
    );
    let (ok, _, err) = setup.run(&["rotate-user-keys"]);
    assert!(!ok && err.contains("--email"), "{err}");
    let (ok, _, _) = setup.run(&["rotate-user-keys", "--all", "--email", OWNER]);
    assert!(!ok);
}
