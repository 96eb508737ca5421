//! A real S3 protocol server for tests: `s3s-fs` (an S3 implementation over a local
//! folder), one process per test on its own port and folder, killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "imagevault-test";
pub const SECRET_KEY: &str = "imagevault-test-secret";
pub const BUCKET: &str = "vault-test";
pub const PREFIX: &str = "blobs";

/// Where the `s3s-fs` binary is: `IMAGEVAULT_S3S_FS`, else where `scripts/test`
/// installs it, else `PATH`.
fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("IMAGEVAULT_S3S_FS") {
        return path.into();
    }
    let cached = Path::new("/var/cache/imagevault/tools/bin/s3s-fs");
    if cached.exists() {
        cached.to_owned()
    } else {
        "s3s-fs".into()
    }
}

pub struct S3Server {
    pub addr: SocketAddr,
    pub root: PathBuf,
    child: Option<Child>,
}

impl S3Server {
    /// Starts a server with one empty bucket under `dir`.
    pub fn start(dir: &Path) -> Self {
        let root = dir.join("s3");
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            root,
            child: None,
        };
        server.resume();
        server
    }

    /// (Re)starts the process on the same port and folder.
    pub fn resume(&mut self) {
        let child = Command::new(binary())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.addr.port().to_string(),
            ])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start s3s-fs ({}): {e}; scripts/test installs it",
                    binary().display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process (the data stays for `resume`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's configuration variables.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_URL", format!("s3://{BUCKET}/{PREFIX}")),
            ("AWS_ENDPOINT_URL", format!("http://{}", self.addr)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Where `s3s-fs` keeps the folder of blobs.
    pub fn blob_root(&self) -> PathBuf {
        self.root.join(BUCKET).join(PREFIX)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
