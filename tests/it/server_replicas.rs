//! Several `serve` processes over one database (issue 15): a second server catches up with
//! the first by the change log — creates, updates, deletes and their cascades — or by a full
//! reload when the log does not reach back to its revision; on PostgreSQL it learns of the
//! other's write by notification, before any request reaches it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantctl::server::engine::{self, Engine};
use tenantctl::server::store::Db;
use tenantctl::server::{start, RunningServer, ServerConfig};

use crate::common::{fixture, TestServer};

async fn state_of(url: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{url}/api/v1/state"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn second(a: &TestServer) -> RunningServer {
    start(ServerConfig {
        database_url: a.database_url.clone(),
        listen: "127.0.0.1:0".into(),
    })
    .await
    .unwrap()
}

/// Runs one SQL statement on the database of `a`.
async fn exec(a: &TestServer, sql: &'static str) {
    if a.database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&a.database_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&a.database_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn replicas_catch_up_by_the_change(a: &TestServer) {
    fixture::load(a).await;
    let b = second(a).await;
    let tok = a.system_token().to_string();
    assert_eq!(
        state_of(&a.url(), &tok).await,
        state_of(&b.url(), &tok).await
    );
    // Creates, updates and a delete that cascades, on A.
    let r = a
        .batch(json!({ "operations": [
            { "op": "put", "kind": "tenant", "key": "initech", "spec": { "plan": "premium" } },
            { "op": "put", "kind": "workspace", "key": "initech/austin", "spec": {} },
            { "op": "put", "kind": "user", "key": "peter@initech.example", "spec": { "first_name": "Peter" } },
            { "op": "put", "kind": "membership", "key": "peter@initech.example/initech", "spec": { "role": "org_admin", "workspaces": ["austin"] } },
        ] }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        a.put(
            "/api/v1/plans/premium",
            json!({ "display_name": "Premium+" })
        )
        .await
        .status,
        200
    );
    assert_eq!(
        a.delete("/api/v1/tenants/initech/workspaces/austin")
            .await
            .status,
        204
    );
    assert_eq!(a.delete("/api/v1/tenants/globex").await.status, 204);
    let sa = state_of(&a.url(), &tok).await;
    let sb = state_of(&b.url(), &tok).await;
    assert_eq!(sa, sb, "B applied A's changes");
    // The membership lost its only workspace (an empty list is not serialised).
    assert_eq!(
        sb["memberships"]["peter@initech.example/initech"]["spec"],
        json!({ "role": "org_admin" })
    );
    assert!(sb["tenants"].get("globex").is_none());
    // A write on B; A catches up in turn, and its next write builds on it.
    let rb = reqwest::Client::new()
        .put(format!("{}/api/v1/users/peter@initech.example", b.url()))
        .bearer_auth(&tok)
        .json(&json!({ "spec": { "first_name": "Pete" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(rb.status(), 200);
    let u = a.get("/api/v1/users/peter@initech.example").await;
    assert_eq!(u.body["spec"]["first_name"], "Pete");
    assert_eq!(u.body["version"], 2);
    // The rules B checks are those of the state A left: a write breaking one is refused.
    let refused = reqwest::Client::new()
        .delete(format!(
            "{}/api/v1/users/peter@initech.example/memberships/initech",
            b.url()
        ))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422, "the last org_admin of initech");
    // A log that does not reach back to B's revision: B reloads the whole state.
    exec(a, "UPDATE meta SET changes_since = revision + 1").await;
    assert_eq!(
        a.put("/api/v1/plans/free", json!({ "display_name": "Gratuit" }))
            .await
            .status,
        200
    );
    assert_eq!(
        state_of(&a.url(), &tok).await,
        state_of(&b.url(), &tok).await
    );
    b.shutdown().await;
}

crate::on_both!(replicas_catch_up_by_the_change);

/// On PostgreSQL a second engine learns of a write by notification: its revision moves with
/// no request made to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_announced_to_the_other_processes() {
    let Some(a) = TestServer::postgres().await else {
        return;
    };
    let db = Db::connect(&a.database_url).await.unwrap();
    let b = std::sync::Arc::new(Engine::load(db).await.unwrap());
    let listener = engine::listen(&b).expect("a listener on PostgreSQL");
    // Let the listener subscribe before the write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = b.revision();
    assert_eq!(
        a.put("/api/v1/plans/announced", json!({})).await.status,
        201
    );
    let started = Instant::now();
    while b.revision() == before {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no notification reached B"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.revision(), before + 1);
    let seen = b.read(|s| s.plans.contains_key("announced")).await.unwrap();
    assert!(seen);
    listener.abort();
    let _ = listener.await;
    b.db.close().await;
    a.shutdown().await;
}
