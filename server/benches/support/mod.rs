//! What the load benchmarks share: the release server binary started on loopback with
//! the embedded default, a photo-like upload file, a load loop and its statistics.
#![allow(
    dead_code,
    reason = "each benchmark uses the part of the harness it needs"
)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};
use imagevault_server::vault::blob::{BlobId, BlobKind, open, seal};
use imagevault_server::vault::keyring::UserKey;
use imagevault_test_support::get_json;
use imagevault_test_support::images::post_image;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_imagevault-server");

/// The server binary the benchmarks start: this build's, or the one `BENCH_SERVER_BIN`
/// names (a build from before a change, run by the same benchmark on the same data).
pub fn bin() -> String {
    std::env::var("BENCH_SERVER_BIN").unwrap_or_else(|_| BIN.to_owned())
}
pub const PASSWORD: &str = "Correct-Horse-7-Battery-Staple";
pub const EMAIL: &str = "bench@example.com";
pub const PHASE: Duration = Duration::from_secs(8);

/// A photo-like JPEG: smooth gradients plus sensor-like noise.
pub fn photo(width: u32, height: u32, quality: u8) -> Vec<u8> {
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

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Cores ÷ the time of a plain `image` decode of `file`: what uploads of it can reach.
pub fn decode_limit(file: &[u8]) -> f64 {
    let times: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(image::load_from_memory(file).unwrap());
            t.elapsed().as_secs_f64()
        })
        .collect();
    cores() as f64 / median(times)
}

/// Cores ÷ the time of a MAC check plus decryption of a blob of `plain_len` bytes:
/// what fetches that miss the cache can reach, before sending a byte.
pub fn crypto_limit(plain_len: usize) -> f64 {
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

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    /// The configuration it was started with on top of the bench's own.
    extra: Vec<(String, String)>,
}

impl Server {
    pub fn command(dir: &Path, port: u16, extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env_clear()
            .env("DEBUG", "True")
            .env("RUST_LOG", "warn")
            .env("DATA_DIR", dir)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            // One account drives the whole load: the pipeline is measured, not the
            // fair-use limits that would spread it over many accounts.
            .env("UPLOAD_RATE_PER_MINUTE", "100000")
            .env("UPLOADS_PER_USER", "1000")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with `extra` configuration on top of the bench's own.
    pub fn start_with(extra: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("iv-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut create = Self::command(&dir, port, extra)
            .args(["create-user", "--email", EMAIL])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(create.stdin.as_mut().unwrap(), "{PASSWORD}").unwrap();
        assert!(create.wait().unwrap().success());
        let child = Self::command(&dir, port, extra)
            .arg("serve")
            .spawn()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for(addr);
        let extra = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self {
            child,
            addr,
            dir,
            extra,
        }
    }

    /// Stops the server and starts it again on the same data and port; how long the
    /// start took until it accepted connections.
    pub fn restart(&mut self) -> Duration {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let extra: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let started = Instant::now();
        self.child = Self::command(&self.dir, self.addr.port(), &extra)
            .arg("serve")
            .spawn()
            .unwrap();
        wait_for(self.addr);
        started.elapsed()
    }

    /// Peak resident set size of the server process so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib / 1024.0
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The content URL of image `id`.
    pub fn content_url(&self, id: &str) -> String {
        self.url(&format!("/api/v1/images/{id}/content"))
    }

    /// The newest page of up to 100 images, as the listing gives them.
    pub async fn first_page(&self, client: &reqwest::Client, token: &str) -> Vec<Value> {
        let page = get_json(client, &self.url("/api/v1/images?limit=100"), token).await;
        page["items"].as_array().unwrap().clone()
    }

    pub async fn token(&self, client: &reqwest::Client) -> String {
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

fn wait_for(addr: SocketAddr) {
    while TcpStream::connect(addr).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn upload(client: &reqwest::Client, url: &str, token: &str, file: &[u8]) -> Value {
    let res = post_image(client, url, token, "photo.jpg", file.to_vec()).await;
    assert_eq!(res.status(), 201, "upload refused");
    res.json().await.unwrap()
}

/// `c` clients upload `file` for [`PHASE`], each answer a 201.
pub async fn uploads(
    client: &reqwest::Client,
    c: usize,
    url: String,
    token: Arc<String>,
    file: Arc<Vec<u8>>,
) -> Measured {
    let (client, url) = (client.clone(), Arc::new(url));
    load(c, move |_| {
        let (client, url, token, file) = (client.clone(), url.clone(), token.clone(), file.clone());
        async move {
            upload(&client, &url, &token, &file).await;
        }
    })
    .await
}

pub struct Measured {
    /// Requests answered.
    pub requests: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// `concurrency` clients repeat `request` for `PHASE`; returns rate and latencies.
pub async fn load<F, Fut>(concurrency: usize, request: F) -> Measured
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
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
    }
}

/// `c` clients GET `urls` in turn (with `token` if any), each answer read to the end.
pub async fn fetches(
    client: &reqwest::Client,
    c: usize,
    urls: Arc<Vec<String>>,
    token: Option<Arc<String>>,
) -> Measured {
    let client = client.clone();
    load(c, move |n| {
        let mut req = client.get(&urls[n % urls.len()]);
        if let Some(token) = &token {
            req = req.bearer_auth(token.as_str());
        }
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            std::hint::black_box(res.bytes().await.unwrap());
        }
    })
    .await
}

/// Runs `bench` with a pooled client, only under `cargo bench` (which passes `--bench`),
/// not `cargo test --benches`.
pub fn main<F, Fut>(bench: F)
where
    F: FnOnce(reqwest::Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(bench(client));
}
