//! A small W3C WebDriver client for `tauri-driver` (which hands the session to
//! WebKitWebDriver and launches the app): find, click, type, read, screenshot.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One WebDriver session, i.e. one run of the app.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    /// Launches `application` through the driver at `driver` (e.g. `http://127.0.0.1:4444`).
    pub async fn start(driver: &str, application: &std::path::Path) -> Self {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application},
        }}});
        let started = Instant::now();
        let res: Value = loop {
            match http
                .post(format!("{driver}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(res) => break res.json().await.unwrap(),
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("tauri-driver did not answer: {e}"),
            }
        };
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Self {
            http,
            base: format!("{driver}/session/{id}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    /// Elements matching a CSS selector (possibly none).
    pub async fn all(&self, css: &str) -> Vec<Element> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|s| Element(s.into()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Polls `probe` until it finds something (at most a minute).
    async fn until<T>(&self, what: &str, mut probe: impl AsyncFnMut(&Self) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = probe(self).await {
                return found;
            }
            assert!(
                started.elapsed() < Duration::from_mins(1),
                "waited a minute for {what}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until `count` elements match `css`; returns them.
    pub async fn wait_count(&self, css: &str, count: usize) -> Vec<Element> {
        self.until(&format!("{count} × {css}"), async |s| {
            Some(s.all(css).await).filter(|found| found.len() == count)
        })
        .await
    }

    /// Waits for one visible element matching `css`.
    pub async fn visible(&self, css: &str) -> Element {
        self.until(&format!("{css} to be visible"), async |s| {
            for e in s.all(css).await {
                if s.displayed(&e).await {
                    return Some(e);
                }
            }
            None
        })
        .await
    }

    /// Whether an element is shown.
    pub async fn displayed(&self, e: &Element) -> bool {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/displayed", e.0),
            None,
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Clicks.
    pub async fn click(&self, css: &str) {
        let e = self.visible(css).await;
        self.click_on(&e).await;
    }

    /// Clicks an element found before (one of many that match a selector).
    pub async fn click_on(&self, e: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
        )
        .await;
    }

    /// Replaces an input's value by typing.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.visible(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", e.0),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// The visible text of an element.
    pub async fn text(&self, e: &Element) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/text", e.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the element at `css` shows text containing `needle`; returns it all.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        self.until(&format!("{css} to say {needle:?}"), async |s| {
            for e in s.all(css).await {
                let text = s.text(&e).await;
                if text.contains(needle) {
                    return Some(text);
                }
            }
            None
        })
        .await
    }

    /// Waits until `count` images matching `css` have decoded (a non-zero natural width).
    pub async fn wait_images_loaded(&self, css: &str, count: usize) {
        self.until(&format!("{count} × {css} decoded"), async |s| {
            let mut loaded = 0;
            for img in s.all(css).await {
                if s.property(&img, "naturalWidth").await.as_u64().unwrap_or(0) > 0 {
                    loaded += 1;
                }
            }
            (loaded >= count).then_some(())
        })
        .await;
    }

    /// A DOM property of an element (e.g. an image's `naturalWidth`).
    pub async fn property(&self, e: &Element, name: &str) -> Value {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/property/{name}", e.0),
            None,
        )
        .await
    }

    /// An attribute of an element.
    pub async fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/attribute/{name}", e.0),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Saves a PNG of the window to `dir/name` when `dir` is set.
    pub async fn screenshot(&self, dir: Option<&std::path::Path>, name: &str) {
        let Some(dir) = dir else { return };
        // WebKitGTK hands out the last composited frame, which can lag the DOM by a
        // frame or two under Xvfb; let it paint first.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("a screenshot"))
            .unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.call(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// Closes the app.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
