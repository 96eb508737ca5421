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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use imagevault_server::db::Db;
use imagevault_test_support::images::insert_rows_of_an_earlier_version;
use serde_json::Value;

mod support;
use support::{
    EMAIL, PHASE, Server, cores, crypto_limit, decode_limit, fetches, median, percentile, photo,
    upload, uploads,
};

const RUNS: usize = 3;

async fn uploads_and_fetches(client: &reqwest::Client) {
    let file = Arc::new(photo(2000, 1500, 92));
    println!(
        "upload file: 2000x1500 JPEG, {:.2} MB; {} cores",
        file.len() as f64 / 1e6,
        cores()
    );
    let server = Server::start();
    let token = Arc::new(server.token(client).await);
    let url = server.url("/api/v1/images");
    let mut ids = Vec::new();
    for concurrency in [8, 16] {
        // The machine is shared: the decode limit is taken right before and after the
        // phase it is compared with, and averaged.
        let before = decode_limit(&file);
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            runs.push(
                uploads(
                    client,
                    concurrency,
                    url.clone(),
                    token.clone(),
                    file.clone(),
                )
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
    let items = server.first_page(client, &token).await;
    for item in &items {
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let stored_len = items[0]["size"].as_u64().unwrap() as usize;
    let before = crypto_limit(stored_len);
    let urls: Vec<String> = ids.iter().map(|id| server.content_url(id)).collect();
    let (urls, token) = (Arc::new(urls), Some(token));
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(fetches(client, 16, urls.clone(), token.clone()).await);
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

/// Fills the listing with 10,000 rows (the listing reads rows, and opens their names,
/// only) and times pages.
async fn listing(client: &reqwest::Client) {
    let mut server = Server::start();
    let token = server.token(client).await;
    let db = Db::connect(&format!("sqlite://{}/imagevault.db", server.dir.display()))
        .await
        .unwrap();
    let owner: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(EMAIL)
        .fetch_one(db.pool())
        .await
        .unwrap();
    insert_rows_of_an_earlier_version(&db, &owner, 10_000).await;
    // Rows written as an earlier version wrote them (the name in clear): a start seals
    // them, once, before it serves.
    let start = server.restart();
    println!(
        "start with 10,000 rows of an earlier version: {:.2} s",
        start.as_secs_f64()
    );
    let mut latencies = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let url = match &cursor {
            Some(c) => server.url(&format!("/api/v1/images?limit=50&cursor={c}")),
            None => server.url("/api/v1/images?limit=50"),
        };
        let t = Instant::now();
        let page = imagevault_test_support::get_json(client, &url, &token).await;
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
    support::main(|client| async move {
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
