//! The access matrix of PRODUCT.md §2 rule 10, cell by cell: for each scope × role
//! (system, and tenant:acme as org_admin, user_admin, billing_admin, member: a token with a
//! built-in role and no user) and each action, the status the platform answers. Each role
//! runs on its own fresh platform so the cells do not depend on one another. Over SQLite
//! and PostgreSQL. The roles hold what document 003 gives them (`access_003` walks its
//! table with users); anything of another tenant is hidden (404) from every tenant token.

use crate::common::fixture::{self, ALICE, BOB, CAROL, DAVE, ERIN, FRANK};
use crate::common::TestServer;
use crate::on_both;
use reqwest::Method;
use serde_json::{json, Value};

/// The columns of the matrix.
const ROLES: [&str; 5] = [
    "system",
    "org_admin",
    "user_admin",
    "billing_admin",
    "member",
];

struct Cell {
    what: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    /// Expected status for system, org_admin, user_admin, billing_admin, member.
    expect: [u16; 5],
}

fn cell(
    what: &'static str,
    method: Method,
    path: impl Into<String>,
    body: Option<Value>,
    expect: [u16; 5],
) -> Cell {
    Cell {
        what,
        method,
        path: path.into(),
        body,
        expect,
    }
}

fn spec(v: Value) -> Option<Value> {
    Some(json!({ "spec": v }))
}

fn batch(ops: Value) -> Option<Value> {
    Some(json!({ "operations": ops }))
}

fn matrix() -> Vec<Cell> {
    use Method as M;
    vec![
        // Reads.
        cell(
            "read the state",
            M::GET,
            "/api/v1/state",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "read own tenant",
            M::GET,
            "/api/v1/tenants/acme",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "read another tenant",
            M::GET,
            "/api/v1/tenants/globex",
            None,
            [200, 404, 404, 404, 404],
        ),
        cell(
            "read a plan",
            M::GET,
            "/api/v1/plans/essential",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "read own workspace",
            M::GET,
            "/api/v1/tenants/acme/workspaces/paris",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "read another tenant's workspace",
            M::GET,
            "/api/v1/tenants/globex/workspaces/berlin",
            None,
            [200, 404, 404, 404, 404],
        ),
        cell(
            "read own grant",
            M::GET,
            "/api/v1/tenants/acme/workspaces/lyon/grants/tenant",
            None,
            [200, 200, 200, 403, 403],
        ),
        cell(
            "read own tenant model",
            M::GET,
            "/api/v1/tenants/acme/models/m1",
            None,
            [200, 200, 200, 403, 403],
        ),
        cell(
            "read a member's user model",
            M::GET,
            format!("/api/v1/users/{BOB}/models/m1"),
            None,
            [200, 200, 200, 403, 403],
        ),
        cell(
            "read a member",
            M::GET,
            format!("/api/v1/users/{BOB}"),
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "read a non-member",
            M::GET,
            format!("/api/v1/users/{DAVE}"),
            None,
            [200, 404, 404, 404, 404],
        ),
        cell(
            "read own membership",
            M::GET,
            format!("/api/v1/users/{BOB}/memberships/acme"),
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "read another tenant's membership",
            M::GET,
            format!("/api/v1/users/{DAVE}/memberships/globex"),
            None,
            [200, 404, 404, 404, 404],
        ),
        cell(
            "list users",
            M::GET,
            "/api/v1/users",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "users CSV",
            M::GET,
            "/api/v1/exports/users.csv",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "dashboard",
            M::GET,
            "/api/v1/dashboard",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "audit",
            M::GET,
            "/api/v1/audit",
            None,
            [200, 200, 200, 200, 403],
        ),
        cell(
            "whoami",
            M::GET,
            "/api/v1/whoami",
            None,
            [200, 200, 200, 200, 200],
        ),
        // Platform catalog: system only.
        cell(
            "create a plan",
            M::PUT,
            "/api/v1/plans/gold",
            spec(json!({})),
            [201, 403, 403, 403, 403],
        ),
        cell(
            "create a model",
            M::PUT,
            "/api/v1/models/m2",
            spec(json!({ "deployment_id": "cd-2" })),
            [201, 403, 403, 403, 403],
        ),
        cell(
            "create a role",
            M::PUT,
            "/api/v1/roles/auditor",
            spec(json!({})),
            [201, 403, 403, 403, 403],
        ),
        cell(
            "change own tenant's model",
            M::PUT,
            "/api/v1/tenants/acme/models/m1",
            spec(json!({ "admin_only": true })),
            [200, 403, 403, 403, 403],
        ),
        cell(
            "grant a model to another tenant",
            M::PUT,
            "/api/v1/tenants/globex/models/m1",
            spec(json!({})),
            [201, 404, 404, 404, 404],
        ),
        cell(
            "create a token",
            M::POST,
            "/api/v1/tokens",
            Some(json!({ "scope": "tenant:acme", "role": "member" })),
            [201, 403, 403, 403, 403],
        ),
        // Tenants.
        cell(
            "rename own tenant",
            M::PUT,
            "/api/v1/tenants/acme",
            spec(json!({ "display_name": "Acme Group", "plan": "essential" })),
            [200, 200, 403, 403, 403],
        ),
        cell(
            "change own tenant's plan",
            M::PUT,
            "/api/v1/tenants/acme",
            spec(json!({ "display_name": "Acme SAS", "plan": "premium" })),
            [200, 200, 403, 200, 403],
        ),
        cell(
            "change own tenant's limits",
            M::PUT,
            "/api/v1/tenants/acme",
            spec(
                json!({ "display_name": "Acme SAS", "plan": "essential", "limits": { "users": 9 } }),
            ),
            [200, 403, 403, 403, 403],
        ),
        cell(
            "create a tenant",
            M::PUT,
            "/api/v1/tenants/newco",
            spec(json!({ "plan": "essential" })),
            [201, 404, 404, 404, 404],
        ),
        cell(
            "change another tenant",
            M::PUT,
            "/api/v1/tenants/globex",
            spec(json!({ "plan": "essential" })),
            [200, 404, 404, 404, 404],
        ),
        // Workspaces and grants.
        cell(
            "create own workspace",
            M::PUT,
            "/api/v1/tenants/acme/workspaces/nice",
            spec(json!({})),
            [201, 201, 201, 403, 403],
        ),
        cell(
            "create a workspace elsewhere",
            M::PUT,
            "/api/v1/tenants/globex/workspaces/nice",
            spec(json!({})),
            [201, 404, 404, 404, 404],
        ),
        cell(
            "grant on own workspace",
            M::PUT,
            "/api/v1/tenants/acme/workspaces/paris/grants/tenant",
            spec(json!({ "actions": ["read"] })),
            [201, 201, 201, 403, 403],
        ),
        // Members.
        cell(
            "add a member (new user)",
            M::POST,
            "/api/v1/batch",
            batch(json!([
                { "op": "put", "kind": "user", "key": "new@acme.example", "spec": {} },
                { "op": "put", "kind": "membership", "key": "new@acme.example/acme", "spec": { "role": "member" } }
            ])),
            [200, 200, 200, 403, 403],
        ),
        cell(
            "add an org_admin (new user)",
            M::POST,
            "/api/v1/batch",
            batch(json!([
                { "op": "put", "kind": "user", "key": "boss@acme.example", "spec": {} },
                { "op": "put", "kind": "membership", "key": "boss@acme.example/acme", "spec": { "role": "org_admin" } }
            ])),
            [200, 200, 403, 403, 403],
        ),
        cell(
            "create a user outside the tenant",
            M::POST,
            "/api/v1/batch",
            batch(json!([{ "op": "put", "kind": "user", "key": "lone@else.example", "spec": {} }])),
            [200, 403, 403, 403, 403],
        ),
        cell(
            "add an existing user as member",
            M::PUT,
            format!("/api/v1/users/{DAVE}/memberships/acme"),
            spec(json!({ "role": "member" })),
            [201, 201, 201, 403, 403],
        ),
        cell(
            "promote a member",
            M::PUT,
            format!("/api/v1/users/{BOB}/memberships/acme"),
            spec(json!({ "role": "org_admin" })),
            [200, 200, 403, 403, 403],
        ),
        cell(
            "change a member's workspaces",
            M::PUT,
            format!("/api/v1/users/{FRANK}/memberships/acme"),
            spec(json!({ "role": "member", "workspaces": ["lyon"] })),
            [200, 200, 200, 403, 403],
        ),
        cell(
            "demote an org_admin",
            M::PUT,
            format!("/api/v1/users/{CAROL}/memberships/acme"),
            spec(json!({ "role": "member" })),
            [200, 200, 403, 403, 403],
        ),
        // Users.
        cell(
            "update a user of the tenant only",
            M::PUT,
            format!("/api/v1/users/{ALICE}"),
            spec(json!({ "first_name": "Alicia" })),
            [200, 200, 403, 403, 403],
        ),
        cell(
            "update a user of several tenants",
            M::PUT,
            format!("/api/v1/users/{ERIN}"),
            spec(json!({ "first_name": "Erine" })),
            [200, 403, 403, 403, 403],
        ),
        cell(
            "make a user super admin",
            M::PUT,
            format!("/api/v1/users/{BOB}"),
            spec(json!({ "system_role": "super_admin" })),
            [200, 403, 403, 403, 403],
        ),
        cell(
            "block a user",
            M::POST,
            format!("/api/v1/users/{BOB}/block"),
            None,
            [200, 200, 403, 403, 403],
        ),
        cell(
            "password reset",
            M::POST,
            format!("/api/v1/users/{BOB}/password-reset"),
            None,
            [201, 201, 201, 403, 403],
        ),
        cell(
            "model grant to a user",
            M::PUT,
            format!("/api/v1/users/{BOB}/models/m1"),
            spec(json!({ "access": "deny" })),
            [200, 200, 403, 403, 403],
        ),
        // Invitations.
        cell(
            "invite members",
            M::POST,
            "/api/v1/invitations",
            Some(json!({ "emails": ["i1@new.example"], "tenant": "acme", "role": "member" })),
            [201, 201, 201, 403, 403],
        ),
        cell(
            "invite org_admins",
            M::POST,
            "/api/v1/invitations",
            Some(json!({ "emails": ["i2@new.example"], "tenant": "acme", "role": "org_admin" })),
            [201, 201, 403, 403, 403],
        ),
        cell(
            "invite into another tenant",
            M::POST,
            "/api/v1/invitations",
            Some(json!({ "emails": ["i3@new.example"], "tenant": "globex", "role": "member" })),
            [201, 404, 404, 404, 404],
        ),
        cell(
            "list invitations",
            M::GET,
            "/api/v1/invitations",
            None,
            [200, 200, 200, 200, 403],
        ),
        // Destructive cells last.
        cell(
            "remove a member",
            M::DELETE,
            format!("/api/v1/users/{FRANK}/memberships/acme"),
            None,
            [204, 204, 204, 403, 403],
        ),
        cell(
            "remove a non-member role",
            M::DELETE,
            format!("/api/v1/users/{ERIN}/memberships/acme"),
            None,
            [204, 204, 403, 403, 403],
        ),
        cell(
            "remove from another tenant",
            M::DELETE,
            format!("/api/v1/users/{ERIN}/memberships/globex"),
            None,
            [204, 404, 404, 404, 404],
        ),
        cell(
            "delete own tenant",
            M::DELETE,
            "/api/v1/tenants/acme",
            None,
            [204, 204, 403, 403, 403],
        ),
    ]
}

async fn run_role(s: &TestServer, column: usize) {
    fixture::load(s).await;
    let role = ROLES[column];
    let token = if role == "system" {
        s.system_token().to_string()
    } else {
        s.token("tenant:acme", Some(role), None).await
    };
    let mut failures = Vec::new();
    for c in matrix() {
        let a = s
            .call(
                c.method.clone(),
                &c.path,
                Some(&token),
                c.body.as_ref(),
                &[],
            )
            .await;
        let want = c.expect[column];
        if a.status.as_u16() != want {
            failures.push(format!(
                "{role} × {}: {} {} → {} (expected {want}): {}",
                c.what,
                c.method,
                c.path,
                a.status.as_u16(),
                a.text
            ));
        }
        if a.status.is_client_error() {
            assert!(
                a.body["code"].is_string(),
                "{}: error without a code: {}",
                c.what,
                a.text
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} cell(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn system(s: &TestServer) {
    run_role(s, 0).await
}
async fn org_admin(s: &TestServer) {
    run_role(s, 1).await
}
async fn user_admin(s: &TestServer) {
    run_role(s, 2).await
}
async fn billing_admin(s: &TestServer) {
    run_role(s, 3).await
}
async fn member(s: &TestServer) {
    run_role(s, 4).await
}

/// What a tenant token's GET /state holds: its tenant only, never another's.
async fn state_is_filtered(s: &TestServer) {
    fixture::load(s).await;
    for role in ["org_admin", "user_admin", "billing_admin"] {
        let t = s.token("tenant:acme", Some(role), None).await;
        let a = s
            .call(Method::GET, "/api/v1/state", Some(&t), None, &[])
            .await;
        let st = &a.body;
        assert_eq!(
            st["tenants"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            vec!["acme"],
            "{role}"
        );
        assert!(
            st["memberships"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| k.ends_with("/acme")),
            "{role}"
        );
        assert!(
            !st["users"].as_object().unwrap().contains_key(DAVE),
            "{role}"
        );
        assert!(
            st["users"].as_object().unwrap().contains_key(ERIN),
            "{role}"
        );
        assert!(
            st["workspaces"]
                .as_object()
                .is_none_or(|w| w.keys().all(|k| k.starts_with("acme/"))),
            "{role}"
        );
        assert!(st["revision"].as_i64().unwrap() > 0);
        // A list does not leak either.
        let a = s
            .call(
                Method::GET,
                "/api/v1/memberships?limit=1000",
                Some(&t),
                None,
                &[],
            )
            .await;
        assert!(
            a.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["key"].as_str().unwrap().ends_with("/acme")),
            "{role}"
        );
    }
}

on_both!(
    system,
    org_admin,
    user_admin,
    billing_admin,
    member,
    state_is_filtered
);
