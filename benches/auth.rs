//! What reading the credential on every request costs (issue 12: a revoked token or ended
//! session is refused at once by every `serve` process, because each request reads its
//! row by hash instead of trusting a cache). Over a database holding 2,000 tokens and 2,000
//! sessions (20 in the smoke run of `cargo test --all-targets`), times the read alone (`Db::token_by_hash`, `Db::session_by_hash`) and whole
//! requests (`GET /api/v1/whoami` with a token, `GET /api/v1/me` with a session), one at a
//! time. On SQLite always, on PostgreSQL when `TENANTCTL_TEST_POSTGRES` is set.
//!
//! `cargo bench --bench auth` (release profile). Prints the numbers; asserts nothing about
//! time.

// A benchmark stops on a broken setup: `unwrap`/`expect` here end a measurement, not a user's run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use tenantctl::server::http::extract::hash_secret;
use tenantctl::server::store::Db;
use tenantctl::server::{start, ServerConfig};

/// Tokens and sessions stored, and rounds timed (`cargo test --all-targets` runs this
/// without `--bench`: then a smoke run of 20 on SQLite only).
struct Sizes {
    credentials: usize,
    rounds: usize,
}
const PASSWORD: &str = "correct horse battery";

struct Row {
    what: &'static str,
    per_op: Duration,
}

async fn bench(database_url: String, label: &str, sizes: &Sizes) -> Vec<Row> {
    let (credentials, rounds) = (sizes.credentials, sizes.rounds);
    let server = start(ServerConfig {
        database_url: database_url.clone(),
        listen: "127.0.0.1:0".into(),
    })
    .await
    .unwrap();
    let system = server.bootstrap_token.clone().unwrap();
    let base = format!("{}/api/v1", server.url());
    let client = reqwest::Client::new();
    let db = Db::connect(&database_url).await.unwrap();
    // A tenant and a user with a password, then many tokens and sessions.
    let r = client
        .post(format!("{base}/batch"))
        .bearer_auth(&system)
        .json(&json!({ "operations": [
            { "op": "put", "kind": "plan", "key": "p", "spec": {} },
            { "op": "put", "kind": "tenant", "key": "acme", "spec": { "plan": "p" } },
            { "op": "put", "kind": "user", "key": "bench@acme.example", "spec": {} },
            { "op": "put", "kind": "membership", "key": "bench@acme.example/acme", "spec": { "role": "member" } },
        ] }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let phc = tenantctl::server::passwords::hash(PASSWORD.into())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.activate_account("bench@acme.example", &phc)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tokens = Vec::with_capacity(credentials);
    for _ in 0..credentials {
        let r: serde_json::Value = client
            .post(format!("{base}/tokens"))
            .bearer_auth(&system)
            .json(&json!({ "scope": "tenant:acme", "user": "bench@acme.example" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(r["token"].as_str().unwrap().to_string());
    }
    let policy = tenantctl::server::sessions::SessionPolicy::default();
    let mut sessions = Vec::with_capacity(credentials);
    for _ in 0..credentials {
        let now = tenantctl::server::store::now_ms();
        let (row, secret) = tenantctl::server::sessions::mint(
            "bench@acme.example",
            Some("acme"),
            None,
            &policy,
            now,
        );
        db.insert_session(&row, &hash_secret(&secret), None)
            .await
            .unwrap();
        sessions.push(secret);
    }
    let token_hashes: Vec<String> = tokens.iter().map(|t| hash_secret(t)).collect();
    let session_hashes: Vec<String> = sessions.iter().map(|t| hash_secret(t)).collect();

    let mut rows = Vec::new();
    let t0 = Instant::now();
    for i in 0..rounds {
        db.token_by_hash(&token_hashes[i % credentials])
            .await
            .unwrap()
            .unwrap();
    }
    rows.push(Row {
        what: "read a token's row by hash",
        per_op: t0.elapsed() / rounds as u32,
    });
    let t0 = Instant::now();
    for i in 0..rounds {
        db.session_by_hash(&session_hashes[i % credentials])
            .await
            .unwrap()
            .unwrap();
    }
    rows.push(Row {
        what: "read a session's row by hash",
        per_op: t0.elapsed() / rounds as u32,
    });
    let t0 = Instant::now();
    for i in 0..rounds {
        let r = client
            .get(format!("{base}/whoami"))
            .bearer_auth(&tokens[i % credentials])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    rows.push(Row {
        what: "GET /whoami with a token (whole request)",
        per_op: t0.elapsed() / rounds as u32,
    });
    let t0 = Instant::now();
    for i in 0..rounds {
        let r = client
            .get(format!("{base}/me"))
            .bearer_auth(&sessions[i % credentials])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    rows.push(Row {
        what: "GET /me with a session (whole request)",
        per_op: t0.elapsed() / rounds as u32,
    });
    let t0 = Instant::now();
    let r = client
        .post(format!("{base}/sessions"))
        .json(&json!({ "email": "bench@acme.example", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    rows.push(Row {
        what: "POST /sessions (argon2id check, once)",
        per_op: t0.elapsed(),
    });
    db.close().await;
    server.shutdown().await;
    println!(
        "\n{label}: {credentials} tokens and {credentials} sessions stored, {rounds} rounds each"
    );
    rows
}

fn print(rows: &[Row]) {
    println!("| {:<44} | {:>10} |", "operation", "per op");
    println!("|{:-<46}|{:->12}|", "", "");
    for r in rows {
        println!(
            "| {:<44} | {:>7.1} µs |",
            r.what,
            r.per_op.as_secs_f64() * 1e6
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let sizes = if measuring {
        Sizes {
            credentials: 2_000,
            rounds: 2_000,
        }
    } else {
        Sizes {
            credentials: 20,
            rounds: 20,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    print(&bench(url, "SQLite", &sizes).await);
    if !measuring {
        return;
    }
    if let Ok(admin) = std::env::var("TENANTCTL_TEST_POSTGRES") {
        let name = format!("bench_auth_{}", std::process::id());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("TENANTCTL_TEST_POSTGRES has no database: {admin}"),
        };
        print(&bench(url, "PostgreSQL", &sizes).await);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
}
