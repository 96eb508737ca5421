//! What key custody costs, with the release server: the master key in the key file
//! against the master key in a PKCS#11 token (`SoftHSM2`), in interleaved rounds.
//!
//! Per round and custody: uploads/s (c=8) and fetches/s (c=16) of a 640×480 JPEG with
//! the image cache off, so every request unwraps the user key (in process for the key
//! file, inside the token otherwise); then `rotate-user-keys --all` over the images
//! uploaded, timed as images re-encrypted per second. Prints medians and the ratio.
//!
//! `cargo bench -p imagevault-server --bench key_custody` (needs `softhsm2`).
#![allow(
    missing_docs,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // rates for display

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use imagevault_test_support::softhsm::SoftHsm;
use support::{Server, fetches, median, photo, uploads};

const ROUNDS: usize = 3;

struct Figures {
    uploads: f64,
    fetches: f64,
    rekeyed: f64,
}

async fn round(client: &reqwest::Client, hsm: Option<&SoftHsm>) -> Figures {
    let mut extra = vec![("IMAGE_CACHE_BYTES", "0".to_owned())];
    extra.extend(hsm.map(SoftHsm::vars).unwrap_or_default());
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with(&extra);
    let token = Arc::new(server.token(client).await);
    let file = Arc::new(photo(640, 480, 85));
    let uploads = uploads(client, 8, server.url("/api/v1/images"), token.clone(), file).await;
    let urls: Vec<String> = server
        .first_page(client, &token)
        .await
        .iter()
        .map(|item| server.content_url(item["id"].as_str().unwrap()))
        .collect();
    let fetched = fetches(client, 16, Arc::new(urls), Some(token)).await;
    let images = uploads.requests as f64;
    let started = Instant::now();
    let done = Server::command(&server.dir, server.addr.port(), &extra)
        .args(["rotate-user-keys", "--all"])
        .status()
        .unwrap();
    assert!(done.success());
    Figures {
        uploads: uploads.per_second,
        fetches: fetched.per_second,
        rekeyed: images / started.elapsed().as_secs_f64(),
    }
}

fn main() {
    support::main(|client| async move {
        let hsm = SoftHsm::new("iv-bench");
        let (mut file, mut token) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            file.push(round(&client, None).await);
            token.push(round(&client, Some(&hsm)).await);
        }
        let med = |of: &[Figures], f: fn(&Figures) -> f64| median(of.iter().map(f).collect());
        println!("key custody, medians of {ROUNDS} interleaved rounds, image cache off");
        println!("| | key file | PKCS#11 token (SoftHSM2) | token ÷ file |");
        println!("|---|---:|---:|---:|");
        for (name, pick) in [
            (
                "uploads/s, c=8",
                (|f: &Figures| f.uploads) as fn(&Figures) -> f64,
            ),
            ("fetches/s, c=16", |f: &Figures| f.fetches),
            ("images re-encrypted/s (rotate-user-keys)", |f: &Figures| {
                f.rekeyed
            }),
        ] {
            let (a, b) = (med(&file, pick), med(&token, pick));
            println!("| {name} | {a:.0} | {b:.0} | {:.2} |", b / a);
        }
    });
}
