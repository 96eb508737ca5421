//! A self-hosted server with its own certificate authority: refused until its CA is
//! added in Settings, then trusted — TLS verification itself is never turned off.

mod support;

use std::collections::HashMap;

use imagevault_common::api::Credentials;
use imagevault_desktop::client::{Api, Login};
use imagevault_desktop::error::Error;
use imagevault_desktop::settings::Settings;
use imagevault_server::app::Application;
use imagevault_server::config::Config;

#[tokio::test]
async fn a_private_ca_is_refused_until_it_is_trusted_in_settings() {
    let dir = std::env::temp_dir().join(format!("iv-desk-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("ca.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    let vars: HashMap<&str, String> = HashMap::from([
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("DATA_DIR", dir.display().to_string()),
        ("TLS_CERT_FILE", dir.join("ca.pem").display().to_string()),
        ("TLS_KEY_FILE", dir.join("key.pem").display().to_string()),
        ("HTTP_REDIRECT_ADDR", "127.0.0.1:0".to_owned()),
        ("PUBLIC_URL", "https://vault.example".to_owned()),
    ]);
    let app = Application::build(Config::from_lookup(|k| vars.get(k).cloned()).unwrap())
        .await
        .unwrap();
    let email = "selfhosted@example.com";
    support::server::create_verified_user(app.state(), email).await;
    let port = app.local_addr().port();
    let handle = app.handle();
    tokio::spawn(app.run());
    let credentials = Credentials {
        email: email.into(),
        password: support::server::PASSWORD.into(),
        device_token: None,
    };

    let untrusted = Settings {
        server_url: format!("https://localhost:{port}/"),
        ..Settings::default()
    };
    let err = Api::new(&untrusted)
        .unwrap()
        .login(&credentials)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("add that CA's certificate in Settings"),
        "{err}"
    );

    let trusted = Settings {
        ca_file: Some(dir.join("ca.pem")),
        ..untrusted
    };
    let api = Api::new(&trusted).unwrap();
    let Login::Done(login) = api.login(&credentials).await.unwrap() else {
        panic!("no second step was set up");
    };
    let me = api
        .me(&imagevault_desktop::client::Token::new(login.token))
        .await
        .unwrap();
    assert_eq!(me.email, email);

    handle.stop_forceful();
    let _ = std::fs::remove_dir_all(dir);
}
