//! The platform's apply lock (issue 10, item 5): a lease in the database that every apply
//! takes, batch or `--parallelism`. A second apply meanwhile is refused at once, naming the
//! holder and since when; a lease not renewed ends by itself; two `serve` processes on one
//! database share the lock. Over SQLite and PostgreSQL.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Ctx, TestServer};
use crate::on_both;

async fn lock_api(s: &TestServer) {
    let other = s.token("system", Some("org_admin"), None).await;
    let tenant = s.token("tenant:acme", Some("user_admin"), None).await;
    crate::common::fixture::load(s).await;
    let free = s.get("/api/v1/apply-lock").await;
    assert_eq!(free.status, StatusCode::OK, "{}", free.text);
    assert_eq!(free.body, json!({ "lock": null }));

    let a = s
        .post(
            "/api/v1/apply-lock",
            json!({ "holder": "ci run 7 (alice)", "ttl_seconds": 60, "change_set": "cs-1" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.body["id"].as_str().expect("id").to_string();
    assert_eq!(a.body["holder"], "ci run 7 (alice)");

    // Another token, another process of the same mind: refused at once, holder named.
    let b = s
        .call(
            Method::POST,
            "/api/v1/apply-lock",
            Some(&tenant),
            Some(&json!({ "holder": "bob@laptop" })),
            &[],
        )
        .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.text);
    assert_eq!(b.body["code"], "apply_locked");
    let message = b.body["message"].as_str().expect("message");
    assert!(
        message.contains("held by `ci run 7 (alice)`") && message.contains(" since "),
        "{message}"
    );
    assert_eq!(b.body["details"]["holder"], "ci run 7 (alice)");

    // Only the taker (or a system token) renews or releases it.
    let path = format!("/api/v1/apply-lock/{id}");
    let r = s
        .call(Method::PUT, &path, Some(&tenant), Some(&json!({})), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = s
        .call(Method::PUT, &path, Some(s.system_token()), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Compared as instants: RFC 3339 text does not sort (`…:05Z` > `…:05.1Z`).
    let instant = |v: &serde_json::Value| {
        let text = v.as_str().expect("expires_at is a string");
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .expect("expires_at is RFC 3339")
    };
    assert!(instant(&r.body["expires_at"]) >= instant(&a.body["expires_at"]));
    let r = s
        .call(
            Method::PUT,
            &path,
            Some(s.system_token()),
            Some(&json!({ "ttl_seconds": 2 })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let status = s.get("/api/v1/apply-lock").await;
    assert_eq!(status.body["lock"]["id"], id.as_str());

    let r = s.delete(&path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = s.delete(&path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(
        s.get("/api/v1/apply-lock").await.body,
        json!({ "lock": null })
    );

    // A lease not renewed ends by itself: a killed client does not hold the lock for ever.
    let short = s
        .call(
            Method::POST,
            "/api/v1/apply-lock",
            Some(&other),
            Some(&json!({ "holder": "killed client", "ttl_seconds": 5 })),
            &[],
        )
        .await;
    assert_eq!(short.status, StatusCode::CREATED, "{}", short.text);
    let taken = Instant::now();
    let refused = s
        .post("/api/v1/apply-lock", json!({ "holder": "next apply" }))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    tokio::time::sleep(
        Duration::from_secs(5).saturating_sub(taken.elapsed()) + Duration::from_millis(300),
    )
    .await;
    let next = s
        .post("/api/v1/apply-lock", json!({ "holder": "next apply" }))
        .await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.text);
    // The expired holder finds its lock gone.
    let late = s
        .call(
            Method::PUT,
            &format!("/api/v1/apply-lock/{}", short.body["id"].as_str().unwrap()),
            Some(&other),
            None,
            &[],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert_eq!(late.body["code"], "apply_lock_lost");

    // Two `serve` processes on one database share the one lock.
    let second = tenantctl::server::start(tenantctl::server::ServerConfig {
        database_url: s.database_url.clone(),
        listen: "127.0.0.1:0".into(),
    })
    .await
    .expect("a second server on the same database");
    let r = s
        .client
        .post(format!("{}/api/v1/apply-lock", second.url()))
        .bearer_auth(s.system_token())
        .json(&json!({ "holder": "other process" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["details"]["holder"], "next apply");
    second.shutdown().await;
}

on_both!(lock_api);

/// Members of a tenant `t`, for a configuration big enough that an apply takes a moment.
fn members(t: &str, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "  user{i}@{t}.example: {{ first_name: U{i}, memberships: {{ {t}: {{ role: member }} }} }}\n"
        ));
    }
    out
}

fn config(tenants: &[&str], extra: &str) -> String {
    let mut s = String::from("plans:\n  basic: { display_name: Basic }\ntenants:\n");
    for t in tenants {
        s.push_str(&format!("  {t}: {{ plan: basic }}\n"));
    }
    s.push_str("users:\n");
    for t in tenants {
        s.push_str(&format!(
            "  admin@{t}.example: {{ memberships: {{ {t}: {{ role: org_admin }} }} }}\n"
        ));
    }
    s.push_str(extra);
    s
}

/// Two `apply --parallelism 4` with no resource in common (the second targets another
/// tenant), at the same time: the second is refused at once, naming the first, and applies
/// nothing.
async fn concurrent_applies(ctx: Ctx) {
    let write = |name: &str, yaml: String| {
        let p = ctx.dir().join(format!("{name}.yaml"));
        std::fs::write(&p, yaml).expect("write");
        p.to_str().expect("utf-8").to_string()
    };
    let base = write("base", config(&["north", "south"], ""));
    let r = ctx.tenantctl(["apply", "--auto-approve", &base]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A: 60 members of north, slowed down so that it is still running when B starts.
    let a = write("a", config(&["north", "south"], &members("north", 60)));
    let b = write("b", config(&["north", "south"], &members("south", 5)));
    let ci = |inv: crate::common::context::Invocation, run: &str, actor: &str| {
        inv.env("GITHUB_REPOSITORY", "acme/platform")
            .env("GITHUB_RUN_ID", run)
            .env("GITHUB_ACTOR", actor)
    };
    let first = tokio::spawn(
        ci(
            ctx.tenantctl([
                "apply",
                "--auto-approve",
                "--parallelism",
                "4",
                "--max-rps",
                "40",
                &a,
            ]),
            "101",
            "alice",
        )
        .into_future(),
    );
    // Wait until A holds the lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let l = ctx.server().get("/api/v1/apply-lock").await;
        if !l.body["lock"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first apply never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let second = ci(
        ctx.tenantctl([
            "apply",
            "--auto-approve",
            "--parallelism",
            "4",
            "--target",
            "tenant/south",
            &b,
        ]),
        "102",
        "bob",
    )
    .await;
    let waited = started.elapsed();
    let first = first.await.expect("join");
    assert_eq!(first.code, 0, "A: {}\n{}", first.stdout, first.stderr);
    assert_eq!(second.code, 1, "B: {}\n{}", second.stdout, second.stderr);
    let message = second.stderr_flat();
    assert!(
        message.contains(
            "the platform's apply lock is held by `github-actions acme/platform run 101 (alice)`"
        ),
        "{message}"
    );
    assert!(message.contains(" since "), "{message}");
    assert!(
        waited < Duration::from_secs(30),
        "refused at once, not after waiting: {waited:?}"
    );
    let live = ctx.live().await;
    assert_eq!(
        live.users
            .keys()
            .filter(|u| u.ends_with("@north.example"))
            .count(),
        61
    );
    assert!(
        !live
            .users
            .keys()
            .any(|u| u.starts_with("user") && u.ends_with("@south.example")),
        "B applied nothing"
    );
    // A released the lock: B goes through now (in batch mode, which takes it too).
    assert!(ctx.server().get("/api/v1/apply-lock").await.body["lock"].is_null());
    let again = ctx
        .tenantctl(["apply", "--auto-approve", "--target", "tenant/south", &b])
        .await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_parallel_apply_is_refused_naming_the_first_sqlite() {
    concurrent_applies(Ctx::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_parallel_apply_is_refused_naming_the_first_postgres() {
    if let Some(ctx) = Ctx::postgres().await {
        concurrent_applies(ctx).await;
    }
}

/// A batch apply holds the lock too: with the lock taken by hand, apply is refused and the
/// message names the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_apply_is_refused_while_another_holds_the_lock() {
    let ctx = Ctx::sqlite().await;
    let held = ctx
        .server()
        .post(
            "/api/v1/apply-lock",
            json!({ "holder": "nightly drift job", "ttl_seconds": 120 }),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED);
    let path = ctx.dir().join("c.yaml");
    std::fs::write(&path, config(&["north"], "")).expect("write");
    let r = ctx
        .tenantctl(["apply", "--auto-approve", path.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let message = r.stderr_flat();
    assert!(
        message.contains("held by `nightly drift job`") && message.contains("nothing was applied"),
        "{message}"
    );
    assert!(ctx.live().await.tenants.is_empty());
    ctx.shutdown().await;
}
