//! The OpenAPI document: the committed `schemas/openapi.json` equals the one built from the
//! routes, and the server serves exactly it. Regenerate with
//! `TENANTCTL_UPDATE_OPENAPI=1 cargo test --test it server_openapi`.

use crate::common::TestServer;
use crate::on_both;
use tenantctl::server::openapi;

#[test]
fn committed_openapi_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(openapi::COMMITTED_PATH);
    let generated = openapi::document_text();
    if std::env::var("TENANTCTL_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write schemas/openapi.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/openapi.json is stale: run `TENANTCTL_UPDATE_OPENAPI=1 cargo test --test it server_openapi` and commit it"
    );
}

async fn served_openapi_is_committed(s: &TestServer) {
    let a = s
        .call(
            reqwest::Method::GET,
            "/api/v1/openapi.json",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, reqwest::StatusCode::OK);
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(openapi::COMMITTED_PATH),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(a.body, committed);
}

/// Every operation of the document is routed: calling it without a token answers 401
/// (not 404 or 405), and the public ones answer 200.
async fn every_documented_operation_is_routed(s: &TestServer) {
    let doc = openapi::document();
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let concrete = path
                .replace("{email}", "a@b.example")
                .replace(['{', '}'], "");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let a = s.call(m, &concrete, None, None, &[]).await;
            let public = op
                .get("security")
                .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty));
            let want = match (public, op.get("requestBody").is_some()) {
                (true, true) => 415,
                (true, false) => 200,
                (false, _) => 401,
            };
            assert_eq!(a.status.as_u16(), want, "{method} {path}: {}", a.text);
            n += 1;
        }
    }
    assert!(n > 40, "{n} operations");
}

on_both!(
    served_openapi_is_committed,
    every_documented_operation_is_routed
);
