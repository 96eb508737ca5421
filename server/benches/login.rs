//! Login under load: throughput, timing of unknown vs known emails, and the latency of
//! a cheap endpoint while logins flood.
//!
//! `cargo bench -p imagevault-server --bench login`
//!
//! The server runs in its own runtime on its own threads (as in production: async
//! workers = cores, Argon2 on the blocking pool, one hash per core at a time); the load
//! comes from this process's other runtime over loopback. Simulated clients carry
//! distinct `X-Forwarded-For` addresses from a trusted proxy so per-address limits
//! apply per client, not to the whole benchmark.
#![allow(
    missing_docs,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // percentile indices and rates for display

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use imagevault_common::email::EmailAddress;
use imagevault_common::password::Password;
use imagevault_server::app::Application;
use imagevault_server::config::Config;
use serde_json::json;

const PASSWORD: &str = "Correct-Horse-7-Battery-Staple";
const USERS: usize = 128;
const FLOOD_CLIENTS: usize = 16;
const FLOOD_SECONDS: u64 = 10;

fn start_server(dir: &std::path::Path) -> SocketAddr {
    let vars: HashMap<&str, String> = HashMap::from([
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("DATA_DIR", dir.display().to_string()),
        ("BEHIND_TLS_PROXY", "True".to_owned()),
        ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("PUBLIC_URL", "https://bench.test".to_owned()),
    ]);
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = Application::build(config).await.unwrap();
            for i in 0..USERS {
                let email = EmailAddress::parse(&format!("user{i}@example.com")).unwrap();
                let password = Password::parse(PASSWORD, &email).unwrap();
                imagevault_server::accounts::create_user(app.state(), &email, &password, false)
                    .await
                    .unwrap();
            }
            tx.send(app.local_addr()).unwrap();
            app.run().await;
        });
    });
    rx.recv().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "p50 {:.2} ms, p99 {:.2} ms (n={})",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.len()
    )
}

async fn login(
    client: &reqwest::Client,
    addr: SocketAddr,
    email: &str,
    password: &str,
    ip: &str,
) -> (u16, Duration) {
    let start = Instant::now();
    let res = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let _ = res.bytes().await;
    (status, start.elapsed())
}

async fn healthz(client: &reqwest::Client, addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let res = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = res.bytes().await;
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("iv-bench-{}", uuid::Uuid::new_v4()));
    let addr = start_server(&dir);
    let client = reqwest::Client::new();

    // 1. Enumeration by timing: a known email with a wrong password vs an unknown email.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let ip = format!("10.1.{}.{}", i / 200, i % 200 + 1);
        let (s, t) = login(
            &client,
            addr,
            &format!("user{}@example.com", i % USERS),
            "Wrong-Password-1!",
            &ip,
        )
        .await;
        assert_eq!(s, 401);
        known.push(t);
        let (s, t) = login(
            &client,
            addr,
            &format!("nobody{i}@example.com"),
            "Wrong-Password-1!",
            &ip,
        )
        .await;
        assert_eq!(s, 401);
        unknown.push(t);
    }
    known.sort();
    unknown.sort();
    let ratio = percentile(&unknown, 0.5) / percentile(&known, 0.5);
    println!(
        "login, known email + wrong password: {}",
        summary(known.clone())
    );
    println!(
        "login, unknown email:                {}",
        summary(unknown.clone())
    );
    println!("median ratio unknown/known: {ratio:.3}");

    // 2. A cheap endpoint when idle.
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(healthz(&client, addr).await);
    }
    println!("GET /healthz idle:           {}", summary(idle));

    // 3. Logins flooding from many clients while the cheap endpoint is measured.
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for c in 0..FLOOD_CLIENTS {
        let (client, stop) = (client.clone(), stop.clone());
        flooders.push(tokio::spawn(async move {
            let (mut ok, mut times, mut n) = (0usize, Vec::new(), 0usize);
            while !stop.load(Ordering::Relaxed) {
                let user = (c + n * FLOOD_CLIENTS) % USERS;
                let ip = format!("10.2.{c}.{}", n % 250 + 1);
                let (status, t) = login(
                    &client,
                    addr,
                    &format!("user{user}@example.com"),
                    PASSWORD,
                    &ip,
                )
                .await;
                ok += usize::from(status == 200);
                times.push(t);
                n += 1;
            }
            (ok, times)
        }));
    }
    let start = Instant::now();
    let mut during = Vec::new();
    while start.elapsed() < Duration::from_secs(FLOOD_SECONDS) {
        during.push(healthz(&client, addr).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let (mut ok, mut times) = (0, Vec::new());
    for f in flooders {
        let (o, t) = f.await.unwrap();
        ok += o;
        times.extend(t);
    }
    println!(
        "logins: {ok} succeeded in {elapsed:.1} s = {:.1}/s with {FLOOD_CLIENTS} clients; latency {}",
        ok as f64 / elapsed,
        summary(times)
    );
    println!("GET /healthz during flood:   {}", summary(during));
    let _ = std::fs::remove_dir_all(dir);
}
