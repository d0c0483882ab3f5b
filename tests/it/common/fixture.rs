//! A small platform used by the server tests: two tenants, a few users in each, one user in
//! both, workspaces, grants and model grants. Built with one batch from the system token.

use serde_json::{json, Value};

pub const ALICE: &str = "alice@acme.example"; // org_admin of acme
pub const CAROL: &str = "carol@acme.example"; // org_admin of acme
pub const BOB: &str = "bob@acme.example"; // member of acme (paris)
pub const FRANK: &str = "frank@acme.example"; // member of acme
pub const ERIN: &str = "erin@both.example"; // member of acme and globex
pub const DAVE: &str = "dave@globex.example"; // the only org_admin of globex

fn put(kind: &str, key: &str, spec: Value) -> Value {
    json!({ "op": "put", "kind": kind, "key": key, "spec": spec })
}

/// The operations of the fixture.
pub fn operations() -> Vec<Value> {
    vec![
        put(
            "plan",
            "essential",
            json!({ "display_name": "Essentiel", "limits": { "workspaces": 10, "users": 10 } }),
        ),
        put("plan", "premium", json!({ "display_name": "Premium" })),
        put(
            "plan",
            "free",
            json!({ "limits": { "workspaces": 1, "users": 2 } }),
        ),
        put("model", "m1", json!({ "deployment_id": "cd-1" })),
        put(
            "role",
            "contributor",
            json!({ "display_name": "Contributeur", "workspaces": "selected", "permissions": [] }),
        ),
        put(
            "tenant",
            "acme",
            json!({ "display_name": "Acme SAS", "plan": "essential" }),
        ),
        put(
            "tenant",
            "globex",
            json!({ "display_name": "Globex", "plan": "essential" }),
        ),
        put(
            "workspace",
            "acme/paris",
            json!({ "display_name": "Paris" }),
        ),
        put("workspace", "acme/lyon", json!({})),
        put("workspace", "globex/berlin", json!({})),
        put("tenant_model", "acme/m1", json!({ "admin_only": false })),
        put(
            "user",
            ALICE,
            json!({ "first_name": "Alice", "last_name": "Martin", "language": "fr" }),
        ),
        put("user", CAROL, json!({ "first_name": "Carol" })),
        put("user", BOB, json!({ "first_name": "Bob" })),
        put("user", FRANK, json!({ "first_name": "Frank" })),
        put("user", ERIN, json!({ "first_name": "Erin" })),
        put("user", DAVE, json!({ "first_name": "Dave" })),
        put(
            "membership",
            &format!("{ALICE}/acme"),
            json!({ "role": "org_admin" }),
        ),
        put(
            "membership",
            &format!("{CAROL}/acme"),
            json!({ "role": "org_admin" }),
        ),
        put(
            "membership",
            &format!("{BOB}/acme"),
            json!({ "role": "member", "workspaces": ["paris"] }),
        ),
        put(
            "membership",
            &format!("{FRANK}/acme"),
            json!({ "role": "member" }),
        ),
        put(
            "membership",
            &format!("{ERIN}/acme"),
            json!({ "role": "contributor", "workspaces": ["paris", "lyon"] }),
        ),
        put(
            "membership",
            &format!("{ERIN}/globex"),
            json!({ "role": "member" }),
        ),
        put(
            "membership",
            &format!("{DAVE}/globex"),
            json!({ "role": "org_admin" }),
        ),
        put(
            "grant",
            &format!("acme/paris/user:{BOB}"),
            json!({ "actions": ["read", "update"] }),
        ),
        put(
            "grant",
            "acme/paris/role:contributor",
            json!({ "actions": ["read"] }),
        ),
        put("grant", "acme/lyon/tenant", json!({ "actions": ["read"] })),
        put(
            "user_model",
            &format!("{BOB}/m1"),
            json!({ "access": "allow" }),
        ),
    ]
}

/// Loads the fixture into `s`; panics if the platform refuses it.
pub async fn load(s: &super::TestServer) {
    let a = s.batch(json!({ "operations": operations() })).await;
    assert_eq!(a.status, reqwest::StatusCode::OK, "fixture: {}", a.text);
}
