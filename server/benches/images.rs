//! The image API under load, against the release server binary on loopback:
//! uploads/s against the decode limit, encrypted fetches/s against the crypto limit,
//! listing latency with 10,000 images stored (and a page of 100 against a page of 20,
//! per item), and peak RSS during 64 concurrent 5 MiB uploads.
//!
//! `cargo bench -p imagevault-server --bench images`
//!
//! Each phase is run `RUNS` times and the median reported. The limits are measured in
//! the same run on the same machine: the decode limit is cores ÷ the time of a plain
//! `image` decode of the upload file, the crypto limit is cores ÷ the time of a MAC check
//! plus decryption of its blob. The load generator shares the cores with the server, as
//! any loopback benchmark does, so the ratios are conservative.
#![allow(
    missing_docs,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // rates and percentile indices for display

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};
use imagevault_server::db::Db;
use imagevault_server::vault::blob::{BlobId, BlobKind, open, seal};
use imagevault_server::vault::keyring::UserKey;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");
const PASSWORD: &str = "Correct-Horse-7-Battery-Staple";
const EMAIL: &str = "bench@example.com";
const RUNS: usize = 3;
const PHASE: Duration = Duration::from_secs(8);

/// A photo-like JPEG: smooth gradients plus sensor-like noise.
fn photo(width: u32, height: u32, quality: u8) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 24) as u8;
        image::Rgb([
            ((x * 200 / width) as u8).wrapping_add(noise),
            ((y * 200 / height) as u8).wrapping_add(noise / 2),
            (((x + y) * 100 / (width + height)) as u8).wrapping_add(noise),
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Server {
    fn command(dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("DEBUG", "True")
            .env("RUST_LOG", "warn")
            .env("DATA_DIR", dir)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            // One account drives the whole load: the pipeline is measured, not the
            // fair-use limits that would spread it over many accounts.
            .env("UPLOAD_RATE_PER_MINUTE", "100000")
            .env("UPLOADS_PER_USER", "1000")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("iv-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut create = Self::command(&dir, port)
            .args(["create-user", "--email", EMAIL])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(create.stdin.as_mut().unwrap(), "{PASSWORD}").unwrap();
        assert!(create.wait().unwrap().success());
        let child = Self::command(&dir, port).arg("serve").spawn().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while TcpStream::connect(addr).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr, dir }
    }

    /// Peak resident set size of the server process so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib / 1024.0
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn token(&self, client: &reqwest::Client) -> String {
        let res: Value = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": EMAIL, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn upload(client: &reqwest::Client, url: &str, token: &str, file: &[u8]) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file.to_vec()).file_name("photo.jpg"),
    );
    let res = client
        .post(url)
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "upload refused");
    res.json().await.unwrap()
}

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `concurrency` clients repeat `request` for `PHASE`; returns rate and latencies.
async fn load<F, Fut>(concurrency: usize, request: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, counter) = (request.clone(), counter.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < PHASE {
                    let t = Instant::now();
                    request(counter.fetch_add(1, Ordering::Relaxed)).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Measured {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

fn decode_limit(file: &[u8]) -> f64 {
    let times: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(image::load_from_memory(file).unwrap());
            t.elapsed().as_secs_f64()
        })
        .collect();
    cores() as f64 / median(times)
}

fn crypto_limit(plain_len: usize) -> f64 {
    let key = UserKey::generate();
    let id = BlobId {
        image: uuid::Uuid::new_v4(),
        owner: uuid::Uuid::new_v4(),
        kind: BlobKind::Image,
    };
    let blob = seal(&key, 1, &id, &vec![7u8; plain_len]);
    let times: Vec<f64> = (0..51)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(open(&key, &id, &blob).unwrap());
            t.elapsed().as_secs_f64()
        })
        .collect();
    cores() as f64 / median(times)
}

async fn uploads_and_fetches(client: &reqwest::Client) {
    let file = Arc::new(photo(2000, 1500, 92));
    println!(
        "upload file: 2000x1500 JPEG, {:.2} MB; {} cores",
        file.len() as f64 / 1e6,
        cores()
    );
    let server = Server::start();
    let token = Arc::new(server.token(client).await);
    let url = Arc::new(server.url("/api/v1/images"));
    let mut ids = Vec::new();
    for concurrency in [8, 16] {
        // The machine is shared: the decode limit is taken right before and after the
        // phase it is compared with, and averaged.
        let before = decode_limit(&file);
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            let (c, u, t, f) = (client.clone(), url.clone(), token.clone(), file.clone());
            runs.push(
                load(concurrency, move |_| {
                    let (c, u, t, f) = (c.clone(), u.clone(), t.clone(), f.clone());
                    async move {
                        upload(&c, &u, &t, &f).await;
                    }
                })
                .await,
            );
        }
        let limit = f64::midpoint(before, decode_limit(&file));
        let rate = median(runs.iter().map(|m| m.per_second).collect());
        let p50 = median(runs.iter().map(|m| m.p50.as_secs_f64() * 1e3).collect());
        let p99 = median(runs.iter().map(|m| m.p99.as_secs_f64() * 1e3).collect());
        println!(
            "uploads c={concurrency}: {rate:.1}/s (p50 {p50:.0} ms, p99 {p99:.0} ms); decode limit {limit:.1}/s = {:.0} %",
            100.0 * rate / limit
        );
    }
    let list: Value = client
        .get(server.url("/api/v1/images?limit=100"))
        .bearer_auth(token.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for item in list["items"].as_array().unwrap() {
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let stored_len = list["items"][0]["size"].as_u64().unwrap() as usize;
    let before = crypto_limit(stored_len);
    let ids = Arc::new(ids);
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let (c, t, ids) = (client.clone(), token.clone(), ids.clone());
        let base = server.url("/api/v1/images/");
        runs.push(
            load(16, move |n| {
                let url = format!("{base}{}/content", ids[n % ids.len()]);
                let (c, t) = (c.clone(), t.clone());
                async move {
                    let res = c.get(url).bearer_auth(t.as_str()).send().await.unwrap();
                    assert_eq!(res.status(), 200);
                    std::hint::black_box(res.bytes().await.unwrap());
                }
            })
            .await,
        );
    }
    let limit = f64::midpoint(before, crypto_limit(stored_len));
    let rate = median(runs.iter().map(|m| m.per_second).collect());
    println!(
        "fetches c=16 ({:.2} MB each): {rate:.1}/s (p50 {:.1} ms, p99 {:.1} ms); crypto limit {limit:.0}/s = {:.0} %",
        stored_len as f64 / 1e6,
        median(runs.iter().map(|m| m.p50.as_secs_f64() * 1e3).collect()),
        median(runs.iter().map(|m| m.p99.as_secs_f64() * 1e3).collect()),
        100.0 * rate / limit
    );
}

/// Fills the listing with 10,000 rows (the listing reads rows only) and times pages.
async fn listing(client: &reqwest::Client) {
    let server = Server::start();
    let token = server.token(client).await;
    let db = Db::connect(&format!("sqlite://{}/imagevault.db", server.dir.display()))
        .await
        .unwrap();
    let owner: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(EMAIL)
        .fetch_one(db.pool())
        .await
        .unwrap();
    // One transaction: 10,000 synchronous commits would only measure the disk.
    let mut tx = db.pool().begin().await.unwrap();
    for i in 0..10_000_i64 {
        sqlx::query(
            "INSERT INTO images (id, owner_id, filename, content_type, size, width, height, \
             thumbnail_type, created_us) VALUES ($1, $2, $3, 'image/jpeg', 1000000, 2000, 1500, \
             'image/jpeg', $4)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&owner)
        .bind(format!("photo-{i}.jpg"))
        .bind(1_764_000_000_000_000 + i)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut latencies = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let url = match &cursor {
            Some(c) => server.url(&format!("/api/v1/images?limit=50&cursor={c}")),
            None => server.url("/api/v1/images?limit=50"),
        };
        let t = Instant::now();
        let page: Value = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        latencies.push(t.elapsed());
        // Walk all 200 pages, then start over from the newest.
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    latencies.sort();
    println!(
        "listing 10,000 images, 50 per page, 1000 pages walked: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    page_sizes(client, &server, &token).await;
}

/// The newest page of 20 and of 100, one request at a time, then pages of 100 from 16
/// clients. Per item, 100 should cost no more than 20: a stall that only larger answers
/// meet (Nagle's algorithm waiting for a delayed ACK) shows as a ratio far above 1.
async fn page_sizes(client: &reqwest::Client, server: &Server, token: &str) {
    let mut per_item = Vec::new();
    for limit in [20_u32, 100] {
        let url = server.url(&format!("/api/v1/images?limit={limit}"));
        let mut times = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            let body = client.get(&url).bearer_auth(token).send().await.unwrap();
            assert!(!body.bytes().await.unwrap().is_empty());
            times.push(t.elapsed());
        }
        times.sort();
        let p50 = percentile(&times, 0.5);
        per_item.push(p50.as_secs_f64() / f64::from(limit));
        println!(
            "listing, pages of {limit}, one at a time: p50 {:.2} ms, p99 {:.2} ms",
            p50.as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3
        );
    }
    println!(
        "listing, time per item, page of 100 / page of 20: {:.2}",
        per_item[1] / per_item[0]
    );
    let listed = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + PHASE;
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (client, listed) = (client.clone(), listed.clone());
            let (url, token) = (server.url("/api/v1/images?limit=100"), token.to_owned());
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let res = client.get(&url).bearer_auth(&token).send().await.unwrap();
                    let page: Value = res.json().await.unwrap();
                    let items = page["items"].as_array().map_or(0, Vec::len);
                    listed.fetch_add(items, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for c in clients {
        c.await.unwrap();
    }
    println!(
        "listing, pages of 100 from 16 clients: {:.0} items/s",
        listed.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    );
}

/// The largest photo-like JPEG under 5 MiB at 4000×3000.
fn five_mib_photo() -> Vec<u8> {
    (80..=100)
        .rev()
        .map(|q| photo(4000, 3000, q))
        .find(|f| f.len() <= 5 * 1024 * 1024)
        .unwrap()
}

async fn peak_memory(client: &reqwest::Client) {
    let file = Arc::new(five_mib_photo());
    let server = Server::start();
    let token = server.token(client).await;
    let idle = server.peak_rss_mib();
    let url = server.url("/api/v1/images");
    let uploads: Vec<_> = (0..64)
        .map(|_| {
            let (c, u, t, f) = (client.clone(), url.clone(), token.clone(), file.clone());
            tokio::spawn(async move { upload(&c, &u, &t, &f).await })
        })
        .collect();
    for task in uploads {
        task.await.unwrap();
    }
    println!(
        "64 concurrent uploads of a {:.2} MiB 4000x3000 JPEG: peak RSS {:.0} MiB (idle {:.0} MiB)",
        file.len() as f64 / (1024.0 * 1024.0),
        server.peak_rss_mib(),
        idle
    );
}

fn main() {
    // Only run under `cargo bench` (which passes --bench), not `cargo test --benches`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        // `cargo bench --bench images -- memory` runs only the phases named.
        let only: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let run = |phase: &str| only.is_empty() || only.iter().any(|o| o == phase);
        if run("throughput") {
            uploads_and_fetches(&client).await;
        }
        if run("listing") {
            listing(&client).await;
        }
        if run("memory") {
            peak_memory(&client).await;
        }
    });
}
