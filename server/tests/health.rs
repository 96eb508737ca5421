//! The real server on a random port, reached over TCP.

use imagevault_server::app::Application;
use imagevault_server::config::Config;

async fn spawn_app() -> (std::net::SocketAddr, salvo::server::ServerHandle) {
    let config =
        Config::from_lookup(|name| (name == "BIND_ADDR").then(|| "127.0.0.1:0".into())).unwrap();
    let app = Application::build(&config).await.expect("bind");
    let addr = app.local_addr();
    let handle = app.handle();
    tokio::spawn(app.run());
    (addr, handle)
}

#[tokio::test]
async fn healthz_answers_200() {
    let (addr, handle) = spawn_app().await;
    assert_ne!(addr.port(), 0, "the real port is reported");
    let res = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    handle.stop_graceful(None);
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let (addr, handle) = spawn_app().await;
    let res = reqwest::get(format!("http://{addr}/nope")).await.unwrap();
    assert_eq!(res.status(), 404);
    handle.stop_graceful(None);
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let (addr, handle) = spawn_app().await;
    let config = Config::from_lookup(|_| Some(addr.to_string())).unwrap();
    let err = Application::build(&config)
        .await
        .err()
        .expect("port is taken");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    handle.stop_graceful(None);
}
