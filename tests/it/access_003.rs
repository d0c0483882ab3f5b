//! The five cells of document 003's capability table where the platform once disagreed
//! with the document, one test each, named after the document's row, with users of the
//! built-in roles acting through tokens created with `user` (and no role of their own).
//! `access_matrix` walks the whole table. Over SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::fixture::{self, ALICE, ERIN, FRANK};
use crate::common::TestServer;
use crate::on_both;

const UMA: &str = "uma@acme.example"; // user_admin of acme
const BILL: &str = "bill@acme.example"; // billing_admin of acme

/// The fixture, a user admin and a billing admin of acme; a token acting as `user`.
async fn setup(s: &TestServer, user: &str) -> String {
    fixture::load(s).await;
    let mut ops = Vec::new();
    for (u, role) in [(UMA, "user_admin"), (BILL, "billing_admin")] {
        ops.push(json!({ "op": "put", "kind": "user", "key": u, "spec": {} }));
        ops.push(json!({ "op": "put", "kind": "membership", "key": format!("{u}/acme"), "spec": { "role": role } }));
    }
    let a = s.batch(json!({ "operations": ops })).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    s.token("tenant:acme", None, Some(user)).await
}

async fn call(
    s: &TestServer,
    token: &str,
    m: Method,
    path: &str,
    body: Option<Value>,
) -> crate::common::Answer {
    s.call(m, path, Some(token), body.as_ref(), &[]).await
}

/// « L'administrateur (utilisateurs) … ✅ Gérer tous les espaces de travail ».
async fn a_user_admin_manages_all_workspaces(s: &TestServer) {
    let t = setup(s, UMA).await;
    let a = call(
        s,
        &t,
        Method::PUT,
        "/api/v1/tenants/acme/workspaces/nice",
        Some(json!({ "spec": { "display_name": "Nice" } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = call(
        s,
        &t,
        Method::PUT,
        "/api/v1/tenants/acme/workspaces/paris",
        Some(json!({ "spec": { "display_name": "Paris centre" } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = call(
        s,
        &t,
        Method::DELETE,
        "/api/v1/tenants/acme/workspaces/nice",
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
}

/// « Modifier les espaces de travail assignés à tous les utilisateurs »: not only members.
async fn a_user_admin_changes_the_workspaces_assigned_to_all_users(s: &TestServer) {
    let t = setup(s, UMA).await;
    // Erin is a `contributor`, not a `member`.
    let a = call(
        s,
        &t,
        Method::PUT,
        &format!("/api/v1/users/{ERIN}/memberships/acme"),
        Some(json!({ "spec": { "role": "contributor", "workspaces": ["lyon"] } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["spec"]["workspaces"], json!(["lyon"]));
    let a = call(
        s,
        &t,
        Method::PUT,
        &format!("/api/v1/users/{FRANK}/memberships/acme"),
        Some(json!({ "spec": { "role": "member", "workspaces": ["paris"] } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // But still no promotion: « ne peuvent pas promouvoir ou rétrograder ».
    let a = call(
        s,
        &t,
        Method::PUT,
        &format!("/api/v1/users/{FRANK}/memberships/acme"),
        Some(json!({ "spec": { "role": "org_admin" } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
}

/// « L'administrateur de facturation … ✅ Voir tous les Workspaces ».
async fn a_billing_admin_sees_all_workspaces(s: &TestServer) {
    let t = setup(s, BILL).await;
    let a = call(
        s,
        &t,
        Method::GET,
        "/api/v1/tenants/acme/workspaces/lyon",
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["key"], "acme/lyon");
    let a = call(s, &t, Method::GET, "/api/v1/state", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ws: Vec<&String> = a.body["workspaces"].as_object().unwrap().keys().collect();
    assert_eq!(ws, ["acme/lyon", "acme/paris"]);
    // Sees, does not manage.
    let a = call(
        s,
        &t,
        Method::PUT,
        "/api/v1/tenants/acme/workspaces/nice",
        Some(json!({ "spec": {} })),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
}

/// « L'administrateur de l'organisation … ✅ Gérer les abonnements à l'organisation ».
async fn an_organisation_admin_manages_the_subscription(s: &TestServer) {
    let t = setup(s, ALICE).await;
    let a = call(
        s,
        &t,
        Method::PUT,
        "/api/v1/tenants/acme",
        Some(json!({ "spec": { "display_name": "Acme SAS", "plan": "premium" } })),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["spec"]["plan"], "premium");
    // Limits and status stay the platform's.
    let a = call(s, &t, Method::PUT, "/api/v1/tenants/acme", Some(json!({ "spec": { "display_name": "Acme SAS", "plan": "premium", "status": "suspended" } }))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
}

/// « L'administrateur de l'organisation … ✅ Supprimer l'organisation » (its own
/// membership goes with it: not a lockout).
async fn an_organisation_admin_may_delete_the_organisation(s: &TestServer) {
    let t = setup(s, ALICE).await;
    let billing = s.token("tenant:acme", None, Some(BILL)).await;
    let a = call(s, &billing, Method::DELETE, "/api/v1/tenants/acme", None).await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "« ❌ Supprimer l'organisation »: {}",
        a.text
    );
    let a = call(s, &t, Method::DELETE, "/api/v1/tenants/acme", None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(
        s.get("/api/v1/tenants/acme").await.status,
        StatusCode::NOT_FOUND
    );
}

on_both!(
    a_user_admin_manages_all_workspaces,
    a_user_admin_changes_the_workspaces_assigned_to_all_users,
    a_billing_admin_sees_all_workspaces,
    an_organisation_admin_manages_the_subscription,
    an_organisation_admin_may_delete_the_organisation,
);
