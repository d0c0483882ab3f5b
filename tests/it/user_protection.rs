//! Issue 12 items 5 and 6: every action on a user — password reset, block, unblock, edit,
//! delete — follows one rule ("may this principal change this user"), cell by cell over
//! (actor × target kind), on SQLite and PostgreSQL. A `user_admin` changes only users whose
//! every membership is `member` in its tenant; nobody but the system (a system token, one
//! acting as an active `super_admin`, or a `super_admin`'s session) changes a user who holds
//! a system role or belongs to another tenant (an admin there, or a member). Tokens and
//! signed-in sessions are refused alike. The issue's takeovers are named.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{fixture, TestServer};
use crate::on_both;

/// A kind of target user: its name, its memberships (tenant, role), its system role.
type Target = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
);

/// The kinds of target user, each created once per actor (so the cells do not depend on
/// one another).
const TARGETS: [Target; 6] = [
    ("member", &[("acme", "member")], None),
    ("user-admin", &[("acme", "user_admin")], None),
    ("org-admin", &[("acme", "org_admin")], None),
    // A platform super_admin whose only membership is a plain one in acme.
    ("super-admin", &[("acme", "member")], Some("super_admin")),
    // globex's org_admin, also a plain member of acme.
    (
        "admin-elsewhere",
        &[("acme", "member"), ("globex", "org_admin")],
        None,
    ),
    (
        "member-elsewhere",
        &[("acme", "member"), ("globex", "member")],
        None,
    ),
];

/// The actions on a user, in the order they run on each target.
const ACTIONS: [&str; 5] = ["reset", "edit", "block", "unblock", "delete"];

fn target_email(kind: &str, actor: &str) -> String {
    format!("{kind}.{actor}@people.example")
}

/// Creates the targets of `actor` with the system token.
async fn create_targets(s: &TestServer, actor: &str) {
    // A plan without a user limit, for the extra members.
    let mut ops = vec![
        json!({ "op": "put", "kind": "tenant", "key": "acme", "spec": { "display_name": "Acme SAS", "plan": "premium" } }),
        json!({ "op": "put", "kind": "tenant", "key": "globex", "spec": { "display_name": "Globex", "plan": "premium" } }),
    ];
    for (kind, memberships, system_role) in TARGETS {
        let email = target_email(kind, actor);
        let mut spec = json!({ "first_name": kind });
        if let Some(r) = system_role {
            spec["system_role"] = json!(r);
        }
        ops.push(json!({ "op": "put", "kind": "user", "key": email, "spec": spec }));
        for (t, role) in memberships {
            ops.push(json!({ "op": "put", "kind": "membership", "key": format!("{email}/{t}"), "spec": { "role": role } }));
        }
    }
    let a = s.batch(json!({ "operations": ops })).await;
    assert_eq!(a.status, StatusCode::OK, "targets: {}", a.text);
}

/// Runs `action` on `email` with `token`; the status.
async fn act(s: &TestServer, token: &str, action: &str, email: &str) -> u16 {
    let path = format!("/api/v1/users/{email}");
    let (method, path, body) = match action {
        "reset" => (Method::POST, format!("{path}/password-reset"), None),
        "edit" => (
            Method::PUT,
            path,
            Some(json!({ "spec": { "first_name": "Changed" } })),
        ),
        "block" => (Method::POST, format!("{path}/block"), None),
        "unblock" => (Method::POST, format!("{path}/unblock"), None),
        "delete" => (Method::DELETE, path, None),
        _ => unreachable!("{action}"),
    };
    let a = s.call(method, &path, Some(token), body.as_ref(), &[]).await;
    assert!(!a.status.is_server_error(), "{action} {email}: {}", a.text);
    a.status.as_u16()
}

/// Sets `email`'s status with the system token (so that unblock has something to do).
async fn set_blocked(s: &TestServer, email: &str, blocked: bool) {
    let verb = if blocked { "block" } else { "unblock" };
    let a = s
        .post(&format!("/api/v1/users/{email}/{verb}"), Value::Null)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{verb} {email}: {}", a.text);
}

/// The status every action on a target kind answers for an actor.
struct Row {
    target: &'static str,
    /// reset, edit, block, unblock, delete.
    expect: [u16; 5],
}

const fn row(target: &'static str, expect: [u16; 5]) -> Row {
    Row { target, expect }
}

const ALL_OK: [u16; 5] = [201, 200, 200, 200, 204];
const REFUSED: [u16; 5] = [403; 5];
const HIDDEN: [u16; 5] = [404; 5];

/// The actors and what they get on each target kind.
fn table(actor: &str) -> Vec<Row> {
    match actor {
        // The system, and a super_admin acting through a system token, change anyone.
        "system" | "super_admin" | "super_admin_session" => {
            TARGETS.iter().map(|t| row(t.0, ALL_OK)).collect()
        }
        // acme's org_admin: its own tenant's users whatever their role there; nobody with
        // a system role or another membership.
        "org_admin" | "org_admin_session" => vec![
            row("member", ALL_OK),
            row("user-admin", ALL_OK),
            row("org-admin", ALL_OK),
            row("super-admin", REFUSED),
            row("admin-elsewhere", REFUSED),
            row("member-elsewhere", REFUSED),
        ],
        // acme's user_admin: plain members only; it never blocks (no `users.block`).
        "user_admin" => vec![
            row("member", [201, 200, 403, 403, 204]),
            row("user-admin", REFUSED),
            row("org-admin", REFUSED),
            row("super-admin", REFUSED),
            row("admin-elsewhere", REFUSED),
            row("member-elsewhere", REFUSED),
        ],
        // acme's members change nobody.
        "member" => TARGETS.iter().map(|t| row(t.0, REFUSED)).collect(),
        // globex's org_admin: acme's own users are hidden; the two who are also in globex
        // are refused (they belong to acme too).
        "globex_org_admin" => vec![
            row("member", HIDDEN),
            row("user-admin", HIDDEN),
            row("org-admin", HIDDEN),
            row("super-admin", HIDDEN),
            row("admin-elsewhere", REFUSED),
            row("member-elsewhere", REFUSED),
        ],
        _ => unreachable!("{actor}"),
    }
}

/// Gives `email` a password (an administrator's reset link, redeemed) and signs it in;
/// the session's secret.
async fn session(s: &TestServer, email: &str) -> String {
    let a = s
        .post(
            &format!("/api/v1/users/{email}/password-reset"),
            Value::Null,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let token = a.body["link"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string();
    let password = "a long enough passphrase";
    let body = json!({ "token": token, "password": password });
    let a = s
        .call(
            Method::POST,
            "/api/v1/password-resets/redeem",
            None,
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = json!({ "email": email, "password": password });
    let a = s
        .call(Method::POST, "/api/v1/sessions", None, Some(&body), &[])
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["token"].as_str().unwrap().to_string()
}

async fn actor_token(s: &TestServer, actor: &str) -> String {
    match actor {
        "system" => s.system_token().to_string(),
        "super_admin" => {
            let a = s
                .put(
                    "/api/v1/users/root@platform.example",
                    json!({ "system_role": "super_admin" }),
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
            s.token("system", None, Some("root@platform.example")).await
        }
        "globex_org_admin" => s.token("tenant:globex", Some("org_admin"), None).await,
        // Signed in with a password: a super_admin's session acts as the platform, an
        // org_admin's (Alice, of acme) as Alice in acme.
        "super_admin_session" => {
            let root = "root@platform.example";
            let a = s
                .put(
                    &format!("/api/v1/users/{root}"),
                    json!({ "system_role": "super_admin" }),
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
            session(s, root).await
        }
        "org_admin_session" => session(s, fixture::ALICE).await,
        role => s.token("tenant:acme", Some(role), None).await,
    }
}

/// Every cell of one actor's row: each action on each target kind.
async fn every_action_on_every_target(s: &TestServer, actor: &str) {
    fixture::load(s).await;
    create_targets(s, actor).await;
    let token = actor_token(s, actor).await;
    let mut wrong = Vec::new();
    for r in table(actor) {
        let email = target_email(r.target, actor);
        for (i, action) in ACTIONS.iter().enumerate() {
            // Unblock needs a blocked user: if the actor could not block, the system does.
            let blocked_by_system = *action == "unblock" && r.expect[2] != 200;
            if blocked_by_system {
                set_blocked(s, &email, true).await;
            }
            let got = act(s, &token, action, &email).await;
            if got != r.expect[i] {
                wrong.push(format!(
                    "{actor} {action} {}: got {got}, want {}",
                    r.target, r.expect[i]
                ));
            }
            if blocked_by_system {
                set_blocked(s, &email, false).await;
            }
        }
    }
    assert!(wrong.is_empty(), "cells that differ:\n{}", wrong.join("\n"));
}

async fn system(s: &TestServer) {
    every_action_on_every_target(s, "system").await;
}
async fn super_admin(s: &TestServer) {
    every_action_on_every_target(s, "super_admin").await;
}
async fn org_admin(s: &TestServer) {
    every_action_on_every_target(s, "org_admin").await;
}
async fn user_admin(s: &TestServer) {
    every_action_on_every_target(s, "user_admin").await;
}
async fn member(s: &TestServer) {
    every_action_on_every_target(s, "member").await;
}
async fn super_admin_session(s: &TestServer) {
    every_action_on_every_target(s, "super_admin_session").await;
}
async fn org_admin_session(s: &TestServer) {
    every_action_on_every_target(s, "org_admin_session").await;
}
async fn globex_org_admin(s: &TestServer) {
    every_action_on_every_target(s, "globex_org_admin").await;
}

/// The issue's reproductions, as a tenant administrator tried them: each answers 403 and
/// leaves no usable link and no change.
async fn the_takeovers_of_the_issue_are_refused(s: &TestServer) {
    fixture::load(s).await;
    create_targets(s, "issue").await;
    let user_admin = s.token("tenant:acme", Some("user_admin"), None).await;
    let org_admin = s.token("tenant:acme", Some("org_admin"), None).await;
    let root = target_email("super-admin", "issue");
    let org = target_email("org-admin", "issue");
    let elsewhere = target_email("admin-elsewhere", "issue");
    // A user_admin asks for a reset link for its tenant's org_admin, and for a platform
    // super_admin who is a plain member there.
    for target in [&org, &root] {
        assert_eq!(act(s, &user_admin, "reset", target).await, 403, "{target}");
    }
    // An org_admin asks for one for another tenant's org_admin who is a member here.
    assert_eq!(act(s, &org_admin, "reset", &elsewhere).await, 403);
    // A tenant administrator blocks and edits a platform super_admin.
    for action in ["block", "edit"] {
        assert_eq!(act(s, &org_admin, action, &root).await, 403, "{action}");
    }
    let a = s.get(&format!("/api/v1/users/{root}")).await;
    assert_eq!(a.body["spec"]["first_name"], "super-admin", "{}", a.text);
    assert_eq!(a.body["spec"].get("status"), None, "{}", a.text);
    let audit = s.get("/api/v1/audit?limit=1000").await;
    let resets: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["op"] == "password_reset")
        .collect();
    assert!(resets.is_empty(), "no reset was made: {resets:?}");
}

on_both!(
    system,
    super_admin,
    super_admin_session,
    org_admin,
    org_admin_session,
    user_admin,
    member,
    globex_org_admin,
    the_takeovers_of_the_issue_are_refused,
);
