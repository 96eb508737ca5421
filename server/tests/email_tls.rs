//! With `EMAIL_USE_TLS=True` mail goes over STARTTLS, verified against the relay's CA
//! (`EMAIL_TLS_CA_FILE`); an untrusted relay gets nothing, never a plaintext fallback.

use imagevault_test_support as support;

use reqwest::StatusCode;
use support::{Engine, PASSWORD, SmtpSink, TestApp};

#[tokio::test]
async fn verification_mail_goes_over_verified_starttls() {
    let sink = SmtpSink::start_tls().await;
    let dir = std::env::temp_dir().join(format!("iv-ca-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sink.ca_pem.as_ref().unwrap()).unwrap();
    let ca = ca.display().to_string();
    let extra = [
        ("EMAIL_USE_TLS", "True"),
        ("EMAIL_TLS_CA_FILE", ca.as_str()),
    ];
    let app = TestApp::spawn_with_sink(Engine::Sqlite, sink, &extra).await;
    assert_eq!(
        app.register("uma@example.com", PASSWORD).await.status(),
        StatusCode::ACCEPTED
    );
    let mail = app
        .smtp
        .wait_for("uma@example.com", "/verify?token=", 1)
        .await;
    assert!(mail.encrypted, "the message was sent after STARTTLS");
    app.finish().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_untrusted_relay_gets_no_mail_at_all() {
    let sink = SmtpSink::start_tls().await;
    let app = TestApp::spawn_with_sink(Engine::Sqlite, sink, &[("EMAIL_USE_TLS", "True")]).await;
    // Registration still answers 202 (mail goes out in the background)...
    assert_eq!(
        app.register("vic@example.com", PASSWORD).await.status(),
        StatusCode::ACCEPTED
    );
    // ...but the relay's certificate is not trusted: the server gives up on the
    // handshake and, once its send has settled, nothing was delivered in plain text.
    app.smtp.wait_for_refused_tls().await;
    app.state.mailer.settled().await;
    assert!(app.smtp.mails_to("vic@example.com").is_empty());
    app.finish().await;
}
