//! A `SoftHSM2` token of its own (Debian package `softhsm2`) in a temp folder, for the
//! master key in a PKCS#11 token: the binary finds it through `SOFTHSM2_CONF`, which
//! [`SoftHsm::vars`] sets with the rest of the `PKCS11_*` configuration.

use std::path::PathBuf;
use std::process::Command;

/// The user PIN of every test token.
pub const PIN: &str = "iv-test-pin-58213";

/// Debian's `SoftHSM2` module, unless `IMAGEVAULT_TEST_PKCS11_MODULE` names another.
pub fn module() -> PathBuf {
    std::env::var_os("IMAGEVAULT_TEST_PKCS11_MODULE")
        .map_or_else(|| "/usr/lib/softhsm/libsofthsm2.so".into(), PathBuf::from)
}

/// A token folder with one initialised token; removed on drop.
pub struct SoftHsm {
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub pin_file: PathBuf,
    pub label: String,
}

impl SoftHsm {
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("iv-hsm-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("tokens")).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .unwrap();
        let made = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", PIN, "--so-pin", "iv-test-so-pin"])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util runs (Debian package softhsm2; scripts/test installs it)");
        assert!(made.status.success(), "{made:?}");
        let pin_file = dir.join("pin");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        Self {
            dir,
            conf,
            pin_file,
            label: label.to_owned(),
        }
    }

    /// The server's configuration for this token (and the module's own variable).
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MASTER_KEY_PROVIDER", "pkcs11".to_owned()),
            ("PKCS11_MODULE", module().display().to_string()),
            ("PKCS11_TOKEN_LABEL", self.label.clone()),
            ("PKCS11_PIN_FILE", self.pin_file.display().to_string()),
            ("SOFTHSM2_CONF", self.conf.display().to_string()),
        ]
    }
}

impl Drop for SoftHsm {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
