//! Unit tests of the client's transport: URLs, endpoint checks, backoff, `Retry-After`,
//! retries and the rate limit, against a loopback responder (not the platform's API).

use super::*;

#[test]
fn resource_paths() {
    let c = Client::new(ClientConfig::new("http://127.0.0.1:9/base", None)).expect("client");
    let u =
        c.url(&resource_segments(Kind::Grant, "acme/paris/user:bob@acme.example").expect("grant"));
    assert_eq!(
        u.as_str(),
        "http://127.0.0.1:9/base/api/v1/tenants/acme/workspaces/paris/grants/user:bob@acme.example"
    );
    let u =
        c.url(&resource_segments(Kind::Membership, "bob@acme.example/acme").expect("membership"));
    assert_eq!(
        u.as_str(),
        "http://127.0.0.1:9/base/api/v1/users/bob@acme.example/memberships/acme"
    );
    assert_eq!(resource_segments(Kind::Workspace, "nope"), None);
}

#[test]
fn bad_endpoints_are_refused() {
    assert!(matches!(
        Client::new(ClientConfig::new("ftp://x", None)),
        Err(ClientError::InvalidEndpoint(_))
    ));
    assert!(matches!(
        Client::new(ClientConfig::new("not a url", None)),
        Err(ClientError::InvalidEndpoint(_))
    ));
}

#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    let base = Duration::from_millis(200);
    for attempt in 0..20 {
        let d = jittered(base, attempt);
        let exp = base
            .saturating_mul(1 << attempt.min(16))
            .min(Duration::from_secs(20));
        assert!(
            d <= exp && d >= exp / 2,
            "attempt {attempt}: {d:?} vs {exp:?}"
        );
    }
}

#[test]
fn retry_after_seconds() {
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&h), None);
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    // A port nothing listens on: bind, read the port, drop the listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cfg = ClientConfig::new(&format!("http://127.0.0.1:{port}"), None);
    cfg.backoff = Duration::from_millis(1);
    cfg.max_attempts = 3;
    let err = Client::new(cfg)
        .expect("client")
        .state()
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(err, ClientError::Unreachable { attempts: 3, .. }),
        "{err}"
    );
}

/// A loopback HTTP responder that answers each connection with the next canned
/// response and records the request heads: the transport behaviour under test (retries,
/// `Retry-After`), not the platform's API.
fn responder(responses: Vec<String>) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for resp in responses {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut buf = vec![0u8; 65536];
            let mut head = String::new();
            while !head.contains("\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
            if let Ok(mut l) = log.lock() {
                l.push(head);
            }
            let _ = conn.write_all(resp.as_bytes());
        }
    });
    (url, seen)
}

fn reply(status: &str, extra: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

#[tokio::test]
async fn reads_are_retried_through_429_and_5xx_honouring_retry_after() {
    let (url, seen) = responder(vec![
        reply("429 Too Many Requests", "Retry-After: 1\r\n", ""),
        reply("503 Service Unavailable", "", ""),
        reply("200 OK", "", r#"{"revision": 5}"#),
    ]);
    let mut cfg = ClientConfig::new(&url, Some("t0k3n".into()));
    cfg.backoff = Duration::from_millis(1);
    let start = std::time::Instant::now();
    let state = Client::new(cfg)
        .expect("client")
        .state()
        .await
        .expect("state after retries");
    assert_eq!(state.revision, 5);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        start.elapsed()
    );
    let heads = seen.lock().expect("lock").clone();
    assert_eq!(heads.len(), 3);
    assert!(heads[0]
        .to_lowercase()
        .contains("authorization: bearer t0k3n"));
    assert!(
        !heads[0].to_lowercase().contains(api::CHANGE_SET_HEADER),
        "reads carry no change set"
    );
}

#[tokio::test]
async fn a_batch_without_precondition_is_not_repeated_after_a_5xx() {
    let (url, seen) = responder(vec![
        reply(
            "500 Internal Server Error",
            "",
            r#"{"code": "internal", "message": "boom", "details": null}"#,
        ),
        reply("200 OK", "", r#"{"revision": 2, "applied": 1}"#),
    ]);
    let mut cfg = ClientConfig::new(&url, None);
    cfg.backoff = Duration::from_millis(1);
    cfg.commit = Some("abc123".into());
    let client = Client::new(cfg).expect("client");
    let req = BatchRequest {
        expected_revision: None,
        allow_limit_below_usage: false,
        dry_run: false,
        operations: Vec::new(),
    };
    let err = client
        .batch(&req)
        .await
        .expect_err("a 500 is final for an unguarded batch");
    assert_eq!(err.code(), Some("internal"));
    let heads = seen.lock().expect("lock").clone();
    assert_eq!(heads.len(), 1, "not repeated");
    let h = heads[0].to_lowercase();
    assert!(
        h.contains(&format!(
            "{}: {}",
            api::CHANGE_SET_HEADER,
            client.change_set()
        )),
        "{h}"
    );
    assert!(
        h.contains(&format!("{}: abc123", api::COMMIT_HEADER)),
        "{h}"
    );
}

#[tokio::test]
async fn max_rps_spaces_requests() {
    let ok = || reply("200 OK", "", r#"{"revision": 1}"#);
    let (url, _) = responder(vec![ok(), ok(), ok(), ok(), ok()]);
    let mut cfg = ClientConfig::new(&url, None);
    cfg.max_rps = 10;
    let client = Client::new(cfg).expect("client");
    let start = std::time::Instant::now();
    for _ in 0..5 {
        client.state().await.expect("state");
    }
    // 5 requests at 10 per second: the last starts 400 ms after the first.
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
}
