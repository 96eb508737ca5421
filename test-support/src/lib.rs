//! What the server's and the desktop's integration tests share. `TestApp`: the real
//! server on a random port with a fresh database (SQLite file or a new PostgreSQL
//! database) and a real SMTP sink, plus one method per endpoint; a real S3 server
//! ([`s3`]); an SMTP sink ([`smtp`]); test images ([`images`]); the binary as a child
//! process ([`process`]); an OpenID Provider ([`oidc`]).
//!
//! A crate of its own, so both test suites depend on one copy instead of including
//! each other's files by path. Test code: helpers panic with a message instead of
//! returning errors.
#![allow(missing_docs, clippy::missing_panics_doc)]

pub mod images;
pub mod metrics;
pub mod oidc;
pub mod process;
pub mod s3;
pub mod smtp;
pub mod softhsm;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use imagevault_server::app::Application;
use imagevault_server::config::Config;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Executor;

pub use s3::S3Server;
pub use smtp::SmtpSink;

/// Which database engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL server for tests is (the machine's default otherwise).
fn pg_admin_url() -> String {
    std::env::var("IMAGEVAULT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database for one test: a temp SQLite file, or a new PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn create(engine: Engine, dir: &std::path::Path) -> Self {
        match engine {
            Engine::Sqlite => Self {
                url: format!("sqlite://{}/test.db", dir.display()),
                pg_name: None,
            },
            Engine::Postgres => {
                let name = format!("iv_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_admin_url())
                    .await
                    .expect("PostgreSQL for tests is reachable (IMAGEVAULT_TEST_PG_URL)");
                admin
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .unwrap();
                let base = pg_admin_url();
                let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
                Self {
                    url,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn drop_database(&self) {
        if let Some(name) = &self.pg_name {
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_admin_url())
                .await
                .unwrap();
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
    }
}

/// A running server and its surroundings.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub smtp: SmtpSink,
    pub dir: PathBuf,
    pub db: TestDb,
    /// The S3 server, when blobs go to S3.
    pub s3: Option<S3Server>,
    /// The configuration the server runs with.
    pub config: Config,
    /// The running server's state (for waiting on its background work).
    pub state: imagevault_server::state::AppState,
    handle: salvo::server::ServerHandle,
}

pub const PASSWORD: &str = "Correct-Horse-7-Battery-Staple";

impl TestApp {
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, &[]).await
    }

    /// Starts with extra configuration variables.
    pub async fn spawn_with(engine: Engine, extra: &[(&str, &str)]) -> Self {
        Self::spawn_with_sink(engine, SmtpSink::start().await, extra).await
    }

    /// Starts against a given SMTP sink (e.g. one offering STARTTLS).
    pub async fn spawn_with_sink(engine: Engine, smtp: SmtpSink, extra: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("iv-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = TestDb::create(engine, &dir).await;
        let app = Self::start_on(&db.url, &dir, &smtp, extra).await;
        Self::into_test_app(app, smtp, dir, db)
    }

    /// The production shape for PostgreSQL (blobs in S3), the embedded default for
    /// SQLite (blobs in files): image tests run both whole stacks.
    pub async fn spawn_stack(engine: Engine) -> Self {
        Self::spawn_stack_with(engine, &[]).await
    }

    /// [`Self::spawn_stack`] with extra configuration variables.
    pub async fn spawn_stack_with(engine: Engine, extra: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("iv-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let s3 = (engine == Engine::Postgres).then(|| S3Server::start(&dir));
        let s3_vars = s3.as_ref().map(S3Server::vars).unwrap_or_default();
        let mut vars: Vec<(&str, &str)> = s3_vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend_from_slice(extra);
        let smtp = SmtpSink::start().await;
        let db = TestDb::create(engine, &dir).await;
        let app = Self::start_on(&db.url, &dir, &smtp, &vars).await;
        let mut test_app = Self::into_test_app(app, smtp, dir, db);
        test_app.s3 = s3;
        test_app
    }

    /// Where this app's encrypted blobs end up on disk (for tamper tests).
    /// The master keys as an operator's command opens them: its own, not the server's.
    pub async fn master_keys(
        &self,
        db: &imagevault_server::db::Db,
    ) -> imagevault_server::vault::MasterKeys {
        imagevault_server::keys::load_master_keys(&self.config, db)
            .await
            .unwrap()
    }

    pub fn blob_root(&self) -> PathBuf {
        self.s3
            .as_ref()
            .map_or_else(|| self.dir.join("blobs"), S3Server::blob_root)
    }

    /// Image blob files in the store (s3s-fs keeps its own metadata files beside them,
    /// which are left out).
    pub fn blob_files(&self) -> Vec<PathBuf> {
        files_under(&self.blob_root())
            .into_iter()
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                uuid::Uuid::try_parse(name.trim_end_matches(".thumb")).is_ok()
            })
            .collect()
    }

    /// The file of one blob of image `id`.
    pub fn blob_file(&self, id: &str, thumbnail: bool) -> PathBuf {
        let name = if thumbnail {
            format!("{id}.thumb")
        } else {
            id.to_owned()
        };
        self.blob_root().join(&id[..2]).join(name)
    }

    /// A second instance sharing this one's database (scale-out tests).
    pub async fn sibling(&self) -> (SocketAddr, salvo::server::ServerHandle) {
        self.sibling_with(&[]).await
    }

    /// [`Self::sibling`] with extra configuration variables.
    pub async fn sibling_with(
        &self,
        extra: &[(&str, &str)],
    ) -> (SocketAddr, salvo::server::ServerHandle) {
        let app = self.sibling_try(extra).await.expect("application builds");
        let addr = app.local_addr();
        let handle = app.handle();
        tokio::spawn(app.run());
        (addr, handle)
    }

    /// Builds (does not run) a second instance, or says why it would not start.
    pub async fn sibling_try(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<Application, imagevault_server::app::BuildError> {
        let s3_vars = self.s3.as_ref().map(S3Server::vars).unwrap_or_default();
        let mut vars: Vec<(&str, &str)> = s3_vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend_from_slice(extra);
        Self::try_start_on(&self.db.url, &self.dir, &self.smtp, &vars).await
    }

    async fn start_on(
        url: &str,
        dir: &std::path::Path,
        smtp: &SmtpSink,
        extra: &[(&str, &str)],
    ) -> Application {
        Self::try_start_on(url, dir, smtp, extra)
            .await
            .expect("application builds")
    }

    async fn try_start_on(
        url: &str,
        dir: &std::path::Path,
        smtp: &SmtpSink,
        extra: &[(&str, &str)],
    ) -> Result<Application, imagevault_server::app::BuildError> {
        let port = smtp.port.to_string();
        let data_dir = dir.display().to_string();
        let mut vars: HashMap<&str, String> = HashMap::from([
            ("DEBUG", "True".into()),
            ("BIND_ADDR", "127.0.0.1:0".into()),
            ("DATA_DIR", data_dir),
            ("DATABASE_URL", url.to_owned()),
            ("EMAIL_HOST", "127.0.0.1".into()),
            ("EMAIL_PORT", port),
            (
                "SECRET_KEY",
                "test-secret-key-0123456789abcdef-0123456789".into(),
            ),
            ("PUBLIC_URL", "http://app.test".into()),
            // Tests upload far faster and more at once than a person; the fair-use
            // tests set their own limits.
            ("UPLOAD_RATE_PER_MINUTE", "100000".into()),
            ("UPLOADS_PER_USER", "1000".into()),
        ]);
        for (k, v) in extra {
            vars.insert(k, (*v).to_owned());
        }
        let config =
            Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test config");
        Application::build(config).await
    }

    fn into_test_app(self_app: Application, smtp: SmtpSink, dir: PathBuf, db: TestDb) -> Self {
        let addr = self_app.local_addr();
        let handle = self_app.handle();
        let state = self_app.state().clone();
        let config = state.config.clone();
        tokio::spawn(self_app.run());
        Self {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            smtp,
            dir,
            db,
            s3: None,
            config,
            state,
            handle,
        }
    }

    /// Stops the server and removes its database and files.
    pub async fn finish(self) {
        self.handle.stop_forceful();
        self.db.drop_database().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/register",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn verify(&self, token: &str) -> Response {
        self.post_json("/api/v1/auth/verify", json!({"token": token}))
            .await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.client
            .get(self.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `method path` with the bearer `token` and, if given, a JSON body.
    pub async fn bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    pub async fn post_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /api/v1/me` with `password` as the confirmation.
    pub async fn delete_me(&self, token: &str, password: &str) -> Response {
        self.client
            .delete(self.url("/api/v1/me"))
            .bearer_auth(token)
            .json(&json!({"password": password}))
            .send()
            .await
            .unwrap()
    }

    /// The token of the `n`th emailed link to `to` whose text holds `link` (such as
    /// `/verify?token=`), once it has arrived.
    pub async fn emailed_token(&self, to: &str, link: &str, n: usize) -> String {
        self.smtp.wait_for(to, link, n).await.token()
    }

    /// Registers, verifies through the emailed link, logs in; returns the bearer token.
    pub async fn signed_up_user(&self, email: &str) -> String {
        assert_eq!(
            self.register(email, PASSWORD).await.status(),
            StatusCode::ACCEPTED
        );
        let mail = self.smtp.wait_for(email, "/verify?token=", 1).await;
        assert_eq!(self.verify(&mail.token()).await.status(), StatusCode::OK);
        self.bearer_token(email).await
    }

    /// Signs `email` in with [`PASSWORD`]; returns the bearer token.
    pub async fn bearer_token(&self, email: &str) -> String {
        let res = self.login(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// `GET url` with `token` as the bearer: the JSON answer, whatever its status (for
/// harnesses that drive a server they did not start as a [`TestApp`]).
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A client that keeps cookies and does not follow redirects, like a browser whose
/// every step a test wants to see.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the form field `name` in a page.
pub fn form_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The `error.code` of an error response.
pub async fn error_code(res: Response) -> String {
    let body: Value = res.json().await.expect("error bodies are JSON");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

/// Runs an async test body against both engines: `both_engines!(name);` expects
/// `async fn name(engine: Engine)` in scope.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Engine::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Engine::Postgres).await })*
        }
    };
}

impl TestApp {
    /// A signed-up user's browser, signed in through the login form.
    pub async fn signed_in_browser(&self, email: &str) -> reqwest::Client {
        self.signed_up_user(email).await;
        let browser = browser();
        let res = self.login_form(&browser, email).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in");
        browser
    }

    /// The HTML `browser` gets for `path` (any status).
    pub async fn page(&self, browser: &reqwest::Client, path: &str) -> String {
        let res = browser.get(self.url(path)).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// `browser` opens `/login` and posts the form with `email` and [`PASSWORD`].
    pub async fn login_form(&self, browser: &reqwest::Client, email: &str) -> Response {
        let page = browser.get(self.url("/login")).send().await.unwrap();
        let csrf = form_field(&page.text().await.unwrap(), "csrf_token");
        browser
            .post(self.url("/login"))
            .form(&[
                ("email", email),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// Creates a verified account with [`PASSWORD`] straight through the service, as
/// `create-user` does.
pub async fn create_verified_user(
    state: &imagevault_server::state::AppState,
    email: &str,
) -> imagevault_server::db::ids::UserId {
    create_account(state, email, false).await
}

/// [`create_verified_user`], as an administrator when `admin`.
pub async fn create_account(
    state: &imagevault_server::state::AppState,
    email: &str,
    admin: bool,
) -> imagevault_server::db::ids::UserId {
    let email = imagevault_common::email::EmailAddress::parse(email).unwrap();
    let password = imagevault_common::password::Password::parse(PASSWORD, &email).unwrap();
    imagevault_server::accounts::create_user(state, &email, &password, admin)
        .await
        .unwrap()
}

impl TestApp {
    /// An administrator made as `create-user --admin` does, signed in: its bearer token.
    pub async fn admin(&self, email: &str) -> String {
        create_account(&self.state, email, true).await;
        self.bearer_token(email).await
    }
}

/// The code an authenticator app with `secret` (base32, spaces allowed) shows at unix
/// time `t`.
pub fn totp_code(secret: &str, t: u64) -> String {
    let seed = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(seed.as_bytes().to_vec())
        .build()
        .unwrap()
        .generate(t)
        .to_string()
}
