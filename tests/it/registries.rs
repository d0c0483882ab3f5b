//! Registers and records (issue 14, document 001) through the real server, on SQLite and
//! PostgreSQL: the Free plan's limits (5 registers, 20 records) refused with
//! `limit_exceeded`, also under 30 racing creates; `If-Match`, pagination, deletes that
//! refuse to drop data; grants deciding every request as the access decision (`GET
//! /api/v1/access`, which `explain` renders) decides it; the usage of the four limits in
//! `GET /state` and the dashboard.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::TestServer;

const ADMIN: &str = "helene@morel.example";
const BOB: &str = "bob@morel.example"; // member, no workspace of its own
const CAROL: &str = "carol@morel.example"; // billing_admin: reads every workspace
const DAVE: &str = "dave@globex.example"; // another tenant

fn put(kind: &str, key: &str, spec: Value) -> Value {
    json!({ "op": "put", "kind": kind, "key": key, "spec": spec })
}

/// A Free tenant `morel` (1 workspace, 5 registers, 20 records, 2 users) with workspace
/// `siege`, and an Essential tenant `globex`.
async fn free_tenant(s: &TestServer) {
    let ops = vec![
        put(
            "plan",
            "free",
            json!({ "description": "Pour découvrir", "limits": { "workspaces": 1, "registries": 5, "records": 20, "users": 2 } }),
        ),
        put(
            "plan",
            "essential",
            json!({ "limits": { "registries": 50 } }),
        ),
        put("tenant", "morel", json!({ "plan": "free" })),
        put("tenant", "globex", json!({ "plan": "essential" })),
        put("workspace", "morel/siege", json!({})),
        put("workspace", "globex/berlin", json!({})),
        put("user", ADMIN, json!({})),
        put("user", DAVE, json!({})),
        put(
            "membership",
            &format!("{ADMIN}/morel"),
            json!({ "role": "org_admin" }),
        ),
        put(
            "membership",
            &format!("{DAVE}/globex"),
            json!({ "role": "org_admin" }),
        ),
    ];
    let a = s.batch(json!({ "operations": ops })).await;
    assert_eq!(a.status, StatusCode::OK, "setup: {}", a.text);
}

const SIEGE: &str = "/api/v1/tenants/morel/workspaces/siege/registries";

async fn call(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::common::Answer {
    s.call(method, path, Some(token), body.as_ref(), &[]).await
}

async fn usage(s: &TestServer, tenant: &str) -> Value {
    let a = s.get("/api/v1/state").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["usage"][tenant].clone()
}

async fn free_plan_limits(s: &TestServer) {
    free_tenant(s).await;
    let admin = s.token("tenant:morel", None, Some(ADMIN)).await;
    // Five registers, then the sixth is refused, naming the limit, its value and the usage.
    for i in 1..=5 {
        let a = call(
            s,
            &admin,
            Method::POST,
            SIEGE,
            Some(json!({ "key": format!("r{i}"), "name": format!("Registre {i}") })),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "register {i}: {}", a.text);
        assert_eq!(a.body["version"], 1);
        assert_eq!(a.headers["etag"], "\"1\"");
    }
    let a = call(
        s,
        &admin,
        Method::POST,
        SIEGE,
        Some(json!({ "key": "r6", "name": "Registre 6" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.body["code"], "limit_exceeded");
    assert_eq!(
        a.body["details"],
        json!({ "tenant": "morel", "limit": "registries", "value": 5, "usage": 5 })
    );
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("at most 5 registries"),
        "{}",
        a.text
    );
    // A taken key, a malformed one.
    let a = call(
        s,
        &admin,
        Method::POST,
        SIEGE,
        Some(json!({ "key": "r1", "name": "x" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = call(
        s,
        &admin,
        Method::POST,
        SIEGE,
        Some(json!({ "key": "Bad Key", "name": "x" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "invalid_key");

    // Twenty records, then the twenty-first is refused.
    let records = format!("{SIEGE}/r1/records");
    let mut ids = Vec::new();
    for i in 1..=20 {
        let a = call(
            s,
            &admin,
            Method::POST,
            &records,
            Some(json!({ "title": format!("Fiche {i}"), "fields": { "n": i } })),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "record {i}: {}", a.text);
        ids.push(a.body["id"].as_str().unwrap().to_string());
    }
    let a = call(
        s,
        &admin,
        Method::POST,
        &format!("{SIEGE}/r2/records"),
        Some(json!({ "title": "Fiche 21" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(
        a.body["details"],
        json!({ "tenant": "morel", "limit": "records", "value": 20, "usage": 20 })
    );
    assert_eq!(
        usage(s, "morel").await,
        json!({ "users": 1, "workspaces": 1, "registries": 5, "records": 20 })
    );

    // Pages in creation order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{records}?limit=7&cursor={c}"),
            None => format!("{records}?limit=7"),
        };
        let a = call(s, &admin, Method::GET, &path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        for r in a.body["items"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every record once, in creation order");
    for bad in [
        format!("{records}?cursor=%00"),
        format!("{SIEGE}?cursor=Not%20a%20key"),
    ] {
        let a = call(s, &admin, Method::GET, &bad, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text);
        assert_eq!(a.body["code"], "invalid_pagination");
    }
    let a = call(s, &admin, Method::GET, &format!("{SIEGE}?limit=2"), None).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(a.body["next_cursor"], "r2");

    // Updates with If-Match: the right version, then a stale one (412).
    let one = format!("{records}/{}", ids[0]);
    let a = s
        .call(
            Method::PUT,
            &one,
            Some(&admin),
            Some(&json!({ "title": "Fiche 1 bis", "fields": { "n": 1, "ok": true } })),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["version"], 2);
    assert_eq!(a.body["fields"]["ok"], true);
    let a = s
        .call(
            Method::PUT,
            &one,
            Some(&admin),
            Some(&json!({ "title": "Fiche 1 ter" })),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{}", a.text);
    assert_eq!(a.body["code"], "stale_version");
    let a = s
        .call(
            Method::PUT,
            &format!("{SIEGE}/r1"),
            Some(&admin),
            Some(&json!({ "name": "Registre du personnel" })),
            &[("if-match", "\"7\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{}", a.text);
    let a = call(s, &admin, Method::GET, &one, None).await;
    assert_eq!(
        (a.body["title"].as_str(), a.body["version"].as_i64()),
        (Some("Fiche 1 bis"), Some(2))
    );

    // A deleted record frees its place under the limit.
    let a = s
        .call(
            Method::DELETE,
            &one,
            Some(&admin),
            None,
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = call(s, &admin, Method::GET, &one, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(
        s,
        &admin,
        Method::POST,
        &format!("{SIEGE}/r2/records"),
        Some(json!({ "title": "Fiche 21" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);

    // A register that holds records, and the workspace, are not deleted without cascade.
    let a = call(s, &admin, Method::DELETE, &format!("{SIEGE}/r1"), None).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.body["code"], "registry_not_empty");
    let a = s.delete("/api/v1/tenants/morel/workspaces/siege").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.body["code"], "workspace_not_empty");
    assert_eq!(a.body["details"]["registries"], 5);
    assert_eq!(a.body["details"]["records"], 20);
    let a = s.delete("/api/v1/tenants/morel").await;
    assert_eq!(
        a.body["code"], "workspace_not_empty",
        "a tenant's workspaces too: {}",
        a.text
    );
    let a = call(
        s,
        &admin,
        Method::DELETE,
        &format!("{SIEGE}/r1?cascade=true"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(usage(s, "morel").await["records"], 1);
    let a = s
        .delete("/api/v1/tenants/morel/workspaces/siege?cascade=true")
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(
        usage(s, "morel").await,
        json!({ "users": 1, "workspaces": 0, "registries": 0, "records": 0 })
    );
    let a = call(s, &admin, Method::GET, SIEGE, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
}

/// 30 creates race for the 20 records of the Free plan: exactly 20 get in.
async fn racing_creates(s: &TestServer) {
    free_tenant(s).await;
    let a = s
        .post(
            SIEGE,
            json!({ "key": "courrier", "name": "Registre du courrier" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let records = format!("{}{SIEGE}/courrier/records", s.url());
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (client, url, token) = (
                s.client.clone(),
                records.clone(),
                s.system_token().to_string(),
            );
            tokio::spawn(async move {
                let r = client
                    .post(&url)
                    .bearer_auth(token)
                    .json(&json!({ "title": format!("Fiche {i}") }))
                    .send()
                    .await
                    .expect("sent");
                let status = r.status();
                (status, r.text().await.unwrap_or_default())
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, text) = t.await.expect("task");
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT if text.contains("limit_exceeded") => refused += 1,
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert_eq!((created, refused), (20, 10));
    let a = s.get(&format!("{SIEGE}/courrier/records?limit=100")).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 20);
    assert_eq!(usage(s, "morel").await["records"], 20);
}

/// Grants on a workspace decide every request on its registers and records as the access
/// decision decides `read`, `create`, `update` and `delete` there.
async fn grants_decide(s: &TestServer) {
    let ops = vec![
        put("plan", "essential", json!({})),
        put("tenant", "morel", json!({ "plan": "essential" })),
        put("tenant", "globex", json!({ "plan": "essential" })),
        put("workspace", "morel/siege", json!({})),
        put("workspace", "morel/atelier", json!({})),
        put("workspace", "globex/berlin", json!({})),
        put("user", ADMIN, json!({})),
        put("user", BOB, json!({})),
        put("user", CAROL, json!({})),
        put("user", DAVE, json!({})),
        put(
            "membership",
            &format!("{ADMIN}/morel"),
            json!({ "role": "org_admin" }),
        ),
        put(
            "membership",
            &format!("{BOB}/morel"),
            json!({ "role": "member", "workspaces": [] }),
        ),
        put(
            "membership",
            &format!("{CAROL}/morel"),
            json!({ "role": "billing_admin" }),
        ),
        put(
            "membership",
            &format!("{DAVE}/globex"),
            json!({ "role": "org_admin" }),
        ),
        // 001: "Rôle entier" and "Client entier".
        put(
            "grant",
            "morel/siege/role:member",
            json!({ "actions": ["read"] }),
        ),
        put(
            "grant",
            "morel/atelier/tenant",
            json!({ "actions": ["read", "update", "create"] }),
        ),
    ];
    let a = s.batch(json!({ "operations": ops })).await;
    assert_eq!(a.status, StatusCode::OK, "setup: {}", a.text);
    let mut ids = std::collections::HashMap::new();
    for w in ["siege", "atelier"] {
        let base = format!("/api/v1/tenants/morel/workspaces/{w}/registries");
        let a = s
            .post(&base, json!({ "key": "rgpd", "name": "Traitements RGPD" }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        let a = s
            .post(&format!("{base}/rgpd/records"), json!({ "title": "Paie" }))
            .await;
        ids.insert(w, a.body["id"].as_str().unwrap().to_string());
    }

    // Bob (a member seeing no workspace) lists and reads siege's records thanks to the grant
    // to his role, and changes nothing; Carol reads through her role.
    let bob = s.token("tenant:morel", None, Some(BOB)).await;
    let carol = s.token("tenant:morel", None, Some(CAROL)).await;
    let siege = "/api/v1/tenants/morel/workspaces/siege/registries/rgpd/records";
    let a = call(s, &bob, Method::GET, siege, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    let one = format!("{siege}/{}", ids["siege"]);
    for (method, body) in [
        (Method::PUT, Some(json!({ "title": "x" }))),
        (Method::DELETE, None),
    ] {
        let a = call(s, &bob, method, &one, body).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    }
    let a = call(s, &bob, Method::POST, siege, Some(json!({ "title": "x" }))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    // The whole tenant may read, update and create in atelier: every member.
    let atelier = "/api/v1/tenants/morel/workspaces/atelier/registries/rgpd/records";
    for (who, token) in [(BOB, &bob), (CAROL, &carol)] {
        let a = call(
            s,
            token,
            Method::POST,
            atelier,
            Some(json!({ "title": format!("par {who}") })),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{who}: {}", a.text);
        let a = call(
            s,
            token,
            Method::PUT,
            &format!("{atelier}/{}", ids["atelier"]),
            Some(json!({ "title": format!("revu par {who}") })),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{who}: {}", a.text);
        let a = call(
            s,
            token,
            Method::DELETE,
            &format!("{atelier}/{}", ids["atelier"]),
            None,
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{who} may not delete: {}",
            a.text
        );
    }
    // A session of Bob (signed in with his password) is decided as his token is.
    crate::sessions::activate(s, BOB, "correct horse battery").await;
    let a = s
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(&json!({ "email": BOB, "password": "correct horse battery", "tenant": "morel" })),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let session = a.body["token"].as_str().unwrap().to_string();
    let a = call(s, &session, Method::GET, siege, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = call(
        s,
        &session,
        Method::POST,
        siege,
        Some(json!({ "title": "x" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    let a = call(
        s,
        &session,
        Method::POST,
        atelier,
        Some(json!({ "title": "par session" })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // Another tenant's user sees nothing of morel.
    let dave = s.token("tenant:globex", None, Some(DAVE)).await;
    let a = call(s, &dave, Method::GET, siege, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);

    // Every request is decided as the access decision decides the grant action there, with
    // its words in the refusal.
    let mut cases = 0;
    for (user, token) in [(BOB, &bob), (CAROL, &carol)] {
        for w in ["siege", "atelier"] {
            let base = format!("/api/v1/tenants/morel/workspaces/{w}/registries");
            for action in ["read", "create", "update", "delete"] {
                let q = s
                    .get(&format!(
                        "/api/v1/access?user={user}&tenant=morel&workspace={w}&permission={action}"
                    ))
                    .await;
                assert_eq!(q.status, StatusCode::OK, "{}", q.text);
                let (method, path, body) = match action {
                    "read" => (Method::GET, format!("{base}/rgpd"), None),
                    "create" => (
                        Method::POST,
                        base.clone(),
                        Some(json!({ "key": format!("n-{cases}"), "name": "n" })),
                    ),
                    "update" => (
                        Method::PUT,
                        format!("{base}/rgpd"),
                        Some(json!({ "name": "Traitements" })),
                    ),
                    _ => (Method::DELETE, format!("{base}/nothing-here"), None),
                };
                let a = call(s, token, method, &path, body).await;
                let allowed = q.body["allowed"].as_bool().unwrap();
                assert_eq!(
                    a.status != StatusCode::FORBIDDEN,
                    allowed,
                    "{user} {action} on {w}: {} / {}",
                    a.text,
                    q.body["verdict"]
                );
                if !allowed {
                    let verdict = q.body["verdict"].as_str().unwrap();
                    assert!(
                        a.body["message"]
                            .as_str()
                            .unwrap()
                            .ends_with(verdict.trim_start_matches("denied: ")),
                        "{} / {verdict}",
                        a.text
                    );
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 16);
}

/// The dashboard shows the four usages with their effective limits.
async fn dashboard_usage(s: &TestServer) {
    free_tenant(s).await;
    s.post(SIEGE, json!({ "key": "r1", "name": "R1" })).await;
    s.post(&format!("{SIEGE}/r1/records"), json!({ "title": "F" }))
        .await;
    let a = s.get("/api/v1/dashboard").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let morel = a.body["plan_usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["tenant"] == "morel")
        .cloned()
        .unwrap();
    assert_eq!(morel["users"], json!({ "used": 1, "limit": 2 }));
    assert_eq!(morel["workspaces"], json!({ "used": 1, "limit": 1 }));
    assert_eq!(morel["registries"], json!({ "used": 1, "limit": 5 }));
    assert_eq!(morel["records"], json!({ "used": 1, "limit": 20 }));
    // A tenant token sees its own usage in the state.
    let admin = s.token("tenant:morel", None, Some(ADMIN)).await;
    let a = call(s, &admin, Method::GET, "/api/v1/state", None).await;
    assert_eq!(
        a.body["usage"],
        json!({ "morel": { "users": 1, "workspaces": 1, "registries": 1, "records": 1 } })
    );
    // Lowering a limit below the data held is refused unless the batch accepts it.
    let lower = json!({ "operations": [put("tenant", "morel", json!({ "plan": "free", "limits": { "records": 0 } }))] });
    let a = s.batch(lower.clone()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["details"]["violations"][0]["code"], "limit_exceeded");
    assert_eq!(
        a.body["details"]["violations"][0]["field"],
        "limits/records"
    );
    let mut accepted = lower;
    accepted["allow_limit_below_usage"] = json!(true);
    let a = s.batch(accepted).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = s
        .post(&format!("{SIEGE}/r1/records"), json!({ "title": "G" }))
        .await;
    assert_eq!(
        a.body["details"],
        json!({ "tenant": "morel", "limit": "records", "value": 0, "usage": 1 })
    );
}

crate::on_both!(
    free_plan_limits,
    racing_creates,
    grants_decide,
    dashboard_usage
);
