//! HTTPS with rustls, verified against a test CA the client trusts (TLS verification is
//! never turned off): HSTS and `__Host-`/`Secure` cookies appear only here.

use imagevault_test_support as support;

use std::collections::HashMap;

use imagevault_server::app::Application;
use imagevault_server::config::Config;
use reqwest::StatusCode;

#[tokio::test]
async fn serves_https_with_hsts_and_host_prefixed_secure_cookies() {
    let dir = std::env::temp_dir().join(format!("iv-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    let vars: HashMap<&str, String> = HashMap::from([
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("DATA_DIR", dir.display().to_string()),
        ("TLS_CERT_FILE", dir.join("cert.pem").display().to_string()),
        ("TLS_KEY_FILE", dir.join("key.pem").display().to_string()),
        ("HTTP_REDIRECT_ADDR", "127.0.0.1:0".to_owned()),
        ("PUBLIC_URL", "https://vault.example".to_owned()),
    ]);
    // DEBUG is unset (False): TLS files are what allow serving.
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let app = Application::build(config).await.unwrap();
    support::create_verified_user(app.state(), "tls@example.com").await;
    let addr = app.local_addr();
    let redirect = app.redirect_addr().expect("redirect listener configured");
    let handle = app.handle();
    tokio::spawn(app.run());

    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .resolve("localhost", addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());
    let res = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let hsts = res.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.contains("max-age=63072000"), "{hsts}");

    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let html = login.text().await.unwrap();
    let csrf = support::form_field(&html, "csrf_token");
    let signed_in = client
        .post(format!("{base}/login"))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[
            ("email", "tls@example.com"),
            ("password", support::PASSWORD),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    // The session and device cookies, in no set order: both `__Host-`, Secure, HttpOnly.
    let cookies: Vec<&str> = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    for name in ["__Host-imagevault_session=", "__Host-imagevault_device="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"));
        assert!(
            cookie.contains("Secure") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
    }

    // Plain HTTP is redirected to the same path under PUBLIC_URL, whatever Host says.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain
        .get(format!("http://{redirect}/login?next=%2F"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers()["location"],
        "https://vault.example/login?next=%2F"
    );

    // A client that does not trust the test CA is refused by TLS itself.
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err()
    );
    handle.stop_forceful();
    std::fs::remove_dir_all(dir).unwrap();
}
