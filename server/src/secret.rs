//! Secrets that cannot leak by accident are `secrecy::SecretString`: no `Display`, a
//! `Debug` that prints `[REDACTED]`, zeroised on drop, and one alarmingly named accessor
//! (`expose_secret`, from the `ExposeSecret` trait). Two secrets are compared only in
//! constant time (`crypto::same`).
//!
//! This module makes `SECRET_KEY`'s default: a random key in a private file.

use secrecy::SecretString;

/// Reads `path`, or creates it with a fresh random key (0600) when it does not exist:
/// `SECRET_KEY`'s default, generated into `DATA_DIR` on first run. The file is refused
/// unless it is 0600 and this user's (`imagevault_durable::read_private`).
pub fn load_or_create_key_file(path: &std::path::Path) -> std::io::Result<SecretString> {
    match read_key_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        read => return read,
    }
    let key = hex::encode({
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        bytes
    });
    match imagevault_durable::create_private(path, key.as_bytes()) {
        Ok(()) => Ok(SecretString::from(key)),
        // Another instance sharing `DATA_DIR` created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(e),
    }
}

fn read_key_file(path: &std::path::Path) -> std::io::Result<SecretString> {
    let bytes = imagevault_durable::read_private(path)?;
    match std::str::from_utf8(&bytes).map(str::trim) {
        Ok(key) if key.len() >= 32 => Ok(SecretString::from(key)),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} holds less than 32 characters", path.display()),
        )),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::from("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(format!("{s:?}").contains("[REDACTED]"));
        assert_eq!(s.expose_secret(), "hunter2");
    }

    /// The request bodies hold their passwords as `SecretString`: forms and JSON both
    /// fill it, and a missing form field is an empty secret as it was an empty string.
    #[test]
    fn secrets_are_read_from_forms_and_json() {
        #[derive(serde::Deserialize)]
        struct Form {
            #[serde(default)]
            password: SecretString,
            #[serde(default)]
            email: String,
        }
        let form: Form = salvo::serde::from_str_multi_map(vec![
            ("password", vec!["hunter2 & more"]),
            ("email", vec!["a@example.com"]),
        ])
        .unwrap();
        assert_eq!(form.password.expose_secret(), "hunter2 & more");
        assert_eq!(form.email, "a@example.com");
        let empty: Form =
            salvo::serde::from_str_multi_map(vec![("email", vec!["a@example.com"])]).unwrap();
        assert_eq!(empty.password.expose_secret(), "");
        let json: Form = serde_json::from_str(r#"{"password":"pw\u00e9"}"#).unwrap();
        assert_eq!(json.password.expose_secret(), "pw\u{e9}");
    }

    /// A `SecretString` field is documented as the string it is on the wire.
    #[test]
    fn secret_passwords_are_documented_as_strings() {
        let mut components = salvo_oapi::Components::new();
        let _ = <imagevault_common::api::Credentials as salvo_oapi::ToSchema>::to_schema(
            &mut components,
        );
        let doc = serde_json::to_value(&components).unwrap();
        let (_, credentials) = doc["schemas"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(name, _)| name.ends_with("Credentials"))
            .expect("the Credentials schema");
        assert_eq!(credentials["properties"]["password"]["type"], "string");
    }

    #[test]
    fn key_file_is_created_private_once_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("iv-secret-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secret.key");
        let first = load_or_create_key_file(&path).unwrap();
        let again = load_or_create_key_file(&path).unwrap();
        assert!(crate::crypto::same(
            first.expose_secret(),
            again.expose_secret()
        ));
        assert_eq!(first.expose_secret().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(load_or_create_key_file(&path).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, "0123456789abcdef0123456789abcdef").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            let err = load_or_create_key_file(&path).unwrap_err().to_string();
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(
                load_or_create_key_file(&path).unwrap().expose_secret(),
                "0123456789abcdef0123456789abcdef"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
