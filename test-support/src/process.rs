//! The real server binary as a child process, for what only a separate process shows: a
//! SIGKILL, a restart, a start-up refusal, an operator command beside a live server.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{PASSWORD, S3Server, TestDb};

/// How to start the binary: its path, its folder and its whole environment.
pub struct Process {
    bin: PathBuf,
    dir: PathBuf,
    vars: Vec<(String, String)>,
    pub addr: SocketAddr,
}

impl Process {
    /// `bin` (the test's `env!("CARGO_BIN_EXE_imagevault-server")`) on a free loopback
    /// port, with `dir` as `DATA_DIR`, `db`, and blobs in `s3` when given.
    pub fn new(bin: &str, dir: &Path, db: &TestDb, s3: Option<&S3Server>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut process = Self {
            bin: PathBuf::from(bin),
            dir: dir.to_path_buf(),
            vars: Vec::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        process
            .set("DEBUG", "True")
            .set("DATA_DIR", &dir.display().to_string())
            .set("DATABASE_URL", &db.url)
            .set("BIND_ADDR", &format!("127.0.0.1:{port}"))
            .set("SECRET_KEY", "process-test-secret-key-0123456789abcdef");
        for (name, value) in s3.map(S3Server::vars).unwrap_or_default() {
            process.set(name, &value);
        }
        process
    }

    /// Sets (or replaces) a variable.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a variable.
    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.vars.retain(|(n, _)| n != name);
        self
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The binary with exactly these variables (and `PATH`), its output discarded.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts `serve` and waits until it listens.
    pub fn serve(&self) -> Child {
        let mut child = self.command().arg("serve").spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.addr).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the server exited at start-up: {status}");
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(25));
        }
        child
    }

    /// `create-user --email <email>` with the test password on standard input.
    pub fn create_user(&self, email: &str) {
        let mut create = self
            .command()
            .args(["create-user", "--email", email])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            create.stdin.as_mut().unwrap(),
            format!("{PASSWORD}\n").as_bytes(),
        )
        .unwrap();
        assert!(create.wait().unwrap().success(), "create-user failed");
    }

    /// Runs a command to completion: (success, standard output, standard error).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs an operator command to completion: (success, what it printed).
    pub fn job(&self, args: &[&str]) -> (bool, String) {
        let (ok, out, _) = self.run(args);
        (ok, out)
    }

    /// Signs `email` in with the test password through the API: the bearer token.
    pub async fn sign_in(&self, client: &reqwest::Client, email: &str) -> String {
        let login: Value = client
            .post(format!("{}/api/v1/auth/login", self.base_url()))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["token"].as_str().unwrap().to_owned()
    }

    /// Uploads `bytes` as `name`, which must be stored (201): the image's id.
    pub async fn upload(
        &self,
        client: &reqwest::Client,
        token: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> String {
        let url = format!("{}/api/v1/images", self.base_url());
        let res = crate::images::post_image(client, &url, token, name, bytes).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The image's bytes, which must be there (200).
    pub async fn content(&self, client: &reqwest::Client, token: &str, id: &str) -> Vec<u8> {
        let res = client
            .get(format!("{}/api/v1/images/{id}/content", self.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "image {id} cannot be read");
        res.bytes().await.unwrap().to_vec()
    }
}
