//! `cargo bench --bench access [-- SIZE]`: the access check, the hot path of every
//! application built on the platform. Generates the synthetic platform of SIZE (`large` by
//! default: 2,000 tenants, 100,000 users; see `benches/scale/gen.rs`), loads it into the
//! real server in this process with one batch, then asks `GET /api/v1/access` one question
//! at a time over loopback (a mix of model questions and permission questions, on
//! workspaces and on the tenant, about users spread over the whole platform), and batches
//! of 100 with `POST /api/v1/access/batch`. Reports p50, p99 and max of the server's time
//! (its `Server-Timing` header: from the handler's start to the answer's body) and of the
//! round trip. Over SQLite, and PostgreSQL when `TENANTCTL_TEST_POSTGRES` is set. Prints a
//! table and writes `target/bench/access.json`; asserts nothing about time.
//!
//! Run by `cargo test` (no `--bench` argument) it does `small` with a few hundred
//! questions, as a smoke test of the harness.

// A benchmark stops on a broken setup: `unwrap`/`expect` here end a measurement, not a user's run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Shared with the `scale` bench, which uses all of it.
#[allow(dead_code)]
#[path = "scale/gen.rs"]
mod gen;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gen::Size;
use serde_json::{json, Value};
use tenantctl::apply::{self, Mode};
use tenantctl::client::{Client, ClientConfig};
use tenantctl::plan::{self, PlanOptions};
use tenantctl::server::{self, ServerConfig};
use tenantctl::validate;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The e-mail and first tenant of user `u`, as `gen.rs` writes them.
fn user(size: &Size, u: usize) -> (String, String) {
    (
        format!("user{u:06}@tenant{:04}.example", u % 9973),
        format!("tenant-{:04}", u % size.tenants),
    )
}

/// The `i`th question: a deterministic mix over the whole platform.
fn question(size: &Size, i: usize) -> Value {
    let u = (i * 7919) % size.users;
    let (email, tenant) = user(size, u);
    let t = u % size.tenants;
    match i % 5 {
        // A model granted to the tenant (some admin-only), or one it is not granted.
        0 => {
            json!({ "user": email, "tenant": tenant, "model": format!("model-{:03}", t % size.models) })
        }
        1 => {
            json!({ "user": email, "tenant": tenant, "model": format!("model-{:03}", (t + 97) % size.models) })
        }
        2 => {
            json!({ "user": email, "tenant": tenant, "permission": "project.read", "workspace": "ws-0" })
        }
        3 => {
            json!({ "user": email, "tenant": tenant, "permission": "update", "workspace": "ws-0" })
        }
        _ => json!({ "user": email, "tenant": tenant, "permission": "users.invite" }),
    }
}

fn query(q: &Value) -> String {
    let mut s = String::from("/api/v1/access?");
    for k in ["user", "tenant", "permission", "workspace", "model"] {
        if let Some(v) = q[k].as_str() {
            s.push_str(&format!("{k}={v}&"));
        }
    }
    s.pop();
    s
}

/// The server's time in ms, from `Server-Timing: app;dur=MS`.
fn server_ms(resp: &reqwest::Response) -> f64 {
    resp.headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.parse().ok())
        .expect("a Server-Timing header")
}

/// p50, p99 and max of `xs` (ms), sorted in place.
fn percentiles(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let at = |p: f64| xs[((xs.len() as f64 * p).ceil() as usize).clamp(1, xs.len()) - 1];
    (at(0.50), at(0.99), xs[xs.len() - 1])
}

struct Line {
    what: String,
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn load(server_url: &str, token: &str, size: &Size) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    gen::write(dir.path(), size, false)?;
    let checked = validate::check_paths(&[dir.path().to_path_buf()]);
    let desired = checked
        .desired
        .ok_or("the generated platform does not validate")?;
    let input = tenantctl::pipeline::plan_input(desired);
    let mut config = ClientConfig::new(server_url, Some(token.to_string()));
    config.timeout = Duration::from_secs(900);
    let client = Arc::new(Client::new(config)?);
    let live = client.state().await?;
    let plan = plan::diff(&input, &live, &PlanOptions::default());
    apply::apply(&plan, client, Mode::Batch, false, apply::Progress::Hidden).await?;
    Ok(())
}

async fn bench(
    backend: &str,
    database_url: String,
    size: Size,
    questions: usize,
) -> Result<Vec<Line>, Error> {
    let server = server::start(ServerConfig {
        database_url: database_url.clone(),
        listen: "127.0.0.1:0".into(),
    })
    .await?;
    let token = server.bootstrap_token.clone().ok_or("a new database")?;
    let t0 = Instant::now();
    load(&server.url(), &token, &size).await?;
    eprintln!(
        "[{backend}] {} loaded in {:.1} s",
        size.name,
        t0.elapsed().as_secs_f64()
    );
    if backend == "postgres" {
        // Outside the timings, as in the `scale` bench: a platform in service is past the
        // autovacuum of a bulk load.
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&database_url).await?;
        sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = server.url();
    // Warm up: connections, caches.
    for i in 0..200 {
        let q = question(&size, i);
        http.get(format!("{url}{}", query(&q)))
            .bearer_auth(&token)
            .send()
            .await?
            .bytes()
            .await?;
    }
    let (mut server_t, mut round_trip, mut allowed) = (Vec::new(), Vec::new(), 0usize);
    for i in 0..questions {
        let q = question(&size, i);
        let t = Instant::now();
        let resp = http
            .get(format!("{url}{}", query(&q)))
            .bearer_auth(&token)
            .send()
            .await?;
        assert!(
            resp.status().is_success(),
            "{}: {}",
            query(&q),
            resp.status()
        );
        let ms = server_ms(&resp);
        let body: Value = resp.json().await?;
        round_trip.push(t.elapsed().as_secs_f64() * 1000.0);
        server_t.push(ms);
        allowed += usize::from(body["allowed"] == true);
    }
    eprintln!("[{backend}] {allowed} of {questions} questions allowed");
    let mut lines = Vec::new();
    let mut line = |what: String, xs: &mut Vec<f64>| {
        let (p50, p99, max) = percentiles(xs);
        lines.push(Line {
            what,
            n: xs.len(),
            p50,
            p99,
            max,
        });
    };
    line(
        format!("{backend}: GET /access, server time"),
        &mut server_t,
    );
    line(
        format!("{backend}: GET /access, round trip"),
        &mut round_trip,
    );
    let (mut batch_t, mut batch_rt) = (Vec::new(), Vec::new());
    for b in 0..(questions / 100).max(1) {
        let qs: Vec<Value> = (0..100).map(|i| question(&size, b * 100 + i + 1)).collect();
        let t = Instant::now();
        let resp = http
            .post(format!("{url}/api/v1/access/batch"))
            .bearer_auth(&token)
            .json(&json!({ "questions": qs }))
            .send()
            .await?;
        assert!(resp.status().is_success(), "batch: {}", resp.status());
        batch_t.push(server_ms(&resp));
        resp.bytes().await?;
        batch_rt.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    line(
        format!("{backend}: POST /access/batch of 100, server time"),
        &mut batch_t,
    );
    line(
        format!("{backend}: POST /access/batch of 100, round trip"),
        &mut batch_rt,
    );
    server.shutdown().await;
    Ok(lines)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    let name = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| if benching { "large" } else { "small" }.into());
    let size = Size::by_name(&name)
        .ok_or_else(|| format!("unknown size `{name}` (small, medium, large)"))?;
    let questions = if benching { 20_000 } else { 300 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let mut lines = rt.block_on(bench(
        "sqlite",
        format!("sqlite://{}", dir.path().join("access.db").display()),
        size,
        questions,
    ))?;
    if let Some(admin) = std::env::var("TENANTCTL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    {
        let name = format!("bench_access_{}", std::process::id());
        rt.block_on(async {
            let pool = sqlx::PgPool::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await?;
            pool.close().await;
            Ok::<(), Error>(())
        })?;
        let (base, _) = admin
            .rsplit_once('/')
            .ok_or("TENANTCTL_TEST_POSTGRES has no database")?;
        let url = format!("{base}/{name}");
        lines.extend(rt.block_on(bench("postgres", url, size, questions))?);
        rt.block_on(async {
            let pool = sqlx::PgPool::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await?;
            Ok::<(), Error>(())
        })?;
    }
    println!(
        "\n| access check, {} ({} users) | n | p50 (ms) | p99 (ms) | max (ms) |",
        size.name, size.users
    );
    println!("|---|---:|---:|---:|---:|");
    for l in &lines {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} |",
            l.what, l.n, l.p50, l.p99, l.max
        );
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out)?;
    let json: Vec<Value> = lines
        .iter()
        .map(|l| json!({ "what": l.what, "n": l.n, "p50_ms": l.p50, "p99_ms": l.p99, "max_ms": l.max }))
        .collect();
    std::fs::write(
        out.join("access.json"),
        serde_json::to_string_pretty(&json!({ "size": size.name, "lines": json }))?,
    )?;
    Ok(())
}
