//! The in-memory image cache and conditional requests, on both whole stacks: what a
//! browser may keep, 304s that never cross owners, a cache that serves repeats without
//! touching the store and forgets deleted images and accounts, and listing pages served
//! again until any instance changes the list.

use imagevault_test_support as support;
use support::both_engines;

use imagevault_server::db::ids::{ImageId, UserId};
use imagevault_server::vault::blob::BlobKind;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::Value;
use support::images::{jpeg, png};
use support::{Engine, PASSWORD, TestApp};

both_engines!(
    thumbnails_revalidate_originals_are_never_stored_and_both_answer_304,
    the_cache_serves_repeats_and_forgets_deleted_images_and_accounts,
    with_the_cache_off_every_fetch_reads_the_store,
    listing_pages_are_served_again_until_any_instance_changes_the_list,
);

const METRICS: &str = "metrics-token-0123456789-abcdefghijklmnop";

async fn upload_id(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> String {
    let res = app.upload(token, name, bytes).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{name}");
    let object: Value = res.json().await.unwrap();
    object["id"].as_str().unwrap().to_owned()
}

/// A GET with the bearer `token` and an `If-None-Match` of `etag`.
async fn get_if_none_match(
    app: &TestApp,
    path: &str,
    token: &str,
    etag: &str,
) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap()
}

async fn user_id(app: &TestApp, token: &str) -> UserId {
    let me: Value = app.me(token).await.json().await.unwrap();
    me["id"].as_str().unwrap().parse().unwrap()
}

async fn thumbnails_revalidate_originals_are_never_stored_and_both_answer_304(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let alice = app.signed_up_user("alice@example.com").await;
    let mallory = app.signed_up_user("mallory@example.com").await;
    let id = upload_id(&app, &alice, "a.jpg", jpeg(400, 300, 1)).await;
    let other = upload_id(&app, &alice, "b.png", png(40, 30, 2)).await;
    let mut etags = Vec::new();
    for (kind, policy) in [
        ("thumbnail", "private, no-cache"),
        ("content", "private, no-store"),
    ] {
        let path = format!("/api/v1/images/{id}/{kind}");
        let res = app.get_bearer(&path, &alice).await;
        assert_eq!(res.status(), StatusCode::OK, "{kind}");
        assert_eq!(res.headers()[CACHE_CONTROL], policy, "{kind}");
        let etag = res.headers()[ETAG].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "strong: {etag}"
        );
        let body = res.bytes().await.unwrap();

        for asked in [
            etag.clone(),
            format!("W/{etag}"),
            "*".into(),
            format!("\"x\", {etag}"),
        ] {
            let res = get_if_none_match(&app, &path, &alice, &asked).await;
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{kind} {asked}");
            assert_eq!(res.headers()[ETAG].to_str().unwrap(), etag);
            assert_eq!(res.headers()[CACHE_CONTROL], policy);
            assert!(res.headers().get(CONTENT_TYPE).is_none());
            assert!(res.bytes().await.unwrap().is_empty(), "a 304 has no body");
        }
        for stale in ["\"stale\"", "garbage", ""] {
            let res = get_if_none_match(&app, &path, &alice, stale).await;
            assert_eq!(res.status(), StatusCode::OK, "{kind} {stale:?}");
            assert_eq!(res.bytes().await.unwrap(), body);
        }
        // The right ETag from someone else is still the 404 of an unknown id.
        let res = get_if_none_match(&app, &path, &mallory, &etag).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{kind}");
        let res = get_if_none_match(&app, &path, "not-a-token", &etag).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{kind}");
        etags.push(etag);
    }
    let res = app
        .get_bearer(&format!("/api/v1/images/{other}/content"), &alice)
        .await;
    etags.push(res.headers()[ETAG].to_str().unwrap().to_owned());
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), 3, "every blob has its own ETag");

    let path = format!("/api/v1/images/{id}/thumbnail");
    let etag = app.get_bearer(&path, &alice).await.headers()[ETAG]
        .to_str()
        .unwrap()
        .to_owned();
    let deleted = app
        .delete_bearer(&format!("/api/v1/images/{id}"), &alice)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let res = get_if_none_match(&app, &path, &alice, &etag).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "a deleted image is gone, not unchanged"
    );
    app.finish().await;
}

async fn the_cache_serves_repeats_and_forgets_deleted_images_and_accounts(engine: Engine) {
    let app = TestApp::spawn_stack_with(engine, &[("METRICS_TOKEN", METRICS)]).await;
    let alice = app.signed_up_user("alice@example.com").await;
    let bob = app.signed_up_user("bob@example.com").await;
    let (alice_id, bob_id) = (user_id(&app, &alice).await, user_id(&app, &bob).await);
    let first = upload_id(&app, &alice, "a.jpg", jpeg(200, 150, 1)).await;
    let second = upload_id(&app, &alice, "b.png", png(60, 40, 2)).await;
    let bobs = upload_id(&app, &bob, "c.png", png(60, 40, 3)).await;
    let cache = &app.state.image_cache;
    assert!(cache.is_empty(), "uploads are not cached");

    let content = format!("/api/v1/images/{first}/content");
    let original = app
        .get_bearer(&content, &alice)
        .await
        .bytes()
        .await
        .unwrap();
    let image: ImageId = first.parse().unwrap();
    assert!(cache.get(alice_id, image, BlobKind::Image).is_some());
    assert!(cache.get(alice_id, image, BlobKind::Thumbnail).is_none());
    // With its blob gone from the store, the verified copy is still served: a hit.
    std::fs::remove_file(app.blob_file(&first, false)).unwrap();
    let again = app.get_bearer(&content, &alice).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.bytes().await.unwrap(), original);
    let scrape = app.scrape(METRICS).await;
    let lookups = |outcome| {
        scrape.value(
            "imagevault_image_cache_lookups_total",
            &[("kind", "image"), ("outcome", outcome)],
        )
    };
    assert_eq!((lookups("hit"), lookups("miss")), (1, 1));
    let held = scrape.value("imagevault_image_cache_bytes", &[]);
    assert!(held >= original.len() as u64, "{held}");

    // Deleting the image drops it from the cache at once.
    for path in [
        format!("/api/v1/images/{second}/thumbnail"),
        format!("/api/v1/images/{second}/content"),
        format!("/api/v1/images/{bobs}/content"),
    ] {
        assert_eq!(
            app.get_bearer(&path, if path.contains(&bobs) { &bob } else { &alice })
                .await
                .status(),
            StatusCode::OK
        );
    }
    let res = app
        .delete_bearer(&format!("/api/v1/images/{first}"), &alice)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(cache.get(alice_id, image, BlobKind::Image).is_none());
    assert_eq!(
        app.get_bearer(&content, &alice).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(cache.len(), 3, "the other images stay");

    // Deleting the account drops everything of it, and only of it.
    assert_eq!(
        app.delete_me(&alice, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    let second: ImageId = second.parse().unwrap();
    for kind in [BlobKind::Image, BlobKind::Thumbnail] {
        assert!(cache.get(alice_id, second, kind).is_none());
    }
    assert!(
        cache
            .get(bob_id, bobs.parse().unwrap(), BlobKind::Image)
            .is_some()
    );
    assert_eq!(cache.len(), 1);
    app.finish().await;
}

async fn with_the_cache_off_every_fetch_reads_the_store(engine: Engine) {
    let extra = [("METRICS_TOKEN", METRICS), ("IMAGE_CACHE_BYTES", "0")];
    let app = TestApp::spawn_stack_with(engine, &extra).await;
    let token = app.signed_up_user("nocache@example.com").await;
    let id = upload_id(&app, &token, "a.png", png(60, 40, 1)).await;
    let path = format!("/api/v1/images/{id}/thumbnail");
    for _ in 0..2 {
        assert_eq!(app.get_bearer(&path, &token).await.status(), StatusCode::OK);
    }
    assert!(app.state.image_cache.is_empty());
    let scrape = app.scrape(METRICS).await;
    let lookups = |outcome| {
        scrape.value(
            "imagevault_image_cache_lookups_total",
            &[("kind", "thumbnail"), ("outcome", outcome)],
        )
    };
    assert_eq!((lookups("hit"), lookups("miss")), (0, 2));
    std::fs::remove_file(app.blob_file(&id, true)).unwrap();
    let res = app.get_bearer(&path, &token).await;
    assert_eq!(
        res.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "the missing blob is noticed"
    );
    app.finish().await;
}

/// A listing page on `base` (this instance or a sibling): its status, `ETag` and ids.
async fn listed(
    app: &TestApp,
    base: &str,
    query: &str,
    token: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, String, Vec<String>) {
    let mut req = app
        .client
        .get(format!("{base}/api/v1/images?{query}"))
        .bearer_auth(token);
    if let Some(etag) = if_none_match {
        req = req.header(IF_NONE_MATCH, etag);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let etag = res
        .headers()
        .get(ETAG)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if status == StatusCode::NOT_MODIFIED {
        assert!(res.bytes().await.unwrap().is_empty(), "a 304 has no body");
        return (status, etag, Vec::new());
    }
    assert_eq!(res.headers()[CACHE_CONTROL], "private, no-store");
    let page: Value = res.json().await.unwrap();
    let ids = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    (status, etag, ids)
}

async fn listing_pages_are_served_again_until_any_instance_changes_the_list(engine: Engine) {
    let app = TestApp::spawn_stack_with(engine, &[("METRICS_TOKEN", METRICS)]).await;
    let (other, other_handle) = app.sibling().await;
    let (here, other) = (app.base.clone(), format!("http://{other}"));
    let alice = app.signed_up_user("alice@example.com").await;
    let bob = app.signed_up_user("bob@example.com").await;
    let oldest = upload_id(&app, &alice, "a.png", png(20, 20, 1)).await;
    let newest = upload_id(&app, &alice, "b.png", png(20, 20, 2)).await;

    let (status, etag, ids) = listed(&app, &here, "limit=1", &alice, None).await;
    assert_eq!(
        (status, ids.clone()),
        (StatusCode::OK, vec![newest.clone()])
    );
    assert_eq!(
        listed(&app, &here, "limit=1", &alice, None).await,
        (status, etag.clone(), ids)
    );
    let (_, _, all) = listed(&app, &here, "", &alice, None).await;
    assert_eq!(all, [newest.clone(), oldest.clone()]);
    let lookups = |scrape: &support::metrics::Scraped, outcome| {
        scrape.value(
            "imagevault_image_cache_lookups_total",
            &[("kind", "listing_page"), ("outcome", outcome)],
        )
    };
    let scrape = app.scrape(METRICS).await;
    assert_eq!((lookups(&scrape, "hit"), lookups(&scrape, "miss")), (1, 2));

    // A client holding the page asks whether it changed.
    let (status, same, _) = listed(&app, &here, "limit=1", &alice, Some(&etag)).await;
    assert_eq!((status, same), (StatusCode::NOT_MODIFIED, etag.clone()));
    for stale in ["\"stale\"", "garbage", "", "W/\"\""] {
        let (status, _, _) = listed(&app, &here, "limit=1", &alice, Some(stale)).await;
        assert_eq!(status, StatusCode::OK, "{stale:?}");
    }
    let (status, _, _) = listed(&app, &here, "limit=1", &alice, Some("*")).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "any page exists");
    // Alice's ETag is nothing to Bob: he gets his own (empty) page.
    let (status, _, ids) = listed(&app, &here, "limit=1", &bob, Some(&etag)).await;
    assert_eq!((status, ids), (StatusCode::OK, Vec::<String>::new()));

    // An upload here, then a delete on the other instance: each shows on both at once.
    let third = upload_id(&app, &alice, "c.png", png(20, 20, 3)).await;
    for base in [&here, &other] {
        let (status, changed, ids) = listed(&app, base, "limit=1", &alice, Some(&etag)).await;
        assert_eq!(
            (status, ids),
            (StatusCode::OK, vec![third.clone()]),
            "{base}"
        );
        assert_ne!(changed, etag);
    }
    let res = app
        .client
        .delete(format!("{other}/api/v1/images/{third}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for base in [&here, &other] {
        let (_, _, all) = listed(&app, base, "", &alice, None).await;
        assert_eq!(all, [newest.clone(), oldest.clone()], "{base}");
    }
    // The same list again has the same page and ETag as before it changed.
    let (status, _, _) = listed(&app, &here, "limit=1", &alice, Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Hostile paging is refused before the cache is consulted.
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=%00",
        "cursor=AAAA",
    ] {
        let res = app
            .get_bearer(&format!("/api/v1/images?{query}"), &alice)
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    other_handle.stop_forceful();
    app.finish().await;
}
