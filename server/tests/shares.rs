//! Share links through the JSON API, on both stacks (SQLite + files, PostgreSQL + S3):
//! create, list, revoke; the public answers (numbers, never ids, owners or filenames);
//! passwords (right, wrong, rate limited); the view limit; expiry; every dead link the
//! same 404 byte for byte; view-only links never serve the stored bytes; another
//! user's image cannot be shared; tokens never stored in clear; every step an event
//! the owner sees.

use imagevault_test_support as support;
use support::both_engines;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::images::png;
use support::{Engine, TestApp, error_code};

struct Shared {
    token: String,
    id: String,
}

async fn uploaded(app: &TestApp, token: &str, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for (seed, name) in (1..).zip(names) {
        let res = app.upload(token, name, png(96, 64, seed)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids
}

async fn share(app: &TestApp, owner: &str, body: Value) -> reqwest::Response {
    app.bearer(Method::POST, "/api/v1/shares", owner, Some(body))
        .await
}

async fn shared(app: &TestApp, owner: &str, body: Value) -> Shared {
    let res = share(app, owner, body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let url = created["url"].as_str().unwrap();
    assert!(url.starts_with("http://app.test/s/"), "{url}");
    // The answer describes the link exactly as the list reads it back, minus the URL.
    let mut described = created.clone();
    described.as_object_mut().unwrap().remove("url");
    let listed = owners_links(app, owner).await;
    assert!(listed.contains(&described), "{described} not in {listed:?}");
    Shared {
        token: url.rsplit('/').next().unwrap().to_owned(),
        id: created["id"].as_str().unwrap().to_owned(),
    }
}

/// A link made with `body` and opened once: the link and the opening's access.
async fn shared_and_opened(app: &TestApp, owner: &str, body: Value) -> (Shared, String) {
    let link = shared(app, owner, body).await;
    let res = open(app, &link.token, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let opened: Value = res.json().await.unwrap();
    let access = opened["access"].as_str().unwrap().to_owned();
    (link, access)
}

async fn owners_links(app: &TestApp, owner: &str) -> Vec<Value> {
    let listed: Value = app
        .bearer(Method::GET, "/api/v1/shares", owner, None)
        .await
        .json()
        .await
        .unwrap();
    listed["items"].as_array().unwrap().clone()
}

/// `DELETE /shares/{id}` as `owner`.
async fn revoke(app: &TestApp, owner: &str, id: &str) -> reqwest::Response {
    let path = format!("/api/v1/shares/{id}");
    app.bearer(Method::DELETE, &path, owner, None).await
}

async fn public(app: &TestApp, path: &str, access: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(access) = access {
        req = req.header("x-share-access", access);
    }
    req.send().await.unwrap()
}

async fn open(app: &TestApp, token: &str, access: Option<&str>) -> reqwest::Response {
    public(app, &format!("/api/v1/public/shares/{token}"), access).await
}

async fn unlock(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/public/shares/{token}/unlock"),
        json!({"password": password}),
    )
    .await
}

fn digest(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

async fn links_are_made_listed_opened_and_revoked(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let owner = app.signed_up_user("sharer@example.com").await;
    let ids = uploaded(&app, &owner, &["beach-secret.png", "dinner-secret.png"]).await;
    let body =
        json!({"image_ids": ids, "title": "Summer", "allow_download": false, "watermark": false});
    let link = shared(&app, &owner, body).await;

    let listed = owners_links(&app, &owner).await;
    let item = &listed[0];
    assert_eq!(item["id"], link.id.as_str());
    assert_eq!(item["title"], "Summer");
    assert_eq!(item["image_count"], 2);
    assert_eq!(item["views"], 0);
    assert_eq!(item["has_password"], false);
    assert_eq!(item["revoked"], false);
    assert!(
        item.get("url").is_none(),
        "the link is shown once, at creation"
    );

    let res = open(&app, &link.token, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-robots-tag"], "noindex, nofollow");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let text = res.text().await.unwrap();
    for private in ["sharer@example.com", "secret", &ids[0], &ids[1]] {
        assert!(
            !text.contains(private),
            "the public answer shows {private}: {text}"
        );
    }
    let opened: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(opened["title"], "Summer");
    assert_eq!(opened["allow_download"], false);
    let numbers: Vec<u64> = opened["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["n"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2]);
    let access = opened["access"].as_str().unwrap();
    let thumb = format!("/api/v1/public/shares/{}/images/2/thumbnail", link.token);
    let res = public(&app, &thumb, Some(access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
    assert_eq!(
        public(&app, &thumb, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let query = format!("{thumb}?access={access}");
    assert_eq!(public(&app, &query, None).await.status(), StatusCode::OK);

    // Another user's link, or no id at all, is the same 404 and revokes nothing.
    let stranger = app.signed_up_user("stranger@example.com").await;
    for id in [link.id.as_str(), "not-an-id", "%00", &"9".repeat(300)] {
        let res = revoke(&app, &stranger, id).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
    }
    assert_eq!(owners_links(&app, &owner).await[0]["revoked"], false);
    let res = revoke(&app, &owner, &link.id).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        open(&app, &link.token, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        public(&app, &thumb, Some(access)).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = revoke(&app, &owner, &link.id).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "revoked once");

    // Every step is an event the owner sees.
    let activity: Value = app
        .bearer(Method::GET, "/api/v1/me/activity", &owner, None)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = activity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .take(3)
        .collect();
    assert_eq!(kinds, ["share_revoked", "share_opened", "share_created"]);
    app.finish().await;
}

async fn bad_settings_and_others_images_store_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signed_up_user("careful@example.com").await;
    let other = app.signed_up_user("other@example.com").await;
    let mine = uploaded(&app, &owner, &["a.png"]).await;
    let theirs = uploaded(&app, &other, &["b.png"]).await;
    let base = |extra: Value| {
        let mut body = json!({"image_ids": mine, "allow_download": false, "watermark": false});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let many: Vec<String> = (0..501).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for (body, why) in [
        (base(json!({"image_ids": []})), "no images"),
        (base(json!({"image_ids": many})), "too many images"),
        (
            base(json!({"image_ids": [mine[0], mine[0]]})),
            "an image twice",
        ),
        (base(json!({"expires_in_seconds": 59})), "too short"),
        (
            base(json!({"expires_in_seconds": 90 * 86_400 + 1})),
            "too long",
        ),
        (base(json!({"max_views": 0})), "no views"),
        (base(json!({"title": "x".repeat(101)})), "long title"),
        (base(json!({"title": "two\nlines"})), "a control character"),
        (base(json!({"password": "short"})), "short password"),
    ] {
        let res = share(&app, &owner, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert_eq!(error_code(res).await, "invalid_share", "{why}");
    }
    for (body, why) in [
        (base(json!({"owner": "x"})), "unknown field"),
        (base(json!({"allow_download": "yes"})), "not a bool"),
        (json!({"image_ids": mine}), "settings missing"),
        (base(json!({"image_ids": ["not-a-uuid"]})), "not an id"),
    ] {
        let res = share(&app, &owner, body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
    }
    // 500 ids fit in a body (none of these is the caller's: 404, not 413).
    let most: Vec<String> = (0..500).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let res = share(&app, &owner, base(json!({"image_ids": most}))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Another user's image is refused exactly like one that does not exist.
    let res = share(
        &app,
        &owner,
        base(json!({"image_ids": [mine[0], theirs[0]]})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let missing = uuid::Uuid::new_v4().to_string();
    let res2 = share(&app, &owner, base(json!({"image_ids": [missing]}))).await;
    assert_eq!(res2.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text().await.unwrap(), res2.text().await.unwrap());
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shares")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing half-written");
    app.finish().await;
}

async fn passwords_view_limits_and_expiry(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signed_up_user("guarded@example.com").await;
    let ids = uploaded(&app, &owner, &["a.png"]).await;
    let body = json!({"image_ids": ids, "password": "open sesame 42", "max_views": 2,
        "allow_download": false, "watermark": true});
    let link = shared(&app, &owner, body).await;

    let res = open(&app, &link.token, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "password_required");
    let res = unlock(&app, &link.token, "open sesame 41").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_credentials");
    let res = unlock(&app, &link.token, "open sesame 42").await;
    assert_eq!(res.status(), StatusCode::OK);
    let access = res.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_owned();
    // A forged or altered access token is refused.
    let forged = format!("{}.{}", i64::MAX, "0".repeat(64));
    let res = open(&app, &link.token, Some(&forged)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Two views allowed (each unlock's opening counts one): the third finds a dead link.
    let mut opened = String::new();
    for _ in 0..2 {
        let res = open(&app, &link.token, Some(&access)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        body["access"].as_str().unwrap().clone_into(&mut opened);
    }
    let over = open(&app, &link.token, Some(&access)).await;
    assert_eq!(over.status(), StatusCode::NOT_FOUND);
    // The openings already counted still show their images (an unlock alone does not).
    let thumb = format!("/api/v1/public/shares/{}/images/1/thumbnail", link.token);
    assert_eq!(
        public(&app, &thumb, Some(&opened)).await.status(),
        StatusCode::OK
    );
    let res = public(&app, &thumb, Some(&access)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Wrong passwords are rate limited per link.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(unlock(&app, &link.token, "guess guess").await.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Expiry: the clock moved past it (set in the database, no sleeping).
    let fresh = shared(
        &app,
        &owner,
        json!({"image_ids": ids, "allow_download": true, "watermark": false}),
    )
    .await;
    assert_eq!(
        open(&app, &fresh.token, None).await.status(),
        StatusCode::OK
    );
    sqlx::query("UPDATE shares SET expires_at = $1 WHERE id = $2")
        .bind(imagevault_server::db::now() - 1)
        .bind(&fresh.id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        open(&app, &fresh.token, None).await.status(),
        StatusCode::NOT_FOUND
    );

    let activity = app
        .bearer(Method::GET, "/api/v1/me/activity", &owner, None)
        .await;
    let text = activity.text().await.unwrap();
    for kind in ["share_wrong_password", "share_unlocked", "share_opened"] {
        assert!(text.contains(kind), "{kind} in {text}");
    }
    app.finish().await;
}

async fn view_only_never_serves_the_stored_bytes(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let owner = app.signed_up_user("private@example.com").await;
    let ids = uploaded(&app, &owner, &["a.png", "b.png"]).await;
    let stored = app
        .get_bearer(&format!("/api/v1/images/{}/content", ids[0]), &owner)
        .await
        .bytes()
        .await
        .unwrap();
    let (view_only, access) = shared_and_opened(
        &app,
        &owner,
        json!({"image_ids": ids, "allow_download": false, "watermark": false}),
    )
    .await;
    let base = format!("/api/v1/public/shares/{}", view_only.token);
    let mut answers = Vec::new();
    for path in [
        base.clone(),
        format!("{base}/images/1/thumbnail"),
        format!("{base}/images/2/thumbnail"),
        format!("{base}/images/1/view"),
        format!("{base}/images/2/view"),
        format!("{base}/images/1/download"),
        format!("{base}/images/2/download"),
        format!("/s/{}", view_only.token),
    ] {
        answers.push(
            public(&app, &path, Some(&access))
                .await
                .bytes()
                .await
                .unwrap(),
        );
    }
    for answer in &answers {
        assert_ne!(
            digest(answer),
            digest(&stored),
            "a view-only link served the stored bytes"
        );
        assert!(!answer.windows(stored.len()).any(|w| w == stored.as_ref()));
    }

    // With downloads on, the download is exactly the stored image, named by number.
    let (downloadable, access2) = shared_and_opened(
        &app,
        &owner,
        json!({"image_ids": ids, "allow_download": true, "watermark": false}),
    )
    .await;
    let path = format!(
        "/api/v1/public/shares/{}/images/1/download",
        downloadable.token
    );
    let res = public(&app, &path, Some(&access2)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"photo-1.png\""
    );
    assert_eq!(digest(&res.bytes().await.unwrap()), digest(&stored));

    app.finish().await;
}

async fn dead_links_look_alike_and_tokens_stay_hashed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signed_up_user("dead@example.com").await;
    let ids = uploaded(&app, &owner, &["a.png", "b.png"]).await;
    let settings = json!({"image_ids": ids, "allow_download": false, "watermark": false});
    let (view_only, access) = shared_and_opened(&app, &owner, settings).await;
    let downloadable = shared(
        &app,
        &owner,
        json!({"image_ids": ids, "allow_download": true, "watermark": false}),
    )
    .await;
    // Unknown, revoked, expired, over the limit, a wrong number: one and the same 404.
    let limited = shared(
        &app,
        &owner,
        json!({"image_ids": ids, "max_views": 1, "allow_download": false, "watermark": false}),
    )
    .await;
    assert_eq!(
        open(&app, &limited.token, None).await.status(),
        StatusCode::OK
    );
    let expired = shared(
        &app,
        &owner,
        json!({"image_ids": ids, "allow_download": false, "watermark": false}),
    )
    .await;
    sqlx::query("UPDATE shares SET expires_at = 0 WHERE id = $1")
        .bind(&expired.id)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let revoked = shared(
        &app,
        &owner,
        json!({"image_ids": ids, "allow_download": false, "watermark": false}),
    )
    .await;
    revoke(&app, &owner, &revoked.id).await;
    let unknown = "A".repeat(43);
    let mut dead = Vec::new();
    for path in [
        format!("/api/v1/public/shares/{unknown}"),
        format!("/api/v1/public/shares/{}", revoked.token),
        format!("/api/v1/public/shares/{}", expired.token),
        format!("/api/v1/public/shares/{}", limited.token),
        format!(
            "/api/v1/public/shares/{}/images/9/thumbnail",
            view_only.token
        ),
        format!(
            "/api/v1/public/shares/{}/images/x/thumbnail",
            view_only.token
        ),
        format!(
            "/api/v1/public/shares/{}/images/1/download",
            view_only.token
        ),
    ] {
        let res = public(&app, &path, Some(&access)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        dead.push(res.bytes().await.unwrap());
    }
    assert!(dead.windows(2).all(|w| w[0] == w[1]), "identical bodies");

    // Crawlers are kept off share links (and everything private).
    let robots = app.client.get(app.url("/robots.txt")).send().await.unwrap();
    assert_eq!(robots.status(), StatusCode::OK);
    let robots = robots.text().await.unwrap();
    assert!(robots.lines().any(|l| l == "Disallow: /s/"), "{robots}");
    assert!(robots.lines().any(|l| l == "Disallow: /api/"), "{robots}");

    // Tokens are never stored in clear: not in the shares, not in the audit log.
    for token in [&view_only.token, &downloadable.token, &limited.token] {
        for table in ["shares", "audit_log"] {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM {table}",
                if table == "shares" {
                    "token_hash || COALESCE(title, '')"
                } else {
                    "detail"
                }
            )))
            .fetch_all(app.state.db.pool())
            .await
            .unwrap();
            assert!(rows.iter().all(|r| !r.contains(token.as_str())), "{table}");
        }
    }
    app.finish().await;
}

async fn renderings_are_scaled_and_watermarked(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let owner = app.signed_up_user("marked@example.com").await;
    let res = app
        .upload(&owner, "wide.jpg", support::images::jpeg(2600, 1300, 5))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut renderings = Vec::new();
    for watermark in [false, true] {
        let body = json!({"image_ids": [id], "title": "Grandma's 90th", "allow_download": false, "watermark": watermark});
        let (link, access) = shared_and_opened(&app, &owner, body).await;
        let path = format!("/api/v1/public/shares/{}/images/1/view", link.token);
        let res = public(&app, &path, Some(&access)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        let bytes = res.bytes().await.unwrap();
        renderings.push(image::load_from_memory(&bytes).unwrap().to_rgb8());
    }
    let (plain, marked) = (&renderings[0], &renderings[1]);
    assert_eq!(plain.dimensions(), (2048, 1024), "scaled to fit 2048 px");
    let (w, h) = plain.dimensions();
    let changed = (w - 300..w)
        .flat_map(|x| (h - 60..h).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let (a, b) = (plain.get_pixel(x, y), marked.get_pixel(x, y));
            a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 40)
        })
        .count();
    assert!(changed > 5000, "the watermark is in the pixels: {changed}");
    app.finish().await;
}

/// The `src` of every `<img>` in a page.
fn image_sources(html: &str) -> Vec<String> {
    html.split("<img ")
        .skip(1)
        .filter_map(|tag| tag.split("src=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(|src| src.replace("&amp;", "&"))
        .collect()
}

/// A browser that opened `page`, met the password form, tried a wrong password and
/// then `password`.
async fn unlocked_visitor(app: &TestApp, page: &str, password: &'static str) -> reqwest::Client {
    let visitor = support::browser();

    let res = visitor.get(app.url(page)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-robots-tag"], "noindex, nofollow");
    let form = res.text().await.unwrap();
    let csrf = support::form_field(&form, "csrf_token");
    let unlock = |password: &'static str| {
        let (visitor, csrf, url) = (&visitor, csrf.clone(), app.url(&format!("{page}/unlock")));
        async move {
            visitor
                .post(url)
                .form(&[("password", password), ("csrf_token", csrf.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = unlock("not the one").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That password is not right.")
    );
    let right = unlock(password).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);

    visitor
}

async fn the_public_page_works_without_javascript(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let owner = app.signed_up_user("host@example.com").await;
    let ids = uploaded(&app, &owner, &["private-name-1.png", "private-name-2.png"]).await;
    let body = json!({"image_ids": ids, "title": "Our trip", "password": "long enough 1",
        "allow_download": false, "watermark": true});
    let link = shared(&app, &owner, body).await;
    let page = format!("/s/{}", link.token);
    let visitor = unlocked_visitor(&app, &page, "long enough 1").await;
    let res = visitor.get(app.url(&page)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<meta name=\"robots\" content=\"noindex, nofollow\">"));
    assert!(
        html.contains("rel=\"icon\""),
        "the app's icon is the favicon"
    );
    for private in ["host@example.com", "private-name", &ids[0], &ids[1]] {
        assert!(!html.contains(private), "the page shows {private}");
    }
    let thumbnails = image_sources(&html);
    assert_eq!(thumbnails.len(), 2, "{html}");
    for src in &thumbnails {
        let res = visitor.get(app.url(src)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{src}");
    }
    // Back to the gallery: the same opening, not another view.
    assert_eq!(
        visitor.get(app.url(&page)).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(owners_links(&app, &owner).await[0]["views"], 1);

    let res = visitor
        .get(app.url(&format!("{page}/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("href=\"{page}/2\" rel=\"next\"")),
        "{html}"
    );
    assert!(html.contains("id=\"view-only\""), "view only says so");
    assert!(
        !html.contains("/download"),
        "no download link on a view-only link"
    );
    let view = image_sources(&html);
    let res = visitor.get(app.url(&view[0])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");

    // A stranger without the opening's cookie is sent to the gallery (which counts).
    let stranger = support::browser();
    let res = stranger
        .get(app.url(&format!("{page}/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let favicon = app
        .client
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(favicon.status(), StatusCode::OK);
    assert_eq!(favicon.headers()["content-type"], "image/png");

    revoke(&app, &owner, &link.id).await;
    let gone = visitor.get(app.url(&page)).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

/// The owner's browser posts the settings form with `fields` (the CSRF field added
/// when `csrf` is given).
async fn post_settings(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields = fields.to_vec();
    if let Some(csrf) = csrf {
        fields.push(("csrf_token", csrf));
    }
    browser
        .post(app.url("/shares/new"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// The gallery ticks images; the settings form refuses bad fields with the reason,
/// keeping what was typed, and stores nothing until it is right; another user's image
/// is the same 404 as none at all.
async fn the_settings_form_refuses_with_reasons(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let browser = app.signed_in_browser("picker@example.com").await;
    let owner = app.bearer_token("picker@example.com").await;
    let ids = uploaded(&app, &owner, &["one.png", "two.png"]).await;
    let stranger = app.signed_up_user("stranger@example.com").await;
    let theirs = uploaded(&app, &stranger, &["theirs.png"]).await;

    let gallery = app.page(&browser, "/").await;
    for id in &ids {
        assert!(
            gallery.contains(&format!("name=\"image\" value=\"{id}\"")),
            "{gallery}"
        );
    }
    let form = app
        .page(
            &browser,
            &format!("/shares/new?image={}&image={}", ids[0], ids[1]),
        )
        .await;
    assert!(form.contains("Share 2 images"), "{form}");
    assert_eq!(form.matches("name=\"image\"").count(), 2);
    let csrf = support::form_field(&form, "csrf_token");
    let (one, two) = (ids[0].as_str(), ids[1].as_str());

    let forged = post_settings(&app, &browser, None, &[("image", one), ("watermark", "on")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    for (fields, reason) in [
        (
            vec![("image", one), ("title", "Kept"), ("max_views", "ten")],
            "whole number",
        ),
        (
            vec![("image", one), ("title", "Kept"), ("password", "short")],
            "8 to 128",
        ),
        (
            vec![
                ("image", one),
                ("title", "Kept"),
                ("expires_in_seconds", "9999999999"),
            ],
            "90 days",
        ),
        (
            vec![("image", one), ("title", "Kept"), ("image", one)],
            "once",
        ),
    ] {
        let res = post_settings(&app, &browser, Some(&csrf), &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(reason), "{fields:?}: {html}");
        assert!(html.contains("value=\"Kept\""), "the title is kept: {html}");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut bodies = Vec::new();
    for id in [theirs[0].as_str(), unknown.as_str()] {
        let res = post_settings(
            &app,
            &browser,
            Some(&csrf),
            &[("image", two), ("image", id)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        bodies.push(res.text().await.unwrap());
        let res = browser
            .get(app.url(&format!("/shares/new?image={id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(bodies[0], bodies[1], "another user's image looks like none");
    assert!(
        owners_links(&app, &owner).await.is_empty(),
        "nothing was stored"
    );
    app.finish().await;
}

/// Nothing ticked, or more than a link can hold: the reason, not a form; signed out:
/// sign in first.
async fn the_settings_form_needs_a_choice(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = app.signed_in_browser("chooser@example.com").await;
    let none = browser.get(app.url("/shares/new")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    assert!(
        none.text()
            .await
            .unwrap()
            .contains("Choose images to share")
    );
    // 501 ids make a URL past the 16 KiB header limit, so only a posted form carries them.
    let many: Vec<String> = (0..=500)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let fields: Vec<(&str, &str)> = many.iter().map(|id| ("image", id.as_str())).collect();
    let csrf = support::form_field(&app.page(&browser, "/").await, "csrf_token");
    let res = post_settings(&app, &browser, Some(&csrf), &fields).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let signed_out = support::browser()
        .get(app.url("/shares"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_out.headers()["location"], "/login");
    app.finish().await;
}

/// Revoking from `/shares`: refused without the CSRF field and for another user; asked
/// once without JavaScript; done with `confirmed=yes`, and said so.
async fn revoke_in_the_browser(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    share_id: &str,
    owner: &str,
) {
    let revoke = app.url(&format!("/shares/{share_id}/revoke"));
    let forged = browser
        .post(&revoke)
        .form(&[("confirmed", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let ask = browser
        .post(&revoke)
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(ask.status(), StatusCode::OK);
    assert!(ask.text().await.unwrap().contains("Revoke “Trip”?"));
    assert_eq!(
        owners_links(app, owner).await[0]["revoked"],
        false,
        "asked, not done"
    );
    let stranger = app.signed_in_browser("nosy@example.com").await;
    let stranger_csrf = support::form_field(&app.page(&stranger, "/").await, "csrf_token");
    let theirs = stranger
        .post(&revoke)
        .form(&[("csrf_token", stranger_csrf.as_str()), ("confirmed", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    // The second press finds the work done: said the same way, not an error.
    for press in ["first", "second"] {
        let done = browser
            .post(&revoke)
            .form(&[("csrf_token", csrf), ("confirmed", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{press} press");
        assert_eq!(done.headers()["location"], "/shares?revoked=1");
    }
    let list = app.page(browser, "/shares?revoked=1").await;
    assert!(
        list.contains("no longer opens") && list.contains("Revoked"),
        "{list}"
    );
    assert!(
        !list.contains("/revoke\""),
        "a revoked link has no revoke button: {list}"
    );
}

/// The link is shown once, with its settings; the list shows views and status but never
/// the link; revoking asks once (without JavaScript) and kills the link.
async fn the_owners_pages_make_list_and_revoke_links(engine: Engine) {
    let app = TestApp::spawn_stack(engine).await;
    let browser = app.signed_in_browser("keeper@example.com").await;
    let owner = app.bearer_token("keeper@example.com").await;
    let ids = uploaded(&app, &owner, &["one.png", "two.png"]).await;
    let form = app
        .page(&browser, &format!("/shares/new?image={}", ids[0]))
        .await;
    let csrf = support::form_field(&form, "csrf_token");

    let fields = [
        ("image", ids[0].as_str()),
        ("image", ids[1].as_str()),
        ("title", "Trip"),
        ("expires_in_seconds", "3600"),
        ("password", "long enough 1"),
        ("max_views", "5"),
        ("watermark", "on"),
    ];
    let res = post_settings(&app, &browser, Some(&csrf), &fields).await;
    assert_eq!(res.status(), StatusCode::OK);
    let created = res.text().await.unwrap();
    let start = created
        .find("http://app.test/s/")
        .expect("the link is shown");
    let link: String = created[start..].chars().take_while(|c| *c != '"').collect();
    let token = link.rsplit('/').next().unwrap().to_owned();
    assert!(created.contains("only time it is shown"), "{created}");

    let links = owners_links(&app, &owner).await;
    assert_eq!(links.len(), 1);
    let made = &links[0];
    assert_eq!(made["title"], "Trip");
    assert_eq!(made["image_count"], 2);
    assert_eq!(made["max_views"], 5);
    assert_eq!(made["has_password"], true);
    assert_eq!(made["watermark"], true);
    assert_eq!(made["allow_download"], false);
    let seconds = |field: &str| {
        time::OffsetDateTime::parse(
            made[field].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!(
        (seconds("expires_at") - seconds("created_at")).whole_seconds(),
        3600
    );
    assert_eq!(
        error_code(open(&app, &token, None).await).await,
        "password_required"
    );

    let list = app.page(&browser, "/shares").await;
    assert!(
        list.contains("Trip") && list.contains("0 of 5") && list.contains("Active"),
        "{list}"
    );
    assert!(!list.contains(&token), "the list never shows the link");
    assert!(list.contains("A share link was made."), "{list}");
    let share_id = made["id"].as_str().unwrap().to_owned();
    revoke_in_the_browser(&app, &browser, &csrf, &share_id, &owner).await;
    assert_eq!(
        open(&app, &token, None).await.status(),
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

both_engines!(
    the_settings_form_refuses_with_reasons,
    the_settings_form_needs_a_choice,
    the_owners_pages_make_list_and_revoke_links,
    the_public_page_works_without_javascript,
    renderings_are_scaled_and_watermarked,
    links_are_made_listed_opened_and_revoked,
    bad_settings_and_others_images_store_nothing,
    passwords_view_limits_and_expiry,
    view_only_never_serves_the_stored_bytes,
    dead_links_look_alike_and_tokens_stay_hashed,
);
