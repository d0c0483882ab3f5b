//! Tokens over their life (issue 11): an optional expiry the server enforces, `GET
//! /api/v1/tokens` and `DELETE /api/v1/tokens/{token}` (system tokens only), a revocation
//! that takes effect at once on the server that made it and on another server over the same
//! database; `tenantctl token create|list|revoke` as a user runs them.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{Answer, TestServer};

/// RFC 3339 UTC, `secs` from now.
fn in_secs(secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// Mints a system token through the API with this body; returns (id, secret).
async fn mint(s: &TestServer, body: Value) -> (String, String) {
    let a = s.post("/api/v1/tokens", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    (
        a.body["id"].as_str().expect("id").to_string(),
        a.body["token"].as_str().expect("token").to_string(),
    )
}

async fn whoami(base: &str, token: &str) -> Answer {
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// Polls `base` with `token` until it is refused (401), at most 15 s; the refusal.
async fn until_refused(base: &str, token: &str) -> Answer {
    let start = Instant::now();
    loop {
        let a = whoami(base, token).await;
        if a.status == StatusCode::UNAUTHORIZED || start.elapsed() > Duration::from_secs(15) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn listed<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed in {list}"))
}

async fn expiry_is_enforced(s: &TestServer) {
    // Refused expiries: in the past, not RFC 3339.
    for bad in [json!("2001-01-01T00:00:00Z"), json!("next tuesday")] {
        let a = s
            .post(
                "/api/v1/tokens",
                json!({ "scope": "system", "role": "org_admin", "expires_at": bad }),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(a.body["code"], "invalid_token_request", "{}", a.text);
    }
    // A token of 2 seconds works, then is refused as expired.
    let (id, token) = mint(
        s,
        json!({ "scope": "system", "role": "org_admin", "expires_at": in_secs(2) }),
    )
    .await;
    assert_eq!(whoami(&s.url(), &token).await.status, StatusCode::OK);
    let list = s.get("/api/v1/tokens").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(listed(&list.body, &id)["status"], "active");
    let refused = until_refused(&s.url(), &token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    assert!(
        refused.text.contains("token expired at"),
        "{}",
        refused.text
    );
    let list = s.get("/api/v1/tokens").await;
    let t = listed(&list.body, &id);
    assert_eq!(t["status"], "expired");
    assert!(t["revoked_at"].is_null());
    // The bootstrap token has no expiry.
    let bootstrap = &list.body["tokens"][0];
    assert_eq!(bootstrap["description"], "bootstrap");
    assert!(bootstrap["expires_at"].is_null());
    assert_eq!(bootstrap["status"], "active");
}

async fn revoke_takes_effect_at_once(s: &TestServer) {
    let (id, token) = mint(s, json!({ "scope": "system", "role": "org_admin" })).await;
    assert_eq!(whoami(&s.url(), &token).await.status, StatusCode::OK);
    // Only a system token lists or revokes.
    let tenant = s.token("tenant:acme", Some("org_admin"), None).await;
    for (method, path) in [
        (Method::GET, "/api/v1/tokens".to_string()),
        (Method::DELETE, format!("/api/v1/tokens/{id}")),
    ] {
        let a = s.call(method, &path, Some(&tenant), None, &[]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}: {}", a.text);
    }
    let a = s.delete(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    // Refused at once, though this server had it cached.
    let a = whoami(&s.url(), &token).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert!(a.text.contains("token revoked at"), "{}", a.text);
    // Revoking again changes nothing; an unknown id is a 404.
    assert_eq!(
        s.delete(&format!("/api/v1/tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete("/api/v1/tokens/tok_nope").await.status,
        StatusCode::NOT_FOUND
    );
    let list = s.get("/api/v1/tokens").await;
    let t = listed(&list.body, &id);
    assert_eq!(t["status"], "revoked");
    assert!(t["revoked_at"].is_string());
    assert!(t.get("token").is_none() && t.get("hash").is_none(), "{t}");
    // The audit log names the revocation once.
    let audit = s.get("/api/v1/audit?limit=50").await;
    let revokes: Vec<&Value> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["op"] == "revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "{}", audit.text);
    assert_eq!(revokes[0]["key"], id.as_str());
}

/// A second server over the same database, which has just accepted the token, refuses it
/// at once after its revocation on the first (each request reads the token's row).
async fn revoke_reaches_another_server(s: &TestServer) {
    let other = tenantctl::server::start(tenantctl::server::ServerConfig {
        database_url: s.database_url.clone(),
        listen: "127.0.0.1:0".into(),
    })
    .await
    .expect("second server");
    let (id, token) = mint(s, json!({ "scope": "system", "role": "org_admin" })).await;
    assert_eq!(whoami(&other.url(), &token).await.status, StatusCode::OK);
    let a = s.delete(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let refused = whoami(&other.url(), &token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    assert!(refused.text.contains("token revoked"), "{}", refused.text);
    other.shutdown().await;
}

crate::on_both!(
    expiry_is_enforced,
    revoke_takes_effect_at_once,
    revoke_reaches_another_server
);

/// `tenantctl token create --expires-in`, `token list` (table and JSON) and `token
/// revoke` against a real server, as a transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_commands_transcript() {
    let s = TestServer::sqlite().await;
    let url = s.url();
    let system = s.system_token().to_string();
    let run = move |args: Vec<String>| {
        let url = url.clone();
        let system = system.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let out = assert_cmd::cargo::cargo_bin_cmd!("tenantctl")
                    .args(&args)
                    .env("NO_COLOR", "1")
                    .env("TENANTCTL_ENDPOINT", &url)
                    .env("TENANTCTL_TOKEN", &system)
                    .output()
                    .expect("run tenantctl");
                (
                    out.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
            .await
            .expect("join")
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (code, secret, err) = run(args(&[
        "token",
        "create",
        "--scope",
        "tenant:acme",
        "--role",
        "user_admin",
        "--description",
        "ci",
        "--expires-in",
        "90d",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(secret.lines().count(), 1);
    let (code, _, err) = run(args(&[
        "token",
        "create",
        "--scope",
        "system",
        "--expires-in",
        "3 weeks",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("--expires-in `3 weeks` is not a duration"),
        "{err}"
    );
    let (code, json_out, err) = run(args(&["token", "list", "--format", "json"])).await;
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&json_out).expect("JSON list");
    let ci = listed
        .as_array()
        .expect("array")
        .iter()
        .find(|t| t["description"] == "ci")
        .expect("the ci token");
    let id = ci["id"].as_str().expect("id").to_string();
    let expires = ci["expires_at"].as_str().expect("an expiry");
    let days =
        (time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
            - time::OffsetDateTime::now_utc())
        .whole_days();
    assert!((89..=90).contains(&days), "{expires}");
    let (code, _, err) = run(args(&["token", "revoke", &id])).await;
    assert_eq!(code, 0, "{err}");
    let revoked = err;
    let (code, table, err) = run(args(&["token", "list"])).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, missing) = run(args(&["token", "revoke", "tok_0000000000000000"])).await;
    assert_eq!(code, 1);
    let transcript = format!(
        "$ tenantctl token revoke {id}\n{revoked}$ tenantctl token list\n{table}$ tenantctl token revoke tok_0000000000000000\n{missing}"
    );
    insta::with_settings!({filters => vec![
        (r"tok_[0-9a-f]{16}", "tok_[ID]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    ]}, {
        insta::assert_snapshot!("token_commands", transcript);
    });
    s.shutdown().await;
}
