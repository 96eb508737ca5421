//! A real OpenID Provider for single sign-on tests: `oidc-provider` (npm) run by Node
//! from `e2e/oidc-provider.mjs` on a loopback port, with one client for the server and
//! the desktop app, and accounts the tests write and edit (see the script's header for
//! the protocol). `scripts/test` installs Node and the npm packages.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

/// The client registered at the provider.
pub const CLIENT_ID: &str = "imagevault";
pub const CLIENT_SECRET: &str = "imagevault-test-secret";
/// The provider's password of every test account.
pub const PROVIDER_PASSWORD: &str = "provider-password";

/// A running provider; killed on drop.
pub struct OidcProvider {
    child: Child,
    /// Kept open: the provider exits when its stdin ends, so no orphan outlives a test.
    _stdin: ChildStdin,
    /// `http://127.0.0.1:<port>`, the issuer.
    pub issuer: String,
    dir: PathBuf,
}

/// One person at the provider.
pub struct Person<'a> {
    /// The account id there: the ID token's `sub`.
    pub id: &'a str,
    /// Their email there.
    pub email: &'a str,
    /// Whether the provider says the email is verified.
    pub verified: bool,
    /// The ID token's `amr`, if any.
    pub amr: Option<&'a [&'a str]>,
}

impl<'a> Person<'a> {
    /// Someone whose email the provider has verified, without `amr`.
    pub fn verified(id: &'a str, email: &'a str) -> Self {
        Self {
            id,
            email,
            verified: true,
            amr: None,
        }
    }

    fn entry(&self) -> Value {
        let mut entry = json!({
            "password": PROVIDER_PASSWORD,
            "claims": {
                "email": self.email,
                "email_verified": self.verified,
                "name": self.id,
            },
        });
        if let Some(amr) = self.amr {
            entry["amr"] = json!(amr);
        }
        entry
    }
}

/// The folder of the repository's npm packages and scripts.
fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e")
}

impl OidcProvider {
    /// Starts the provider with `people`. The client accepts the server's
    /// `/auth/oidc/callback` and the desktop's `/callback` on any loopback port.
    pub fn start(people: &[Person<'_>]) -> Self {
        let dir = std::env::temp_dir().join(format!("iv-oidc-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let clients = json!([{
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "application_type": "native",
            "redirect_uris": [
                "http://127.0.0.1/auth/oidc/callback",
                "http://127.0.0.1/callback",
            ],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }]);
        std::fs::write(dir.join("clients.json"), clients.to_string()).unwrap();
        Self::write_people(&dir, people);
        let mut child = Command::new("node")
            .arg(e2e_dir().join("oidc-provider.mjs"))
            .env("PORT", "0")
            .env("STATE_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "node runs e2e/oidc-provider.mjs (scripts/test installs node and the npm packages)",
            );
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .trim()
            .to_owned();
        Self {
            child,
            _stdin: stdin,
            issuer,
            dir,
        }
    }

    fn write_people(dir: &Path, people: &[Person<'_>]) {
        let accounts: serde_json::Map<String, Value> = people
            .iter()
            .map(|p| (p.id.to_owned(), p.entry()))
            .collect();
        let tmp = dir.join("accounts.json.tmp");
        std::fs::write(&tmp, Value::Object(accounts).to_string()).unwrap();
        std::fs::rename(tmp, dir.join("accounts.json")).unwrap();
    }

    /// Replaces the provider's people (read again at the next sign-in).
    pub fn set_people(&self, people: &[Person<'_>]) {
        Self::write_people(&self.dir, people);
    }

    /// The next ID token the provider issues is bad in this way (see the script).
    pub fn tamper(&self, word: &str) {
        std::fs::write(self.dir.join("tamper"), word).unwrap();
    }

    /// A server on both stacks of `engine` with single sign-on through this provider.
    /// Its `PUBLIC_URL` is its real address, because the provider sends browsers back
    /// to `PUBLIC_URL/auth/oidc/callback`; so the port is chosen before it starts.
    pub async fn app(&self, engine: crate::Engine, extra: &[(&str, &str)]) -> crate::TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (bind, public) = (
            format!("127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}"),
        );
        let oidc = self.vars();
        let mut vars: Vec<(&str, &str)> = oidc.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend([
            ("BIND_ADDR", bind.as_str()),
            ("PUBLIC_URL", public.as_str()),
        ]);
        vars.extend_from_slice(extra);
        crate::TestApp::spawn_stack_with(engine, &vars).await
    }

    /// The server's `OIDC_*` variables for this provider.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_ISSUER_URL", self.issuer.clone()),
            ("OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }

    /// Follows `url` (a server's `/auth/oidc/start`, or the provider's authorization
    /// URL) through the provider's login and consent pages as `person` would in a
    /// browser (`browser` keeps the cookies), until a redirect leaves for `until`;
    /// returns that redirect's full URL (with `code` and `state`, or `error`).
    /// `consent` says which button the person presses.
    pub async fn authorize(
        &self,
        browser: &reqwest::Client,
        url: &str,
        person: &str,
        consent: Consent,
        until: &str,
    ) -> String {
        let mut next = url.to_owned();
        for _ in 0..20 {
            if next.starts_with(until) {
                return next;
            }
            let res = browser.get(&next).send().await.unwrap();
            let base = res.url().clone();
            if res.status().is_redirection() {
                let location = res.headers()["location"].to_str().unwrap();
                next = base.join(location).unwrap().to_string();
                continue;
            }
            let page = res.text().await.unwrap();
            let action = form_action(&page)
                .unwrap_or_else(|| panic!("a provider page without a form at {base}: {page}"));
            let target = base.join(&action).unwrap();
            let form: Vec<(&str, &str)> = if action.ends_with("/login") {
                vec![("login", person), ("password", PROVIDER_PASSWORD)]
            } else {
                vec![("decision", consent.decision())]
            };
            let res = browser.post(target).form(&form).send().await.unwrap();
            assert!(
                res.status().is_redirection(),
                "the provider refused {action}: {}",
                res.status()
            );
            let location = res.headers()["location"].to_str().unwrap();
            next = base.join(location).unwrap().to_string();
        }
        panic!("no redirect to {until} after 20 steps");
    }
}

/// The button pressed on the provider's consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// "Continue".
    Allow,
    /// "Deny".
    Deny,
}

impl Consent {
    fn decision(self) -> &'static str {
        match self {
            Self::Allow => "continue",
            Self::Deny => "deny",
        }
    }
}

/// The `action` of the first form of a page.
fn form_action(page: &str) -> Option<String> {
    let at = page.find("<form")?;
    let rest = &page[at..];
    let start = rest.find("action=\"")? + "action=\"".len();
    Some(rest[start..].split('"').next()?.replace("&amp;", "&"))
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
