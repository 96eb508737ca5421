//! The OpenAPI document describes the real routes, and its viewer works under the CSP.

use imagevault_test_support as support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{Engine, TestApp};

#[tokio::test]
async fn openapi_document_lists_the_auth_endpoints_with_schemas_and_errors() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/verify",
        "/api/v1/auth/resend-verification",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/reset-password",
        "/api/v1/auth/oidc/exchange",
        "/api/v1/auth/oidc/link",
    ] {
        assert!(paths[path]["post"].is_object(), "{path} is documented");
    }
    let login = &paths["/api/v1/auth/login"]["post"];
    let request = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    assert!(request.ends_with("Credentials"), "{request}");
    for status in ["200", "401", "423", "429"] {
        assert!(
            login["responses"][status].is_object(),
            "login documents {status}"
        );
    }
    assert!(paths["/api/v1/me"]["get"]["responses"]["200"].is_object());
    assert!(paths["/api/v1/me"]["get"]["security"][0]["bearer"].is_array());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Credentials",
        "LoginResponse",
        "ErrorBody",
        "ErrorCode",
        "Me",
    ] {
        assert!(
            schemas.keys().any(|k| k.ends_with(name)),
            "schema {name} in {:?}",
            schemas.keys()
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn api_viewer_loads_only_same_origin_files() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let page = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    for (asset, kind) in [
        ("/api/docs/swagger-ui-bundle.js", "javascript"),
        ("/api/docs/swagger-ui.css", "text/css"),
        ("/static/api-docs.js", "javascript"),
    ] {
        assert!(html.contains(asset));
        let res = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.contains(kind), "{asset}: {content_type}");
    }
    app.finish().await;
}
