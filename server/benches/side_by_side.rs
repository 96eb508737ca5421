//! The issue-18 comparison in one run: the release server on loopback against nginx
//! serving the same file from disk (the ceiling for sending a file over HTTP on this
//! machine), in interleaved rounds, with ratios.
//!
//! `cargo bench -p imagevault-server --bench side_by_side` (nginx from Debian's package:
//! `apt-get install nginx-light`; without it the nginx rows are left out and said so).
//!
//! Each round measures, one after another: uploads of a 2000×1500 JPEG at c=8, fetches
//! at c=16 over a hot set of 100 images (which the default 256 MiB cache holds), fetches
//! at c=16 rotating over 1,000 distinct images (more than the cache holds), items listed
//! per second walking 1,000 images in pages of 100 at c=16, and nginx sending the same
//! file at c=16. Interleaving puts every measure under the same machine load; the
//! median of the rounds is reported. The load client is this process, on the same
//! cores as the server, as in any loopback benchmark. Each round also measures this
//! machine's decode and crypto limits, from which the report derives what uploads and
//! cold fetches can reach here at most.
#![allow(
    missing_docs,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // rates for display

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;

mod support;
use support::{PHASE, Server, crypto_limit, decode_limit, fetches, median, photo, upload, uploads};

const ROUNDS: usize = 3;
/// Images stored before the rounds: the cold set and the listing walk over them.
const STORED: usize = 1_000;
/// The hot set: what a gallery shows again and again.
const HOT: usize = 100;
/// Issue 18's target for fetches that miss the cache.
const COLD_TARGET: f64 = 1_450.0;

/// The original design's figures, measured on its Django stack (gunicorn, Pillow,
/// PostgreSQL bytea) with the same file and concurrency (issue 18); not re-run here.
const DJANGO: [(&str, f64); 3] = [
    ("uploads/s, c=8", 74.0),
    ("fetches/s, c=16, 1,000 distinct", 182.0),
    ("items listed/s", 167_000.0),
];

/// nginx serving one folder on a loopback port, for as long as this lives.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(file: &[u8]) -> Option<Self> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let dir = std::env::temp_dir().join(format!("iv-nginx-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("www")).unwrap();
        std::fs::write(dir.join("www/photo.jpg"), file).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        // As a stock static-file server is tuned: one worker per core, sendfile, keep-alive.
        let conf = format!(
            "daemon off; worker_processes auto; pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;\n\
             keepalive_requests 100000; client_body_temp_path {d}/tmp;\n\
             proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp;\n\
             scgi_temp_path {d}/tmp;\n\
             server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(binary)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..250 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Some(Self { child, dir, port });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Items per second from 16 clients, each walking every page of 100 from the newest.
async fn listing(client: &reqwest::Client, server: &Server, token: &str) -> f64 {
    let listed = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + PHASE;
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (client, listed) = (client.clone(), listed.clone());
            let (first, token) = (server.url("/api/v1/images?limit=100"), token.to_owned());
            tokio::spawn(async move {
                let mut url = first.clone();
                while Instant::now() < stop {
                    let res = client.get(&url).bearer_auth(&token).send().await.unwrap();
                    let page: Value = res.json().await.unwrap();
                    let items = page["items"].as_array().map_or(0, Vec::len);
                    listed.fetch_add(items, Ordering::Relaxed);
                    url = match page["next_cursor"].as_str() {
                        Some(c) => format!("{first}&cursor={c}"),
                        None => first.clone(),
                    };
                }
            })
        })
        .collect();
    let started = Instant::now();
    for c in clients {
        c.await.unwrap();
    }
    listed.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[derive(Default)]
struct Rounds {
    uploads: Vec<f64>,
    hot: Vec<f64>,
    cold: Vec<f64>,
    listed: Vec<f64>,
    nginx: Vec<f64>,
    decode: Vec<f64>,
    crypto: Vec<f64>,
}

async fn round(
    client: &reqwest::Client,
    server: &Server,
    token: &Arc<String>,
    file: &Arc<Vec<u8>>,
    sets: (&Arc<Vec<String>>, &Arc<Vec<String>>),
    nginx: Option<&Nginx>,
    out: &mut Rounds,
) {
    // The ceilings, under the same load as the phases beside them.
    out.decode.push(decode_limit(file));
    out.crypto.push(crypto_limit(file.len()));
    let url = server.url("/api/v1/images");
    let uploaded = uploads(client, 8, url, token.clone(), file.clone()).await;
    out.uploads.push(uploaded.per_second);
    out.hot.push(
        fetches(client, 16, sets.0.clone(), Some(token.clone()))
            .await
            .per_second,
    );
    out.cold.push(
        fetches(client, 16, sets.1.clone(), Some(token.clone()))
            .await
            .per_second,
    );
    out.listed.push(listing(client, server, token).await);
    if let Some(nginx) = nginx {
        let url = Arc::new(vec![format!("http://127.0.0.1:{}/photo.jpg", nginx.port)]);
        out.nginx
            .push(fetches(client, 16, url, None).await.per_second);
    }
    println!(
        "  round {}: uploads {:.0}/s, hot fetches {:.0}/s, cold fetches {:.0}/s, listed {:.0} items/s{}",
        out.uploads.len(),
        out.uploads.last().unwrap(),
        out.hot.last().unwrap(),
        out.cold.last().unwrap(),
        out.listed.last().unwrap(),
        out.nginx
            .last()
            .map_or(String::new(), |n| format!(", nginx {n:.0}/s")),
    );
}

/// Stores [`STORED`] images and returns the content URLs of the hot and the cold set.
async fn fill(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    file: &[u8],
) -> (Arc<Vec<String>>, Arc<Vec<String>>) {
    let url = server.url("/api/v1/images");
    let mut ids = Vec::with_capacity(STORED);
    for _ in 0..STORED / 8 {
        let batch: Vec<_> = (0..8).map(|_| upload(client, &url, token, file)).collect();
        for object in futures_util::future::join_all(batch).await {
            ids.push(object["id"].as_str().unwrap().to_owned());
        }
    }
    let content = |id: &String| server.content_url(id);
    let hot = ids[..HOT].iter().map(content).collect();
    let cold = ids.iter().map(content).collect();
    (Arc::new(hot), Arc::new(cold))
}

fn report(rounds: &Rounds) {
    let m = |v: &Vec<f64>| median(v.clone());
    let (uploads, hot, cold, listed) = (
        m(&rounds.uploads),
        m(&rounds.hot),
        m(&rounds.cold),
        m(&rounds.listed),
    );
    println!("median of {ROUNDS} interleaved rounds:");
    println!(
        "  uploads/s, c=8:                     {uploads:>9.0}   × Django {:.2} (target ×2)",
        uploads / DJANGO[0].1
    );
    println!("  fetches/s, c=16, hot set of {HOT}:   {hot:>9.0}   (target ≥ 1,800)");
    println!(
        "  fetches/s, c=16, {STORED} distinct:  {cold:>9.0}   × Django {:.2} (target ≥ {COLD_TARGET:.0})",
        cold / DJANGO[1].1
    );
    println!(
        "  items listed/s, pages of 100, c=16: {listed:>9.0}   × Django {:.2} (target ×3)",
        listed / DJANGO[2].1
    );
    if rounds.nginx.is_empty() {
        println!("  nginx: not installed (apt-get install nginx-light), no ceiling measured");
    } else {
        let nginx = m(&rounds.nginx);
        println!("  nginx sending the same file, c=16:  {nginx:>9.0}");
        println!("  hot fetches / nginx:  {:.2} (target ≥ 0.6)", hot / nginx);
        println!("  cold fetches / nginx: {:.2}", cold / nginx);
    }
    ceilings(rounds, uploads, hot);
    let django: Vec<String> = DJANGO.iter().map(|(k, v)| format!("{k} {v:.0}")).collect();
    println!("  (Django design, from the issue: {})", django.join("; "));
}

/// What this machine allows at most, from figures of the same run: an upload decodes
/// the whole file (the decode limit), and a fetch that misses the cache does all of a
/// hot fetch's work (authenticate, find the row, send the bytes, the client's receive)
/// plus the MAC check and decryption, so it runs at most at 1 / (1/hot + 1/crypto).
fn ceilings(rounds: &Rounds, uploads: f64, hot: f64) {
    let (decode, crypto) = (median(rounds.decode.clone()), median(rounds.crypto.clone()));
    let cold_ceiling = 1.0 / (1.0 / hot + 1.0 / crypto);
    let upload_target = 2.0 * DJANGO[0].1;
    println!("ceilings on this machine, measured in the same rounds:");
    println!(
        "  decode limit (a plain decode of the file on every core): {decode:.0}/s; uploads reach {:.2} of it; the upload target ({upload_target:.0}/s) is {:.1}× it",
        uploads / decode,
        upload_target / decode
    );
    println!(
        "  crypto limit (MAC check + decryption on every core): {crypto:.0}/s; cold-fetch ceiling 1 / (1/hot + 1/crypto) = {cold_ceiling:.0}/s; cold fetches reach {:.2} of it; the target ({COLD_TARGET:.0}/s) is {:.1}× it",
        median(rounds.cold.clone()) / cold_ceiling,
        COLD_TARGET / cold_ceiling
    );
}

fn main() {
    support::main(|client| async move {
        let file = Arc::new(photo(2000, 1500, 92));
        println!(
            "file: 2000x1500 JPEG, {:.2} MB; {} cores",
            file.len() as f64 / 1e6,
            support::cores()
        );
        let server = Server::start();
        let token = Arc::new(server.token(&client).await);
        let started = Instant::now();
        let (hot, cold) = fill(&client, &server, &token, &file).await;
        println!(
            "stored {STORED} images in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let nginx = Nginx::start(&file);
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            round(
                &client,
                &server,
                &token,
                &file,
                (&hot, &cold),
                nginx.as_ref(),
                &mut rounds,
            )
            .await;
        }
        report(&rounds);
    });
}
