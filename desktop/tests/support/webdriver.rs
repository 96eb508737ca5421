//! A small W3C WebDriver client for `tauri-driver` (which hands the session to
//! WebKitWebDriver and launches the app): find, click, type, read, screenshot.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's Tab, Enter and Escape keys, for [`Session::keys`].
pub const TAB: char = '\u{E004}';
pub const ENTER: char = '\u{E007}';
pub const ESCAPE: char = '\u{E00C}';

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

    /// Presses `text`'s keys one after another on whatever has the focus, as a person
    /// at the keyboard would ([`TAB`], [`ENTER`] and [`ESCAPE`] included).
    pub async fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({"type": "keyDown", "value": c}),
                    json!({"type": "keyUp", "value": c}),
                ]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call(reqwest::Method::POST, "/actions", Some(body))
            .await;
    }

    /// The id of the focused element ("" when it has none).
    pub async fn focused(&self) -> String {
        let id = self
            .execute("return document.activeElement ? document.activeElement.id : ''")
            .await;
        id.as_str().unwrap_or_default().to_owned()
    }

    /// Presses Tab until `css` matches the focused element (at most 40 times): proves it
    /// is reachable from the keyboard, in the tab order.
    pub async fn tab_to(&self, css: &str) {
        let test = format!(
            "return document.activeElement !== null && document.activeElement.matches({})",
            json!(css)
        );
        for _ in 0..40 {
            if self.execute(&test).await == Value::Bool(true) {
                return;
            }
            self.keys(&TAB.to_string()).await;
        }
        panic!("{css} is not reached with Tab");
    }

    /// Serious and critical axe-core violations of the view as it is now, `where`
    /// prefixed. axe-core is the browser journey's (`e2e/node_modules`, which
    /// `scripts/test` installs), run inside the app's own web view.
    pub async fn accessibility_violations(&self, place: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../e2e/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/test installs it)", path.display()));
        let script = format!(
            "{axe}\n;const done = arguments[arguments.length - 1];\n\
             axe.run(document, {{ resultTypes: ['violations'] }}).then(\n\
               (r) => done(r.violations\n\
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')\n\
                 .map((v) => v.id + ' (' + v.impact + '): ' +\n\
                   v.nodes.map((n) => n.target.join(' ')).join(', '))),\n\
               (e) => done(['axe-core failed: ' + e]));"
        );
        let body = json!({"script": script, "args": []});
        let found = self
            .call(reqwest::Method::POST, "/execute/async", Some(body))
            .await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("axe-core answered {found}"))
            .iter()
            .map(|v| format!("{place}: {}", v.as_str().unwrap_or_default()))
            .collect()
    }

    /// Fails with every serious or critical axe-core violation of the view as it is now.
    pub async fn assert_accessible(&self, place: &str) {
        let found = self.accessibility_violations(place).await;
        assert!(found.is_empty(), "accessibility:\n{}", found.join("\n"));
    }

    /// Signs in on the sign-in view: server address, email, the tests' password, then
    /// waits for the main view.
    pub async fn sign_in(&self, server: &str, email: &str) {
        self.fill("#server-url", server).await;
        self.fill("#email", email).await;
        self.fill("#password", super::server::PASSWORD).await;
        self.click("#sign-in").await;
        self.visible("#view-main").await;
    }

    /// Closes the app.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
