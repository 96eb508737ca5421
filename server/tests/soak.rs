//! Load and soak with an audit at the end, against two instances taking turns on one
//! PostgreSQL and one S3 bucket. Simulated users, each from its own address (a trusted
//! proxy's `X-Forwarded-For`), register, read the verification email from the
//! SMTP sink, confirm, sign in, then mix uploads (some refused), listings, fetches,
//! deletions and failed logins for a bounded time. The report gives requests/s,
//! p50/p99 per endpoint and answers by status; the audit then proves that every upload
//! that got a 201 and was not deleted reads back bit-identical, that nothing refused was
//! stored, and that no request got a 5xx.
//!
//! Short run (in CI): `cargo test -p imagevault-server --test soak`.
//! Long soak: `IMAGEVAULT_SOAK_SECONDS=600 IMAGEVAULT_SOAK_USERS=32 cargo test --release
//! -p imagevault-server --test soak -- --nocapture`.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::similar_names
)] // seeds, rates and percentile indices; `stats` and `status` read fine side by side

use imagevault_test_support as support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use imagevault_common::image::validate;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::images::jpeg;
use support::{Engine, PASSWORD, TestApp};

/// The instances under test: every request goes to the next one in turn.
struct Instances {
    app: TestApp,
    client: reqwest::Client,
    bases: Vec<String>,
    turn: AtomicUsize,
}

impl Instances {
    fn url(&self, path: &str) -> String {
        let i = self.turn.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        format!("{}{path}", self.bases[i])
    }
}

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    statuses: BTreeMap<(&'static str, u16), usize>,
}

impl Stats {
    fn record(&mut self, endpoint: &'static str, status: StatusCode, took: Duration) {
        self.latencies.entry(endpoint).or_default().push(took);
        *self
            .statuses
            .entry((endpoint, status.as_u16()))
            .or_default() += 1;
    }
}

struct User {
    token: String,
    ip: String,
    email: String,
    /// Acknowledged and not deleted: id → the bytes it must read back as.
    kept: HashMap<String, Vec<u8>>,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn sign_up(app: &Instances, n: usize) -> User {
    let email = format!("soak{n}@example.com");
    let ip = format!("10.7.{}.{}", n / 250, n % 250 + 1);
    let post = |path: &str, body: Value| {
        app.client
            .post(app.url(path))
            .header("x-forwarded-for", &ip)
            .json(&body)
            .send()
    };
    let res = post(
        "/api/v1/auth/register",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = app.app.smtp.wait_for(&email, "/verify?token=", 1).await;
    let res = post("/api/v1/auth/verify", json!({"token": mail.token()}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = post(
        "/api/v1/auth/login",
        json!({"email": email, "password": PASSWORD}),
    )
    .await
    .unwrap();
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    User {
        token,
        ip,
        email,
        kept: HashMap::new(),
    }
}

/// One simulated user's session until `deadline`.
async fn run(
    app: Arc<Instances>,
    mut user: User,
    seed: u64,
    deadline: Instant,
    stats: Arc<Mutex<Stats>>,
) -> User {
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut round = 0u32;
    while Instant::now() < deadline {
        round += 1;
        let roll = next() % 100;
        let started = Instant::now();
        let (endpoint, status) = match roll {
            0..35 => {
                let original = jpeg(160, 120, (seed as u32).wrapping_mul(1000) + round);
                let res = upload(&app, &user, "photo.jpg", original.clone()).await;
                let status = res.status();
                if status == StatusCode::CREATED {
                    let id = res.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    user.kept.insert(id, original);
                }
                ("POST /images", status)
            }
            35..45 => {
                let res = upload(&app, &user, "notes.jpg", b"meeting notes".to_vec()).await;
                ("POST /images (refused)", res.status())
            }
            45..65 => (
                "GET /images",
                get(&app, &user, "/api/v1/images?limit=20").await,
            ),
            65..85 => match user
                .kept
                .keys()
                .nth(next() as usize % user.kept.len().max(1))
            {
                Some(id) => {
                    let path = format!("/api/v1/images/{id}/content");
                    ("GET /images/{id}/content", get(&app, &user, &path).await)
                }
                None => continue,
            },
            85..92 => match user.kept.keys().next().cloned() {
                Some(id) => {
                    let res = app
                        .client
                        .delete(app.url(&format!("/api/v1/images/{id}")))
                        .bearer_auth(&user.token)
                        .header("x-forwarded-for", &user.ip)
                        .send()
                        .await
                        .unwrap();
                    if res.status() == StatusCode::NO_CONTENT {
                        user.kept.remove(&id);
                    }
                    ("DELETE /images/{id}", res.status())
                }
                None => continue,
            },
            _ => {
                let res = app
                    .client
                    .post(app.url("/api/v1/auth/login"))
                    .header("x-forwarded-for", &user.ip)
                    .json(&json!({"email": user.email, "password": "Wrong-Password-123!"}))
                    .send()
                    .await
                    .unwrap();
                ("POST /auth/login (wrong)", res.status())
            }
        };
        stats
            .lock()
            .unwrap()
            .record(endpoint, status, started.elapsed());
    }
    user
}

async fn upload(app: &Instances, user: &User, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    app.client
        .post(app.url("/api/v1/images"))
        .bearer_auth(&user.token)
        .header("x-forwarded-for", &user.ip)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn get(app: &Instances, user: &User, path: &str) -> StatusCode {
    let res = authorized(app, user, path).await;
    let status = res.status();
    res.bytes().await.unwrap();
    status
}

/// Fetches in flight during the audit: enough to keep both instances busy, so an audit
/// of a long soak's hundred thousand images takes minutes, not hours.
const AUDIT_FETCHES: usize = 16;

/// Every kept upload reads back bit-identical from either instance; each listing holds
/// exactly the kept ones.
async fn audit(app: &Instances, users: &[User]) {
    for user in users {
        let mut listed = listing(app, user).await;
        listed.sort();
        let mut kept: Vec<&String> = user.kept.keys().collect();
        kept.sort();
        assert_eq!(
            listed.iter().collect::<Vec<_>>(),
            kept,
            "{}: stored images are exactly the acknowledged, undeleted ones",
            user.email
        );
    }
    let reads = users
        .iter()
        .flat_map(|user| user.kept.iter().map(move |kept| (user, kept)));
    let started = Instant::now();
    let audited = stream::iter(reads)
        .map(|(user, (id, original))| read_back(app, user, id, original))
        .buffer_unordered(AUDIT_FETCHES)
        .count()
        .await;
    println!(
        "audit: {audited} kept images read back bit-identical in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn listing(app: &Instances, user: &User) -> Vec<String> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/images?limit=100&cursor={c}"),
            None => "/api/v1/images?limit=100".into(),
        };
        let page: Value = authorized(app, user, &path).await.json().await.unwrap();
        listed.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return listed,
        }
    }
}

async fn read_back(app: &Instances, user: &User, id: &str, original: &[u8]) {
    let res = authorized(app, user, &format!("/api/v1/images/{id}/content")).await;
    assert_eq!(res.status(), StatusCode::OK, "{id} readable");
    let body = res.bytes().await.unwrap();
    let expected = validate(original, "photo.jpg").unwrap().into_bytes();
    assert_eq!(body.as_ref(), expected.as_slice(), "{id} bit-identical");
}

/// A GET as `user`, from the user's own address, on the next instance in turn.
async fn authorized(app: &Instances, user: &User, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&user.token)
        .header("x-forwarded-for", &user.ip)
        .send()
        .await
        .unwrap()
}

fn report(stats: &Stats, elapsed: Duration) {
    let total: usize = stats.latencies.values().map(Vec::len).sum();
    println!(
        "{total} requests in {:.1} s = {:.1}/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    for (endpoint, latencies) in &stats.latencies {
        let mut sorted = latencies.clone();
        sorted.sort();
        let at =
            |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
        println!(
            "{endpoint:28} n={:5} p50 {:7.1} ms  p99 {:7.1} ms",
            sorted.len(),
            at(0.5),
            at(0.99)
        );
    }
    for ((endpoint, status), n) in &stats.statuses {
        println!("{endpoint:28} {status}: {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_an_audit_at_the_end() {
    let seconds = env_or("IMAGEVAULT_SOAK_SECONDS", 10);
    let users = usize::try_from(env_or("IMAGEVAULT_SOAK_USERS", 8)).unwrap();
    // The production shape: two instances round-robin on one PostgreSQL and one S3
    // bucket, behind a trusted proxy that names each simulated client's address.
    let behind_proxy = [
        ("BEHIND_TLS_PROXY", "True"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("PUBLIC_URL", "https://app.test"),
    ];
    let first = TestApp::spawn_stack_with(Engine::Postgres, &behind_proxy).await;
    let (second, second_handle) = first.sibling_with(&behind_proxy).await;
    let app = Arc::new(Instances {
        client: first.client.clone(),
        bases: vec![first.base.clone(), format!("http://{second}")],
        app: first,
        turn: AtomicUsize::new(0),
    });
    let mut signed_up = Vec::new();
    for n in 0..users {
        signed_up.push(sign_up(&app, n).await);
    }
    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = signed_up
        .into_iter()
        .enumerate()
        .map(|(n, user)| {
            tokio::spawn(run(
                app.clone(),
                user,
                0x9E37_79B9 * (n as u64 + 1),
                deadline,
                stats.clone(),
            ))
        })
        .collect();
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.unwrap());
    }
    let stats = std::mem::take(&mut *stats.lock().unwrap());
    report(&stats, started.elapsed());
    let server_errors: Vec<_> = stats
        .statuses
        .iter()
        .filter(|((_, s), _)| *s >= 500)
        .collect();
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:?}");
    for (endpoint, status) in stats.statuses.keys() {
        let expected: &[u16] = match *endpoint {
            "POST /images" => &[201],
            "POST /images (refused)" => &[415],
            "POST /auth/login (wrong)" => &[401, 423, 429],
            "DELETE /images/{id}" => &[204],
            _ => &[200],
        };
        assert!(expected.contains(status), "{endpoint} answered {status}");
    }
    audit(&app, &finished).await;
    second_handle.stop_forceful();
    Arc::try_unwrap(app)
        .ok()
        .expect("tasks are done")
        .app
        .finish()
        .await;
}
