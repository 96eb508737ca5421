//! A mutation fuzz run of the upload endpoint's body parser over real HTTP: a valid
//! multipart upload is mutated (bytes flipped, inserted and deleted, boundaries
//! duplicated or cut, headers mangled, truncated) and sent as is. Verdict: every answer
//! is 201 or a documented 4xx with the error shape, never a 5xx or a hang, and the
//! server stays healthy; only 201s leave rows.

use imagevault_test_support as support;

use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::Value;
use support::images::jpeg;
use support::{Engine, TestApp};

const BOUNDARY: &str = "imagevault-fuzz-boundary";

fn valid_body() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
    body.extend_from_slice(
        b"Content-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\
          Content-Type: image/jpeg\r\n\r\n",
    );
    body.extend_from_slice(&jpeg(24, 16, 7));
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    RepeatBoundary(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b"--".to_vec(),
        format!("--{BOUNDARY}\r\n").into_bytes(),
        b"Content-Disposition: form-data; name=\"file\"\r\n".to_vec(),
        b"filename=\"../../etc/passwd\"".to_vec(),
        b"\x00\xff\xfe".to_vec(),
        vec![b'A'; 300],
    ]);
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), tokens).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::RepeatBoundary),
    ]
}

fn apply(body: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match m {
        Mutation::Flip(i, x) => {
            let i = at(*i, body.len());
            body[i] ^= x;
        }
        Mutation::Insert(i, t) => {
            let i = at(*i, body.len() + 1);
            body.splice(i..i, t.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(*i, body.len());
            let end = (i + n).min(body.len());
            body.drain(i..end);
        }
        Mutation::Truncate(i) => body.truncate(at(*i, body.len())),
        Mutation::RepeatBoundary(i) => {
            let i = at(*i, body.len() + 1);
            let extra = format!("\r\n--{BOUNDARY}\r\n");
            body.splice(i..i, extra.bytes());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_upload_bodies_get_201_or_a_documented_4xx() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.signed_up_user("fuzz@example.com").await;
    let base = valid_body();
    // Deterministic: the same 300 bodies every run, so a failure reproduces.
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(mutation(), 1..4);
    let mut created = 0;
    for _ in 0..300 {
        let mutations = strategy.new_tree(&mut runner).unwrap().current();
        let mut body = base.clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        let res = tokio::time::timeout(
            Duration::from_secs(20),
            app.client
                .post(app.url("/api/v1/images"))
                .bearer_auth(&token)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(body)
                .send(),
        )
        .await
        .unwrap_or_else(|_| panic!("no answer within 20 s for {mutations:?}"))
        .unwrap();
        let status = res.status();
        if status == StatusCode::CREATED {
            created += 1;
            continue;
        }
        assert!(
            [400, 413, 415, 422].contains(&status.as_u16()),
            "{status} for {mutations:?}"
        );
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"]["code"].is_string(),
            "{body} for {mutations:?}"
        );
    }
    let list: Value = app
        .get_bearer("/api/v1/images?limit=100", &token)
        .await
        .json()
        .await
        .unwrap();
    let stored = list["items"].as_array().unwrap().len();
    assert_eq!(stored, created.min(100), "rows only for 201s");
    let health = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    app.finish().await;
}
