//! `tenantctl serve` and `tenantctl token create` as a user runs them: the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::TestServer;
use assert_cmd::cargo::CommandCargoExt;

/// Starts `tenantctl serve` on a free port; returns the child and its first stdout line.
fn serve(db: &str, port: u16, expect_bootstrap: bool) -> (std::process::Child, String) {
    let mut child = Command::cargo_bin("tenantctl")
        .unwrap()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            db,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    // Wait until it listens: the bootstrap line comes first on a new database; on an old
    // one stdout stays empty, so poll the port instead.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if expect_bootstrap {
        reader.read_line(&mut line).unwrap();
    }
    (child, line)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    // SIGTERM: graceful shutdown.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().unwrap()
}

#[test]
fn serve_prints_one_bootstrap_token_and_token_create_mints() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("new/platform.db").display());
    let port = free_port();
    let (child, line) = serve(&db, port, true);
    let token = line
        .trim()
        .strip_prefix("bootstrap token: ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    assert!(token.starts_with("tct_") && token.len() > 40, "{token}");
    // Through the API, with the system token: the new token alone on stdout.
    let out = Command::cargo_bin("tenantctl")
        .unwrap()
        .args([
            "token",
            "create",
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
            "--token",
            &token,
            "--scope",
            "tenant:acme",
            "--role",
            "user_admin",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minted = String::from_utf8(out.stdout).unwrap();
    assert_eq!(minted.lines().count(), 1);
    assert!(minted.starts_with("tct_"));
    let status = stop(child);
    assert!(status.success(), "graceful shutdown on SIGTERM: {status:?}");
    // Directly in the database.
    let out = Command::cargo_bin("tenantctl")
        .unwrap()
        .args([
            "token",
            "create",
            "--database",
            &db,
            "--scope",
            "system",
            "--role",
            "org_admin",
            "--user",
            "ops@acme.example",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let direct = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // A restart prints no second bootstrap token, and both tokens work.
    let port = free_port();
    let db_old = db.replace("new/", "new/../new/");
    let (child, line) = serve(&db_old, port, false);
    assert_eq!(line, "");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        for t in [&token, &direct, &minted.trim().to_string()] {
            let r = c
                .get(format!("http://127.0.0.1:{port}/api/v1/whoami"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    });
    stop(child);
    // A bad scope is refused with a message, exit 1.
    let out = Command::cargo_bin("tenantctl")
        .unwrap()
        .args(["token", "create", "--database", &db, "--scope", "galaxy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("galaxy"));
}

/// Two server processes over one PostgreSQL database stay correct: each sees the other's
/// writes, and two writers with the same version get one 412.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgres() {
    let Some(a) = TestServer::postgres().await else {
        return;
    };
    let b = tenantctl::server::start(tenantctl::server::ServerConfig {
        database_url: a.database_url.clone(),
        listen: "127.0.0.1:0".into(),
    })
    .await
    .unwrap();
    assert!(b.bootstrap_token.is_none());
    let c = reqwest::Client::new();
    let tok = a.system_token().to_string();
    assert_eq!(
        a.put(
            "/api/v1/plans/shared",
            serde_json::json!({ "display_name": "A" })
        )
        .await
        .status,
        201
    );
    let r = c
        .get(format!("{}/api/v1/plans/shared", b.url()))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "B sees A's write");
    let body = |n: &str| serde_json::json!({ "spec": { "display_name": n } });
    let (ra, rb) = tokio::join!(
        c.put(format!("{}/api/v1/plans/shared", a.url()))
            .bearer_auth(&tok)
            .header("if-match", "\"1\"")
            .json(&body("from A"))
            .send(),
        c.put(format!("{}/api/v1/plans/shared", b.url()))
            .bearer_auth(&tok)
            .header("if-match", "\"1\"")
            .json(&body("from B"))
            .send(),
    );
    let mut statuses = [ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    let sa: serde_json::Value = c
        .get(format!("{}/api/v1/state", a.url()))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sb: serde_json::Value = c
        .get(format!("{}/api/v1/state", b.url()))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sa, sb, "both processes serve the same state");
    assert_eq!(sa["plans"]["shared"]["version"], 2);
    b.shutdown().await;
    a.shutdown().await;
}

/// A token revoked and a session ended through one `serve` process are refused at once by
/// another `serve` process over the same database — two real processes, each having just
/// accepted the credential (no cache to wait out: each request reads its row).
async fn revocations_reach_another_process_at_once(s: TestServer) {
    crate::common::fixture::load(&s).await;
    crate::sessions::activate(&s, crate::common::fixture::BOB, "correct horse battery").await;
    let (port_a, port_b) = (free_port(), free_port());
    let (a, _) = serve(&s.database_url, port_a, false);
    let (b, _) = serve(&s.database_url, port_b, false);
    let (url_a, url_b) = (
        format!("http://127.0.0.1:{port_a}/api/v1"),
        format!("http://127.0.0.1:{port_b}/api/v1"),
    );
    let c = reqwest::Client::new();
    let status = |url: String, secret: String| {
        let c = c.clone();
        async move {
            c.get(url)
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // A token minted on A works on B, then is revoked on A: B refuses it on the next request.
    let r: serde_json::Value = c
        .post(format!("{url_a}/tokens"))
        .bearer_auth(s.system_token())
        .json(&serde_json::json!({ "scope": "tenant:acme", "role": "org_admin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, token) = (r["id"].as_str().unwrap(), r["token"].as_str().unwrap());
    assert_eq!(status(format!("{url_b}/whoami"), token.into()).await, 200);
    let r = c
        .delete(format!("{url_a}/tokens/{id}"))
        .bearer_auth(s.system_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(format!("{url_b}/whoami"), token.into()).await, 401);
    // A session opened on B works on A, then signs out on B: A refuses it at once.
    let r: serde_json::Value = c
        .post(format!("{url_b}/sessions"))
        .json(&serde_json::json!({ "email": crate::common::fixture::BOB, "password": "correct horse battery" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = r["token"].as_str().unwrap().to_string();
    assert_eq!(status(format!("{url_a}/me"), session.clone()).await, 200);
    let r = c
        .delete(format!("{url_b}/sessions/current"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(format!("{url_a}/me"), session).await, 401);
    assert!(stop(a).success());
    assert!(stop(b).success());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_another_process_at_once_postgres() {
    if let Some(s) = TestServer::postgres().await {
        revocations_reach_another_process_at_once(s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_another_process_at_once_sqlite() {
    revocations_reach_another_process_at_once(TestServer::sqlite().await).await;
}
