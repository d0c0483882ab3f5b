//! The reconciler's one read at scale: a platform of 100,000 users (150,000 memberships,
//! 1,000 tenants, 5,000 workspaces, 5,000 grants) loaded with one atomic batch, then
//! `GET /api/v1/state` timed with a system token (cold: serialized once per revision; warm:
//! served from the per-revision cache) and with a tenant token (filtered per request).
//! On SQLite always, on PostgreSQL when `TENANTCTL_TEST_POSTGRES` is set.
//!
//! `cargo bench --bench server_state` (release profile). Prints the numbers; asserts nothing
//! about time.

// A benchmark stops on a broken setup: `unwrap`/`expect` here end a measurement, not a user's run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantctl::server::{start, ServerConfig};

const USERS: usize = 100_000;
const TENANTS: usize = 1_000;
const WORKSPACES_PER_TENANT: usize = 5;

fn operations() -> Vec<Value> {
    let mut ops = Vec::new();
    let put = |kind: &str, key: String, spec: Value| json!({ "op": "put", "kind": kind, "key": key, "spec": spec });
    ops.push(put(
        "plan",
        "scale".into(),
        json!({ "display_name": "Scale" }),
    ));
    for t in 0..TENANTS {
        ops.push(put(
            "tenant",
            format!("t{t}"),
            json!({ "display_name": format!("Tenant {t}"), "plan": "scale" }),
        ));
        for w in 0..WORKSPACES_PER_TENANT {
            ops.push(put(
                "workspace",
                format!("t{t}/w{w}"),
                json!({ "display_name": format!("Site {w}") }),
            ));
            ops.push(put(
                "grant",
                format!("t{t}/w{w}/tenant"),
                json!({ "actions": ["read"] }),
            ));
        }
    }
    for u in 0..USERS {
        let email = format!("user{u}@scale.example");
        ops.push(put("user", email.clone(), json!({ "first_name": format!("First{u}"), "last_name": format!("Last{u}"), "language": "fr" })));
        let t = u % TENANTS;
        // The first two members of each tenant are its org_admins.
        let role = if u < 2 * TENANTS {
            "org_admin"
        } else {
            "member"
        };
        ops.push(put(
            "membership",
            format!("{email}/t{t}"),
            json!({ "role": role, "workspaces": [format!("w{}", u % WORKSPACES_PER_TENANT)] }),
        ));
        if u % 2 == 0 {
            ops.push(put(
                "membership",
                format!("{email}/t{}", (t + 1) % TENANTS),
                json!({ "role": "member" }),
            ));
        }
    }
    ops
}

async fn time_get(client: &reqwest::Client, url: &str, token: &str) -> (Duration, usize) {
    let t0 = Instant::now();
    let resp = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /state");
    assert!(resp.status().is_success(), "GET /state: {}", resp.status());
    let bytes = resp.bytes().await.expect("body");
    (t0.elapsed(), bytes.len())
}

async fn run(label: &str, database_url: String) {
    let server = start(ServerConfig {
        database_url,
        listen: "127.0.0.1:0".into(),
    })
    .await
    .expect("server");
    let token = server.bootstrap_token.clone().expect("new database");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()
        .expect("client");
    let ops = operations();
    let n = ops.len();
    let body = serde_json::to_vec(&json!({ "operations": ops })).expect("json");
    let t0 = Instant::now();
    let resp = client
        .post(format!("{}/api/v1/batch", server.url()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("batch");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "batch: {status} {}",
        &text[..text.len().min(500)]
    );
    let load = t0.elapsed();
    println!(
        "[{label}] batch of {n} operations ({:.1} MB): {:.2} s",
        body.len() as f64 / 1e6,
        load.as_secs_f64()
    );

    let url = format!("{}/api/v1/state", server.url());
    let (cold, size) = time_get(&client, &url, &token).await;
    let mut warm = Vec::new();
    for _ in 0..10 {
        warm.push(time_get(&client, &url, &token).await.0);
    }
    warm.sort();
    println!(
        "[{label}] GET /state (system, {:.1} MB): first {:.0} ms, then median {:.0} ms (min {:.0}, max {:.0}) over 10",
        size as f64 / 1e6,
        cold.as_secs_f64() * 1e3,
        warm[5].as_secs_f64() * 1e3,
        warm[0].as_secs_f64() * 1e3,
        warm[9].as_secs_f64() * 1e3
    );
    let tenant_token = {
        let r = client
            .post(format!("{}/api/v1/tokens", server.url()))
            .bearer_auth(&token)
            .json(&json!({ "scope": "tenant:t7", "role": "org_admin" }))
            .send()
            .await
            .expect("token");
        r.json::<Value>().await.expect("token json")["token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut tenant = Vec::new();
    let mut tsize = 0;
    for _ in 0..5 {
        let (d, s) = time_get(&client, &url, &tenant_token).await;
        tenant.push(d);
        tsize = s;
    }
    tenant.sort();
    println!(
        "[{label}] GET /state (tenant org_admin, {:.1} KB): median {:.0} ms over 5",
        tsize as f64 / 1e3,
        tenant[2].as_secs_f64() * 1e3
    );
    // One small write after the load: the rules run over the whole state.
    let t0 = Instant::now();
    let r = client
        .put(format!("{}/api/v1/tenants/t3/workspaces/new", server.url()))
        .bearer_auth(&token)
        .json(&json!({ "spec": {} }))
        .send()
        .await
        .expect("put");
    assert!(r.status().is_success());
    println!(
        "[{label}] one PUT at that size: {:.0} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let (cold2, _) = time_get(&client, &url, &token).await;
    println!(
        "[{label}] GET /state after a write (re-serialized): {:.0} ms",
        cold2.as_secs_f64() * 1e3
    );
    server.shutdown().await;
    // Restart: loading the state from the database.
    let t0 = Instant::now();
    let _ = t0;
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: this focused
    // measurement is too heavy for a debug test run; the `scale` bench is the smoke test.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "{}: a measurement; run it with `cargo bench --bench {}`",
            file!(),
            env!("CARGO_CRATE_NAME")
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        run(
            "sqlite",
            format!("sqlite://{}", dir.path().join("scale.db").display()),
        )
        .await;
        match std::env::var("TENANTCTL_TEST_POSTGRES") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(&admin).await.expect("postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await
                    .expect("create db");
                let url = match admin.rfind('/') {
                    Some(i) => format!("{}/{name}", &admin[..i]),
                    None => admin.clone(),
                };
                run("postgres", url).await;
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&pool)
                .await;
            }
            _ => eprintln!("*** SKIPPED PostgreSQL: set TENANTCTL_TEST_POSTGRES ***"),
        }
    });
}
