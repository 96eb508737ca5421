//! The gallery's CSS, scripts and icon, compiled into the binary and served under versioned
//! URLs (`/static/app.css?v=<hash>`): a versioned URL never changes content, so browsers
//! may keep it for a year; a new build gets new URLs. Everything is a file — the CSP
//! allows no inline script or style.

use std::sync::LazyLock;

use salvo::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use salvo::prelude::*;
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// A script of `static/`.
const fn script(name: &'static str, body: &'static [u8]) -> Asset {
    Asset {
        name,
        content_type: "text/javascript; charset=utf-8",
        body,
    }
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
    },
    script("upload.js", include_bytes!("../../static/upload.js")),
    script("password.js", include_bytes!("../../static/password.js")),
    script("confirm.js", include_bytes!("../../static/confirm.js")),
    script("print.js", include_bytes!("../../static/print.js")),
    script("passkeys.js", include_bytes!("../../static/passkeys.js")),
    script("share.js", include_bytes!("../../static/share.js")),
    // The desktop app's icon, so a browser tab (and a shared link) looks like the product.
    Asset {
        name: "icon.png",
        content_type: "image/png",
        body: include_bytes!("../../../desktop/icons/icon.png"),
    },
];

/// Each asset's version: the first 12 hex digits of its SHA-256.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| hex::encode(Sha256::digest(a.body))[..12].to_owned())
        .collect()
});

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    ASSETS
        .iter()
        .position(|a| a.name == name)
        .map(|i| (&ASSETS[i], VERSIONS[i].as_str()))
}

/// The versioned URL of asset `name` (for templates).
pub fn url(name: &str) -> String {
    let (asset, version) = find(name).expect("templates name only existing assets");
    format!("/static/{}?v={version}", asset.name)
}

/// `GET /static/{name}`.
#[handler]
pub async fn serve(req: &mut Request, res: &mut Response) {
    let Some((asset, version)) = req.param::<String>("name").as_deref().and_then(find) else {
        res.status_code(StatusCode::NOT_FOUND);
        return;
    };
    let cache = if req.query::<String>("v").as_deref() == Some(version) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    res.write_body(asset.body).ok();
}

/// `GET /favicon.ico`, which browsers ask for on their own: the icon.
#[handler]
pub async fn favicon(res: &mut Response) {
    let (asset, _) = find("icon.png").expect("the icon is an asset");
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res.write_body(asset.body).ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_content_hash() {
        let css = url("app.css");
        assert!(css.starts_with("/static/app.css?v="));
        assert_eq!(css.len(), "/static/app.css?v=".len() + 12);
        assert!(find("../secret").is_none());
    }
}
