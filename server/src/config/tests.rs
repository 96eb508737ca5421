//! The configuration's rules, each refusal naming its variable.

use super::*;
use secrecy::ExposeSecret as _;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

fn dev(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut vars = vec![("DEBUG", "True")];
    vars.extend_from_slice(extra);
    config(&vars)
}

#[test]
fn defaults_follow_the_design() {
    let c = dev(&[]).unwrap();
    assert_eq!(c.bind_addr.to_string(), DEFAULT_BIND_ADDR);
    assert_eq!(
        c.database_url.expose_secret(),
        "sqlite://./data/imagevault.db"
    );
    assert_eq!(c.allowed_hosts, ["localhost", "127.0.0.1"]);
    assert_eq!(c.public_url, "http://localhost:8080");
    assert!(c.email.is_none());
    assert!(matches!(&c.storage, StorageUrl::Files(p) if p.as_os_str() == "./data/blobs"));
    assert_eq!(c.master_key_file, PathBuf::from("./data/keys/master.key"));
    let s3 = dev(&[("STORAGE_URL", "s3://vault-blobs/prod/images/")]).unwrap();
    assert!(
        matches!(
            &s3.storage,
            StorageUrl::S3 { bucket, prefix, options }
                if bucket == "vault-blobs" && prefix == "prod/images" && options.is_empty()
        ),
        "{:?}",
        s3.storage
    );
    assert!(!c.https());
    assert_eq!(c.image_cache_bytes, 256 * 1024 * 1024);
    assert_eq!(
        dev(&[("IMAGE_CACHE_BYTES", "0")])
            .unwrap()
            .image_cache_bytes,
        0
    );
}

#[test]
fn plain_http_without_debug_is_refused_with_one_clear_line() {
    let err = config(&[]).unwrap_err();
    assert_eq!(err.variable, "DEBUG");
    assert!(!err.to_string().contains('\n'));
    assert!(err.to_string().contains("TLS_CERT_FILE"));
    assert!(
        config(&[
            ("BEHIND_TLS_PROXY", "True"),
            ("TRUSTED_PROXIES", "10.0.0.1"),
            ("PUBLIC_URL", "https://photos.example.com"),
        ])
        .is_ok()
    );
}

/// What production must have so that no emailed token crosses a network in clear.
fn production(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut vars = vec![
        ("BEHIND_TLS_PROXY", "True"),
        ("TRUSTED_PROXIES", "10.0.0.1"),
        ("PUBLIC_URL", "https://photos.example.com"),
    ];
    vars.extend_from_slice(extra);
    config(&vars)
}

#[test]
fn production_never_sends_tokens_in_clear() {
    // Emailed links must be https:// outside DEBUG (the default is not).
    for url in ["http://photos.example.com", "http://127.0.0.1:8080"] {
        let err = production(&[("PUBLIC_URL", url)]).unwrap_err();
        assert_eq!(err.variable, "PUBLIC_URL", "{url}");
        assert!(err.to_string().contains("https://"), "{err}");
    }
    let no_url = config(&[
        ("BEHIND_TLS_PROXY", "True"),
        ("TRUSTED_PROXIES", "10.0.0.1"),
    ]);
    assert_eq!(no_url.unwrap_err().variable, "PUBLIC_URL");
    // Plain SMTP only to a relay on this machine.
    for relay in ["smtp.example.com", "10.0.0.5", "::ffff:10.0.0.5"] {
        let err = production(&[("EMAIL_HOST", relay)]).unwrap_err();
        assert_eq!(err.variable, "EMAIL_USE_TLS", "{relay}");
    }
    for relay in ["localhost", "127.0.0.1", "::1", "[::1]"] {
        assert!(production(&[("EMAIL_HOST", relay)]).is_ok(), "{relay}");
    }
    let tls = production(&[
        ("EMAIL_HOST", "smtp.example.com"),
        ("EMAIL_USE_TLS", "True"),
    ]);
    assert!(tls.unwrap().email.unwrap().use_tls);
    // DEBUG (loopback development) keeps both conveniences.
    assert!(dev(&[("EMAIL_HOST", "mx"), ("PUBLIC_URL", "http://app.test")]).is_ok());
}

#[test]
fn debug_plain_http_only_on_loopback() {
    let err = dev(&[("BIND_ADDR", "0.0.0.0:8080")]).unwrap_err();
    assert_eq!(err.variable, "BIND_ADDR");
}

#[test]
fn each_bad_value_names_its_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("BIND_ADDR", "localhost", "BIND_ADDR"),
        ("DEBUG", "maybe", "DEBUG"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("SECRET_KEY", "short", "SECRET_KEY"),
        ("PUBLIC_URL", "ftp://x", "PUBLIC_URL"),
        ("EMAIL_FROM", "not an address", "EMAIL_FROM"),
        ("TRUSTED_PROXIES", "10.0.0.1,nope", "TRUSTED_PROXIES"),
        ("ALLOWED_HOSTS", " , ", "ALLOWED_HOSTS"),
        ("HTTP_REDIRECT_ADDR", "0.0.0.0:80", "HTTP_REDIRECT_ADDR"),
        ("STORAGE_URL", "ftp://x", "STORAGE_URL"),
        ("STORAGE_URL", "file://", "STORAGE_URL"),
        ("STORAGE_URL", "s3://UPPER/x", "STORAGE_URL"),
        ("STORAGE_URL", "s3://ab", "STORAGE_URL"),
        ("TLS_CERT_FILE", "/nonexistent/cert.pem", "TLS_KEY_FILE"),
        ("UPLOAD_RATE_PER_MINUTE", "0", "UPLOAD_RATE_PER_MINUTE"),
        ("UPLOAD_RATE_PER_MINUTE", "-5", "UPLOAD_RATE_PER_MINUTE"),
        ("UPLOADS_PER_USER", "many", "UPLOADS_PER_USER"),
        ("UPLOADS_PER_USER", "1001", "UPLOADS_PER_USER"),
        ("ALERT_LOCKOUTS_PER_HOUR", "1e9", "ALERT_LOCKOUTS_PER_HOUR"),
        ("IMAGE_CACHE_BYTES", "256MiB", "IMAGE_CACHE_BYTES"),
        ("IMAGE_CACHE_BYTES", "-1", "IMAGE_CACHE_BYTES"),
        ("IMAGE_CACHE_BYTES", "2000000000000", "IMAGE_CACHE_BYTES"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN"),
        (
            "METRICS_TOKEN",
            "ü-not-ascii-but-long-enough-to-pass-the-length",
            "METRICS_TOKEN",
        ),
    ];
    for (name, value, blamed) in cases {
        let err = dev(&[(name, value)]).unwrap_err();
        assert_eq!(err.variable, *blamed, "{name}={value}: {err}");
    }
    let err = dev(&[
        ("EMAIL_HOST", "mx"),
        ("EMAIL_TLS_CA_FILE", "/nonexistent/ca.pem"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "EMAIL_TLS_CA_FILE");
    let err = dev(&[("EMAIL_HOST", "smtp.example.com"), ("EMAIL_PORT", "0")]).unwrap_err();
    assert_eq!(err.variable, "EMAIL_PORT");
    let err = dev(&[("EMAIL_HOST", "smtp.example.com"), ("EMAIL_HOST_USER", "u")]).unwrap_err();
    assert_eq!(err.variable, "EMAIL_USE_TLS");
    let err = dev(&[
        ("EMAIL_HOST", "mx"),
        ("EMAIL_USE_TLS", "True"),
        ("EMAIL_HOST_USER", "u"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "EMAIL_HOST_USER");
    let err = dev(&[("DATABASE_URL", "postgres://db/vault")]).unwrap_err();
    assert_eq!(err.variable, "SECRET_KEY");
    let err = config(&[("BEHIND_TLS_PROXY", "True")]).unwrap_err();
    assert_eq!(err.variable, "TRUSTED_PROXIES");
}

#[test]
fn unreadable_tls_files_are_named() {
    let err = dev(&[
        ("TLS_CERT_FILE", "/nonexistent/c.pem"),
        ("TLS_KEY_FILE", "/nonexistent/k.pem"),
    ])
    .unwrap_err();
    assert_eq!(err.variable, "TLS_CERT_FILE");
    assert!(err.reason.contains("/nonexistent/c.pem"));
}

#[test]
fn smtp_port_defaults_depend_on_tls() {
    let plain = dev(&[("EMAIL_HOST", "mx")]).unwrap().email.unwrap();
    assert_eq!((plain.port, plain.use_tls), (25, false));
    let tls = dev(&[("EMAIL_HOST", "mx"), ("EMAIL_USE_TLS", "True")])
        .unwrap()
        .email
        .unwrap();
    assert_eq!((tls.port, tls.use_tls), (587, true));
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let c = dev(&[
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef-very-secret"),
        ("EMAIL_HOST", "mx"),
        ("EMAIL_USE_TLS", "True"),
        ("EMAIL_HOST_USER", "u"),
        ("EMAIL_HOST_PASSWORD", "smtp-password-secret"),
    ])
    .unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("very-secret") && !shown.contains("smtp-password-secret"));
    let pg = dev(&[
        (
            "DATABASE_URL",
            "postgres://app:db-pass-secret@db:5432/vault",
        ),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef-very-secret"),
    ])
    .unwrap();
    assert_eq!(
        format!("{:?}", pg.database_url),
        "postgres://app:***@db:5432/vault"
    );
}

#[test]
fn session_lifetimes_are_whole_days_and_idle_fits_inside_max() {
    let c = dev(&[]).unwrap();
    assert_eq!(
        (c.sessions.idle, c.sessions.max),
        (14 * 86_400, 90 * 86_400)
    );
    let c = dev(&[("SESSION_IDLE_DAYS", "1"), ("SESSION_MAX_DAYS", "7")]).unwrap();
    assert_eq!((c.sessions.idle, c.sessions.max), (86_400, 7 * 86_400));
    for (name, value) in [
        ("SESSION_IDLE_DAYS", "0"),
        ("SESSION_IDLE_DAYS", "-1"),
        ("SESSION_IDLE_DAYS", "1.5"),
        ("SESSION_MAX_DAYS", "forever"),
        ("SESSION_MAX_DAYS", "99999999999999999999"),
        ("SESSION_MAX_DAYS", "7"),
    ] {
        let err = dev(&[(name, value)]).unwrap_err();
        assert!(
            err.variable.starts_with("SESSION_"),
            "{name}={value}: {err}"
        );
    }
}

#[test]
fn a_token_needs_all_its_settings_and_never_shows_its_pin() {
    let dir = std::env::temp_dir().join(format!("iv-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("module.so");
    std::fs::write(&module, b"").unwrap();
    let (pin_file, empty_pin) = (dir.join("pin"), dir.join("empty"));
    std::fs::write(&pin_file, "1234-from-file\n").unwrap();
    std::fs::write(&empty_pin, "\n").unwrap();
    let module = module.to_str().unwrap();
    let token = |extra: &[(&'static str, &str)]| {
        let mut vars = vec![
            ("MASTER_KEY_PROVIDER", "pkcs11"),
            ("PKCS11_MODULE", module),
            ("PKCS11_TOKEN_LABEL", "vault"),
        ];
        vars.extend_from_slice(extra);
        dev(&vars)
    };

    let c = token(&[("PKCS11_PIN_FILE", pin_file.to_str().unwrap())]).unwrap();
    let settings = c.pkcs11.as_ref().unwrap();
    assert_eq!(settings.pin.expose_secret(), "1234-from-file");
    assert_eq!(settings.key_label, "imagevault-master-key");
    assert!(!format!("{c:?}").contains("1234-from-file"), "{c:?}");
    let c = token(&[("PKCS11_PIN", "5678"), ("PKCS11_KEY_LABEL", "mine")]).unwrap();
    assert_eq!(c.pkcs11.unwrap().key_label, "mine");
    assert!(
        dev(&[("MASTER_KEY_PROVIDER", "file")])
            .unwrap()
            .pkcs11
            .is_none()
    );

    let label = "x".repeat(65);
    for (extra, blamed) in [
        (vec![], "PKCS11_PIN"),
        (
            vec![
                ("PKCS11_PIN", "1"),
                ("PKCS11_PIN_FILE", pin_file.to_str().unwrap()),
            ],
            "PKCS11_PIN",
        ),
        (
            vec![("PKCS11_PIN_FILE", "/nonexistent/pin")],
            "PKCS11_PIN_FILE",
        ),
        (
            vec![("PKCS11_PIN_FILE", empty_pin.to_str().unwrap())],
            "PKCS11_PIN_FILE",
        ),
        (
            vec![("PKCS11_PIN", "1"), ("PKCS11_KEY_LABEL", label.as_str())],
            "PKCS11_KEY_LABEL",
        ),
        (
            vec![
                ("PKCS11_PIN", "1"),
                ("PKCS11_MODULE", "/nonexistent/p11.so"),
            ],
            "PKCS11_MODULE",
        ),
        (
            vec![("PKCS11_PIN", "1"), ("PKCS11_TOKEN_LABEL", "")],
            "PKCS11_TOKEN_LABEL",
        ),
    ] {
        let err = token(&extra).unwrap_err();
        assert_eq!(err.variable, blamed, "{extra:?}: {err}");
    }
    for vars in [
        vec![("MASTER_KEY_PROVIDER", "hsm")],
        vec![("PKCS11_PIN", "1")],
        vec![("MASTER_KEY_PROVIDER", "file"), ("PKCS11_MODULE", module)],
    ] {
        let err = dev(&vars).unwrap_err();
        assert_eq!(err.variable, "MASTER_KEY_PROVIDER", "{vars:?}: {err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `OIDC_ISSUER_URL`, a client and `extra`.
fn with_provider(
    issuer: &'static str,
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("OIDC_ISSUER_URL", issuer),
        ("OIDC_CLIENT_ID", "imagevault"),
        ("OIDC_CLIENT_SECRET", "s3cret-value"),
    ];
    vars.extend_from_slice(extra);
    vars
}

#[test]
fn single_sign_on_takes_a_client_at_a_provider_over_tls() {
    let dir = std::env::temp_dir().join(format!("iv-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("oidc-secret");
    std::fs::write(&secret_file, "from-a-file\n").unwrap();

    assert!(dev(&[]).unwrap().oidc.is_none());
    let issuer = "https://sso.example.com/application/o/imagevault/";
    let c = production(&with_provider(issuer, &[])).unwrap();
    let oidc = c.oidc.as_ref().unwrap();
    assert_eq!(oidc.issuer, issuer, "kept exactly, trailing slash and all");
    assert_eq!(oidc.button_text, "Sign in with single sign-on");
    assert!(oidc.auto_register, "accounts are made by default");
    assert!(!format!("{c:?}").contains("s3cret-value"), "{c:?}");
    let c = dev(&with_provider(
        "http://127.0.0.1:9000",
        &[("OIDC_AUTO_REGISTER", "False")],
    ))
    .unwrap();
    assert!(!c.oidc.unwrap().auto_register);
    let c = dev(&[
        ("OIDC_ISSUER_URL", "https://accounts.google.com"),
        ("OIDC_CLIENT_ID", "id"),
        ("OIDC_CLIENT_SECRET_FILE", secret_file.to_str().unwrap()),
        ("OIDC_BUTTON_TEXT", "Sign in with Google"),
    ])
    .unwrap();
    let oidc = c.oidc.unwrap();
    assert_eq!(oidc.client_secret.expose_secret(), "from-a-file");
    assert_eq!(oidc.button_text, "Sign in with Google");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn single_sign_on_settings_that_cannot_work_are_refused_by_name() {
    for (vars, blamed, debug) in [
        (
            with_provider("http://127.0.0.1:9000", &[]),
            "OIDC_ISSUER_URL",
            false,
        ),
        (
            with_provider("http://sso.example.com", &[]),
            "OIDC_ISSUER_URL",
            true,
        ),
        (
            with_provider("ftp://sso.example.com", &[]),
            "OIDC_ISSUER_URL",
            true,
        ),
        (with_provider("not a url", &[]), "OIDC_ISSUER_URL", true),
        (
            with_provider("https://sso.example.com/?x=1", &[]),
            "OIDC_ISSUER_URL",
            true,
        ),
        (
            with_provider("https://user:pw@sso.example.com", &[]),
            "OIDC_ISSUER_URL",
            true,
        ),
        (vec![("OIDC_CLIENT_ID", "orphan")], "OIDC_ISSUER_URL", true),
        (
            vec![
                ("OIDC_ISSUER_URL", "https://sso.example.com"),
                ("OIDC_CLIENT_SECRET", "s"),
            ],
            "OIDC_CLIENT_ID",
            true,
        ),
        (
            vec![
                ("OIDC_ISSUER_URL", "https://sso.example.com"),
                ("OIDC_CLIENT_ID", "id"),
            ],
            "OIDC_CLIENT_SECRET",
            true,
        ),
        (
            with_provider(
                "https://sso.example.com",
                &[("OIDC_CLIENT_SECRET_FILE", "/nonexistent/x")],
            ),
            "OIDC_CLIENT_SECRET",
            true,
        ),
        (
            with_provider(
                "https://sso.example.com",
                &[("OIDC_AUTO_REGISTER", "maybe")],
            ),
            "OIDC_AUTO_REGISTER",
            true,
        ),
        (
            with_provider(
                "https://sso.example.com",
                &[("OIDC_CLIENT_ID", "line\nbreak")],
            ),
            "OIDC_CLIENT_ID",
            true,
        ),
    ] {
        let err = if debug { dev(&vars) } else { production(&vars) }.unwrap_err();
        assert_eq!(err.variable, blamed, "{vars:?}: {err}");
        assert!(!err.to_string().contains('\n'));
    }
    let long_button = "b".repeat(61);
    let mut vars: Vec<(&str, &str)> = with_provider("https://sso.example.com", &[]);
    vars.push(("OIDC_BUTTON_TEXT", long_button.as_str()));
    assert_eq!(dev(&vars).unwrap_err().variable, "OIDC_BUTTON_TEXT");
}
