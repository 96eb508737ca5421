//! Test images made on the spot with the `image` crate, and upload helpers.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use reqwest::Response;
use reqwest::multipart::{Form, Part};

use super::TestApp;

/// A smooth gradient with some noise, so encoders cannot shrink it to nothing and every
/// window of its bytes is distinctive.
pub fn pixels(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let n = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729) ^ seed.wrapping_mul(31)) % 23;
        image::Rgb([
            u8::try_from((x * 255 / width.max(1) + n) % 256).unwrap(),
            u8::try_from((y * 255 / height.max(1) + n) % 256).unwrap(),
            u8::try_from(seed.wrapping_mul(40).wrapping_add(n) % 256).unwrap(),
        ])
    })
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub fn jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    encode(&pixels(width, height, seed), ImageFormat::Jpeg)
}

pub fn png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    encode(&pixels(width, height, seed), ImageFormat::Png)
}

pub fn gif(width: u32, height: u32, seed: u32) -> Vec<u8> {
    encode(&pixels(width, height, seed), ImageFormat::Gif)
}

/// A JPEG carrying a comment and an XMP packet that must not survive the upload.
pub fn jpeg_with_metadata(secret: &str) -> Vec<u8> {
    let plain = jpeg(64, 48, 9);
    let mut out = plain[..2].to_vec(); // SOI
    let mut segment = |marker: u8, payload: &[u8]| {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
    };
    segment(0xFE, format!("comment {secret}").as_bytes());
    let xmp = format!("http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>{secret}</x:xmpmeta>");
    segment(0xE1, xmp.as_bytes());
    out.extend_from_slice(&plain[2..]);
    out
}

/// Posts `bytes` named `filename` as the `file` field of an upload to `url`, with the
/// bearer `token`: the one upload request of the tests and the benches.
pub async fn post_image(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> Response {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(filename.to_owned()));
    client
        .post(url)
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

impl TestApp {
    /// Posts one file as the `file` field, with the bearer `token`.
    pub async fn upload(&self, token: &str, filename: &str, bytes: Vec<u8>) -> Response {
        post_image(
            &self.client,
            &self.url("/api/v1/images"),
            token,
            filename,
            bytes,
        )
        .await
    }

    /// A GET with the bearer `token`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The first page of `token`'s images (up to 100), as JSON.
    pub async fn listed(&self, token: &str) -> serde_json::Value {
        let res = self.get_bearer("/api/v1/images?limit=100", token).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.json().await.unwrap()
    }

    /// A DELETE with the bearer `token`.
    pub async fn delete_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Inserts `count` image rows of `owner` (a user id) as versions before sealed names
/// wrote them: the name (`photo-<i>.jpg`) in clear, nothing sealed, no blobs (a listing
/// reads rows only), uploaded in 2025 (older than anything uploaded now), `photo-0` the
/// oldest. One transaction: thousands of synchronous commits would only measure the disk.
/// Like every writer of image rows (the server's own inserts and deletes do it with the
/// quota), it raises the owner's listing version, or a server that holds a page of the
/// owner's listing would go on sending it.
pub async fn insert_rows_of_an_earlier_version(
    db: &imagevault_server::db::Db,
    owner: &str,
    count: i64,
) {
    let mut tx = db.pool().begin().await.unwrap();
    for i in 0..count {
        sqlx::query(
            "INSERT INTO images (id, owner_id, filename, content_type, size, width, height, \
             thumbnail_type, created_us) VALUES ($1, $2, $3, 'image/jpeg', 1000000, 2000, 1500, \
             'image/jpeg', $4)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(owner)
        .bind(format!("photo-{i}.jpg"))
        .bind(1_764_000_000_000_000 + i)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE users SET listing_version = listing_version + 1 WHERE id = $1")
        .bind(owner)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
