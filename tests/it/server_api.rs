//! The platform API over HTTP, on SQLite and PostgreSQL: resources and versions, the atomic
//! batch, the rules the server enforces, cascades, the audit log, and the source documents'
//! behaviours (invitations, block, password reset, removal, dashboard, CSV).

use crate::common::fixture::{self, ALICE, BOB, CAROL, DAVE, ERIN, FRANK};
use crate::common::TestServer;
use crate::on_both;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn revision(s: &TestServer) -> i64 {
    let a = s.get("/api/v1/state").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["revision"].as_i64().expect("revision")
}

fn codes(body: &Value) -> Vec<String> {
    body["details"]["violations"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| x["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn crud_and_versions(s: &TestServer) {
    let a = s
        .put(
            "/api/v1/plans/basic",
            json!({ "display_name": "Basic", "limits": { "users": 5 } }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["managed"], true);
    assert_eq!(a.headers["etag"], "\"1\"");
    let a = s.get("/api/v1/plans/basic").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body["spec"],
        json!({ "display_name": "Basic", "limits": { "users": 5 } })
    );
    assert_eq!(a.body["kind"], "plan");
    let a = s
        .put("/api/v1/plans/basic", json!({ "display_name": "Basique" }))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["version"], 2);
    // If-Match: stale → 412, fresh → 200.
    let body = json!({ "spec": { "display_name": "X" } });
    let a = s
        .call(
            Method::PUT,
            "/api/v1/plans/basic",
            Some(s.system_token()),
            Some(&body),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED, "{}", a.text);
    assert_eq!(a.body["code"], "stale_version");
    assert_eq!(a.body["details"]["actual"], 2);
    let a = s
        .call(
            Method::PUT,
            "/api/v1/plans/basic",
            Some(s.system_token()),
            Some(&body),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // If-Match "0": must not exist.
    let a = s
        .call(
            Method::PUT,
            "/api/v1/plans/basic",
            Some(s.system_token()),
            Some(&body),
            &[("if-match", "\"0\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED);
    // List with pagination.
    for p in ["p1", "p2", "p3"] {
        assert_eq!(
            s.put(&format!("/api/v1/plans/{p}"), json!({})).await.status,
            StatusCode::CREATED
        );
    }
    let a = s.get("/api/v1/plans?limit=2").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(2));
    let cursor = a.body["next_cursor"].as_str().expect("cursor").to_string();
    let a = s
        .get(&format!("/api/v1/plans?limit=2&cursor={cursor}"))
        .await;
    let keys: Vec<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["p2", "p3"]);
    assert_eq!(a.body["next_cursor"], Value::Null);
    // Delete with a stale If-Match, then for real.
    let a = s
        .call(
            Method::DELETE,
            "/api/v1/plans/basic",
            Some(s.system_token()),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::PRECONDITION_FAILED);
    let a = s
        .call(
            Method::DELETE,
            "/api/v1/plans/basic",
            Some(s.system_token()),
            None,
            &[("if-match", "\"3\"")],
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(
        s.get("/api/v1/plans/basic").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.delete("/api/v1/plans/basic").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn every_kind_round_trips(s: &TestServer) {
    fixture::load(s).await;
    let paths = [
        ("/api/v1/plans/essential", "plan"),
        ("/api/v1/models/m1", "model"),
        ("/api/v1/roles/contributor", "role"),
        ("/api/v1/tenants/acme", "tenant"),
        ("/api/v1/tenants/acme/workspaces/paris", "workspace"),
        ("/api/v1/tenants/acme/models/m1", "tenant_model"),
        (
            "/api/v1/tenants/acme/workspaces/paris/grants/role:contributor",
            "grant",
        ),
        ("/api/v1/users/bob@acme.example", "user"),
        (
            "/api/v1/users/bob@acme.example/memberships/acme",
            "membership",
        ),
        ("/api/v1/users/bob@acme.example/models/m1", "user_model"),
    ];
    for (path, kind) in paths {
        let a = s.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert_eq!(a.body["kind"], kind);
        let spec = a.body["spec"].clone();
        let a = s.put(path, spec.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert_eq!(a.body["version"], 2, "{path}");
        assert_eq!(a.body["spec"], spec);
        let plural = format!("/api/v1/{kind}s");
        let a = s.get(&plural).await;
        assert_eq!(a.status, StatusCode::OK, "{plural}");
        assert!(!a.body["items"].as_array().unwrap().is_empty(), "{plural}");
    }
    // The state document is exactly the model's serde form.
    let a = s.get("/api/v1/state").await;
    let state: tenantctl::model::State =
        serde_json::from_value(a.body.clone()).expect("state parses as model::State");
    assert_eq!(state.users.len(), 6);
    assert_eq!(state.memberships.len(), 7);
    assert_eq!(state.plans["essential"].version, 2);
    assert!(state.plans["essential"].managed);
    // Deleting every kind, children first.
    for (path, _) in paths.iter().rev() {
        if path.ends_with("/acme") && path.contains("/tenants/") {
            continue;
        }
        let a = s.delete(path).await;
        assert!(
            a.status == StatusCode::NO_CONTENT
                || a.status == StatusCode::NOT_FOUND
                || a.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            a.text
        );
    }
}

async fn two_writers_same_version(s: &TestServer) {
    fixture::load(s).await;
    let v = s.get("/api/v1/tenants/acme").await.body["version"]
        .as_i64()
        .unwrap();
    let etag = format!("\"{v}\"");
    let body_a = json!({ "spec": { "display_name": "A", "plan": "essential" } });
    let body_b = json!({ "spec": { "display_name": "B", "plan": "essential" } });
    let h = [("if-match", etag.as_str())];
    let (a, b) = tokio::join!(
        s.call(
            Method::PUT,
            "/api/v1/tenants/acme",
            Some(s.system_token()),
            Some(&body_a),
            &h
        ),
        s.call(
            Method::PUT,
            "/api/v1/tenants/acme",
            Some(s.system_token()),
            Some(&body_b),
            &h
        ),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "a: {} b: {}", a.text, b.text);
    let winner = if a.status == StatusCode::OK { "A" } else { "B" };
    let now = s.get("/api/v1/tenants/acme").await;
    assert_eq!(now.body["spec"]["display_name"], winner);
    assert_eq!(now.body["version"], v + 1);
    // Same in a batch with if_version.
    let op = |name: &str| json!({ "operations": [{ "op": "put", "kind": "tenant", "key": "acme", "if_version": v + 1, "spec": { "display_name": name, "plan": "essential" } }] });
    let (a, b) = tokio::join!(s.batch(op("C")), s.batch(op("D")));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
}

async fn batch_all_or_nothing(s: &TestServer) {
    fixture::load(s).await;
    let before = s.get("/api/v1/state").await.body;
    let rev = before["revision"].as_i64().unwrap();
    // The last operation deletes a resource that does not exist: nothing is written.
    let a = s
        .batch(json!({ "operations": [
            { "op": "put", "kind": "tenant", "key": "newco", "spec": { "plan": "essential" } },
            { "op": "put", "kind": "workspace", "key": "newco/hq", "spec": {} },
            { "op": "delete", "kind": "user", "key": BOB },
            { "op": "delete", "kind": "plan", "key": "no-such-plan" }
        ] }))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(a.body["details"]["operation"], 3);
    let after = s.get("/api/v1/state").await.body;
    assert_eq!(before, after, "a failed batch writes nothing");
    // The last operation breaks a rule: nothing is written either.
    let a = s
        .batch(json!({ "operations": [
            { "op": "put", "kind": "workspace", "key": "acme/nice", "spec": {} },
            { "op": "put", "kind": "membership", "key": format!("{BOB}/acme"), "spec": { "role": "no-such-role" } }
        ] }))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "rule_violation");
    assert!(codes(&a.body).contains(&"unknown_role".to_string()));
    assert_eq!(
        s.get("/api/v1/tenants/acme/workspaces/nice").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(revision(s).await, rev);
    // A stale expected revision: 409.
    let a = s.batch(json!({ "expected_revision": rev - 1, "operations": [{ "op": "put", "kind": "workspace", "key": "acme/nice", "spec": {} }] })).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.body["code"], "stale_revision");
    assert_eq!(a.body["details"]["actual"], rev);
    // The right one: applied, revision grows by one.
    let a = s
        .batch(json!({ "expected_revision": rev, "operations": [
        { "op": "put", "kind": "workspace", "key": "acme/nice", "spec": {} },
        { "op": "put", "kind": "workspace", "key": "acme/nantes", "spec": {}, "if_version": 0 }
    ] }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({ "revision": rev + 1, "applied": 2 }));
    // Adopt marks managed without a new version.
    let a = s
        .call(
            Method::PUT,
            "/api/v1/tenants/acme/workspaces/lille",
            Some(s.system_token()),
            Some(&json!({ "spec": {}, "managed": false })),
            &[],
        )
        .await;
    assert_eq!(a.body["managed"], false);
    let a = s
        .batch(
            json!({ "operations": [{ "op": "adopt", "kind": "workspace", "key": "acme/lille" }] }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = s.get("/api/v1/tenants/acme/workspaces/lille").await;
    assert_eq!(
        (a.body["managed"].clone(), a.body["version"].clone()),
        (json!(true), json!(1))
    );
}

async fn cascades(s: &TestServer) {
    fixture::load(s).await;
    // Deleting a workspace removes its grants and its name from membership lists.
    assert_eq!(
        s.delete("/api/v1/tenants/acme/workspaces/paris")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let st = s.get("/api/v1/state").await.body;
    assert!(st["grants"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("acme/paris/")));
    assert_eq!(
        st["memberships"][format!("{ERIN}/acme")]["spec"]["workspaces"],
        json!(["lyon"])
    );
    assert_eq!(
        st["memberships"][format!("{BOB}/acme")]["spec"].get("workspaces"),
        None
    );
    // Deleting a user removes every membership, grant and model grant.
    s.put(
        &format!("/api/v1/tenants/acme/workspaces/lyon/grants/user:{ERIN}"),
        json!({ "actions": ["read"] }),
    )
    .await;
    assert_eq!(
        s.delete(&format!("/api/v1/users/{ERIN}")).await.status,
        StatusCode::NO_CONTENT
    );
    let st = s.get("/api/v1/state").await.body;
    assert!(st["memberships"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with(ERIN)));
    assert!(st["grants"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.ends_with(ERIN)));
    // Deleting a membership removes the grants to that user in that tenant.
    s.put(
        &format!("/api/v1/tenants/acme/workspaces/lyon/grants/user:{BOB}"),
        json!({ "actions": ["read"] }),
    )
    .await;
    s.put(
        &format!("/api/v1/users/{BOB}/memberships/globex"),
        json!({ "role": "member" }),
    )
    .await;
    s.put(
        &format!("/api/v1/tenants/globex/workspaces/berlin/grants/user:{BOB}"),
        json!({ "actions": ["read"] }),
    )
    .await;
    assert_eq!(
        s.delete(&format!("/api/v1/users/{BOB}/memberships/acme"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let st = s.get("/api/v1/state").await.body;
    let grants: Vec<&String> = st["grants"].as_object().unwrap().keys().collect();
    assert!(
        !grants
            .iter()
            .any(|k| k.starts_with("acme/") && k.ends_with(BOB)),
        "{grants:?}"
    );
    assert!(grants
        .iter()
        .any(|k| *k == &format!("globex/berlin/user:{BOB}")));
    // Deleting a tenant removes its workspaces, tenant models, grants and memberships.
    let a = s
        .batch(json!({ "operations": [{ "op": "delete", "kind": "tenant", "key": "acme" }] }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let st = s.get("/api/v1/state").await.body;
    for kind in ["workspaces", "tenant_models", "grants", "memberships"] {
        assert!(
            st[kind].as_object().is_none_or(|m| m
                .keys()
                .all(|k| !k.starts_with("acme/") && !k.ends_with("/acme"))),
            "{kind}: {}",
            st[kind]
        );
    }
    assert!(
        st["users"].as_object().unwrap().contains_key(ALICE),
        "users stay"
    );
}

async fn rule_2_org_admin(s: &TestServer) {
    fixture::load(s).await;
    // The only org_admin of globex cannot go, nor be demoted.
    let a = s
        .delete(&format!("/api/v1/users/{DAVE}/memberships/globex"))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(codes(&a.body), vec!["no_org_admin"]);
    let a = s
        .put(
            &format!("/api/v1/users/{DAVE}/memberships/globex"),
            json!({ "role": "member" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s.delete(&format!("/api/v1/users/{DAVE}")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // acme has two: one may go.
    assert_eq!(
        s.delete(&format!("/api/v1/users/{CAROL}/memberships/acme"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // A tenant created without members is allowed (it has none yet); adding a non-admin
    // member later is not what breaks it.
    assert_eq!(
        s.put("/api/v1/tenants/fresh", json!({ "plan": "essential" }))
            .await
            .status,
        StatusCode::CREATED
    );
}

async fn rule_3_limits(s: &TestServer) {
    fixture::load(s).await;
    s.put("/api/v1/tenants/tiny", json!({ "plan": "free" }))
        .await;
    assert_eq!(
        s.put(
            &format!("/api/v1/users/{ALICE}/memberships/tiny"),
            json!({ "role": "org_admin" })
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.put(
            &format!("/api/v1/users/{BOB}/memberships/tiny"),
            json!({ "role": "org_admin" })
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let a = s
        .put(
            &format!("/api/v1/users/{CAROL}/memberships/tiny"),
            json!({ "role": "member" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(codes(&a.body), vec!["limit_exceeded"]);
    assert_eq!(
        s.put("/api/v1/tenants/tiny/workspaces/one", json!({}))
            .await
            .status,
        StatusCode::CREATED
    );
    let a = s
        .put("/api/v1/tenants/tiny/workspaces/two", json!({}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Lowering a limit below usage: refused, unless the batch accepts it (rule 9).
    let lower = json!({ "op": "put", "kind": "tenant", "key": "acme", "spec": { "plan": "essential", "limits": { "users": 2 } } });
    let a = s.batch(json!({ "operations": [lower] })).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&a.body), vec!["limit_exceeded"]);
    let a = s
        .batch(json!({ "allow_limit_below_usage": true, "operations": [lower] }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // …but it does not let a member in over the limit.
    let a = s.batch(json!({ "allow_limit_below_usage": true, "operations": [
        { "op": "put", "kind": "membership", "key": format!("{DAVE}/acme"), "spec": { "role": "member" } }
    ] })).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn rule_5_and_7_identities(s: &TestServer) {
    fixture::load(s).await;
    for bad in ["Bob@Acme.example", "not-an-email", "a@b"] {
        let a = s.put(&format!("/api/v1/users/{bad}"), json!({})).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            a.text
        );
        assert_eq!(codes(&a.body), vec!["invalid_email"], "{bad}");
    }
    let a = s
        .put("/api/v1/tenants/Acme_Corp", json!({ "plan": "essential" }))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(codes(&a.body).contains(&"invalid_key".to_string()));
    // Rule 7: the e-mail is the identity; no spec field can change it.
    let a = s
        .put(
            &format!("/api/v1/users/{BOB}"),
            json!({ "email": "robert@acme.example" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "invalid_spec");
    assert_eq!(
        s.get(&format!("/api/v1/users/{BOB}")).await.status,
        StatusCode::OK
    );
}

async fn rule_6_self_protection(s: &TestServer) {
    fixture::load(s).await;
    let me = s.token("tenant:acme", Some("org_admin"), Some(ALICE)).await;
    let call = |m: Method, path: String, body: Option<Value>| {
        let me = me.clone();
        async move { s.call(m, &path, Some(&me), body.as_ref(), &[]).await }
    };
    let a = call(
        Method::DELETE,
        format!("/api/v1/users/{ALICE}/memberships/acme"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(codes(&a.body), vec!["self_removal"]);
    let a = call(Method::POST, format!("/api/v1/users/{ALICE}/block"), None).await;
    assert_eq!(codes(&a.body), vec!["self_block"]);
    let a = call(
        Method::PUT,
        format!("/api/v1/users/{ALICE}/memberships/acme"),
        Some(json!({ "spec": { "role": "member" } })),
    )
    .await;
    assert_eq!(codes(&a.body), vec!["self_demotion"]);
    let a = call(Method::DELETE, format!("/api/v1/users/{ALICE}"), None).await;
    assert_eq!(
        codes(&a.body),
        vec!["self_removal", "self_removal"],
        "the user and, by cascade, its membership"
    );
    let a = call(
        Method::DELETE,
        format!("/api/v1/users/{ALICE}/memberships?tenant=acme"),
        None,
    )
    .await;
    assert_eq!(codes(&a.body), vec!["self_removal"]);
    // The same token may do all of it to someone else.
    let a = call(Method::POST, format!("/api/v1/users/{CAROL}/block"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = call(
        Method::DELETE,
        format!("/api/v1/users/{CAROL}/memberships/acme"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    // And a system token acting as a user (a super admin) is bound by rule 6 too.
    let a = s
        .put(
            &format!("/api/v1/users/{DAVE}"),
            json!({ "first_name": "Dave", "system_role": "super_admin" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let sys_me = s.token("system", None, Some(DAVE)).await;
    let a = s
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{DAVE}"),
            Some(&sys_me),
            None,
            &[],
        )
        .await;
    assert!(
        codes(&a.body).contains(&"self_removal".to_string()),
        "{}",
        a.text
    );
}

async fn rule_8_invitations(s: &TestServer) {
    fixture::load(s).await;
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@new.example")).collect();
    let a = s
        .post(
            "/api/v1/invitations",
            json!({ "emails": many, "tenant": "acme", "role": "member" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&a.body), vec!["invitation_batch"]);
    let ws: Vec<String> = (0..11).map(|i| format!("w{i}")).collect();
    let a = s.post("/api/v1/invitations", json!({ "emails": ["x@new.example"], "tenant": "acme", "role": "member", "workspaces": ws })).await;
    assert!(
        codes(&a.body).contains(&"invitation_workspaces".to_string()),
        "{}",
        a.text
    );
    // 100 is fine, and the `;` form too.
    let hundred: Vec<String> = (0..100).map(|i| format!("u{i}@new.example")).collect();
    let a = s.post("/api/v1/invitations", json!({ "emails": hundred, "tenant": "globex", "role": "member", "message": "Bienvenue" })).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 100);
    let a = s.post("/api/v1/invitations", json!({ "emails": "Zoe@New.example; yan@new.example;", "tenant": "acme", "role": "contributor", "workspaces": ["paris"], "message": "Hello" })).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let items = a.body["items"].as_array().unwrap().clone();
    assert_eq!(
        items
            .iter()
            .map(|i| i["email"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["zoe@new.example", "yan@new.example"]
    );
    assert!(items
        .iter()
        .all(|i| i["status"] == "pending" && i["message"] == "Hello"));
    // Pending until accepted: no user yet.
    assert_eq!(
        s.get("/api/v1/users/zoe@new.example").await.status,
        StatusCode::NOT_FOUND
    );
    // 102, and the six invitations of the fixture's users, created by a write.
    let list = s.get("/api/v1/invitations").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 102 + 6);
    // An administrator's token accepts nothing any more: the invitee does, with the link
    // of the e-mail (tests/it/mail.rs).
    let id = items[0]["id"].as_str().unwrap();
    let a = s
        .post(&format!("/api/v1/invitations/{id}/accept"), json!({}))
        .await;
    assert!(
        a.status == StatusCode::NOT_FOUND || a.status == StatusCode::METHOD_NOT_ALLOWED,
        "{}",
        a.text
    );
    // Without --smtp the e-mails wait in the outbox.
    let a = s
        .post(
            "/api/v1/invitations",
            json!({ "emails": ["zoe@new.example"], "tenant": "acme", "role": "member" }),
        )
        .await;
    assert_eq!(codes(&a.body), vec!["already_invited"], "{}", a.text);
    let a = s
        .post(
            "/api/v1/invitations",
            json!({ "emails": [BOB], "tenant": "acme", "role": "member" }),
        )
        .await;
    assert_eq!(codes(&a.body), vec!["already_member"]);
}

async fn block_reset_remove(s: &TestServer) {
    fixture::load(s).await;
    let a = s
        .post(&format!("/api/v1/users/{BOB}/block"), json!(null))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["spec"]["status"], "blocked");
    let a = s
        .post(&format!("/api/v1/users/{BOB}/unblock"), json!(null))
        .await;
    assert_eq!(a.body["spec"].get("status"), None);
    let a = s
        .post(&format!("/api/v1/users/{BOB}/password-reset"), json!(null))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let link = a.body["link"].as_str().unwrap();
    let secret = link.split("token=").nth(1).unwrap();
    assert!(secret.len() >= 40);
    assert!(a.body["expires_at"].as_str().unwrap().ends_with('Z'));
    // Only a hash is stored: the secret appears nowhere in the database.
    assert!(
        !database_contains(s, secret).await,
        "the reset secret is stored in clear"
    );
    // The link works once, without a token.
    let redeem = json!({ "token": secret, "password": "a long new passphrase" });
    let a = s
        .call(
            Method::POST,
            "/api/v1/password-resets/redeem",
            None,
            Some(&redeem),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["email"], BOB);
    let a = s
        .call(
            Method::POST,
            "/api/v1/password-resets/redeem",
            None,
            Some(&redeem),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.body["code"], "reset_used");
    let a = s
        .call(
            Method::POST,
            "/api/v1/password-resets/redeem",
            None,
            Some(&json!({ "token": "guess", "password": "a long new passphrase" })),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.post(
            "/api/v1/users/nobody@acme.example/password-reset",
            json!(null)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Remove a user from several tenants at once.
    let a = s
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{ERIN}/memberships?tenant=acme&tenant=globex"),
            Some(s.system_token()),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["removed"], json!(["acme", "globex"]));
    let st = s.get("/api/v1/state").await.body;
    assert!(st["memberships"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with(ERIN)));
    assert!(
        st["users"].as_object().unwrap().contains_key(ERIN),
        "the user stays"
    );
    let a = s
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{FRANK}/memberships?tenant=globex"),
            Some(s.system_token()),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = s
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{FRANK}/memberships"),
            Some(s.system_token()),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

/// Whether any text column of the database holds `needle` (a plain scan, tests only).
async fn database_contains(s: &TestServer, needle: &str) -> bool {
    let tables = [
        ("password_resets", "id || email || hash"),
        (
            "audit",
            "COALESCE(after_json, '') || COALESCE(before_json, '')",
        ),
        ("tokens", "hash"),
    ];
    for (table, expr) in tables {
        let q = format!("SELECT COUNT(*) FROM {table} WHERE {expr} LIKE $1");
        let pattern = format!("%{needle}%");
        let n: i64 = if s.database_url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&s.database_url).await.unwrap();
            let n = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .bind(pattern)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::PgPool::connect(&s.database_url).await.unwrap();
            let n = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .bind(pattern)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        };
        if n > 0 {
            return true;
        }
    }
    false
}

async fn audit_log(s: &TestServer) {
    fixture::load(s).await;
    let h = [
        ("x-tenantctl-change-set", "cs-42"),
        ("x-tenantctl-commit", "abc1234"),
    ];
    let body = json!({ "spec": { "display_name": "Acme Group", "plan": "essential" } });
    let a = s
        .call(
            Method::PUT,
            "/api/v1/tenants/acme",
            Some(s.system_token()),
            Some(&body),
            &h,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = s.get("/api/v1/audit?limit=1").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let e = &a.body["items"][0];
    assert_eq!(e["op"], "put");
    assert_eq!(e["kind"], "tenant");
    assert_eq!(e["key"], "acme");
    assert_eq!(e["change_set"], "cs-42");
    assert_eq!(e["commit"], "abc1234");
    assert_eq!(e["before"]["spec"]["display_name"], "Acme SAS");
    assert_eq!(e["before"]["version"], 1);
    assert_eq!(e["after"]["spec"]["display_name"], "Acme Group");
    assert_eq!(e["after"]["version"], 2);
    assert!(e["token_id"].as_str().unwrap().starts_with("tok_"));
    let cursor = a.body["next_cursor"].as_str().unwrap().to_string();
    let a = s
        .get(&format!("/api/v1/audit?limit=2&cursor={cursor}"))
        .await;
    // The fixture's last entries: its puts, then the invitations of the users it created.
    assert_eq!(a.body["items"][0]["op"], "invite");
    assert!(a.body["items"][0]["id"].as_i64().unwrap() < e["id"].as_i64().unwrap());
    // A delete records before and a null after, cascades included.
    s.delete(&format!("/api/v1/users/{BOB}")).await;
    let a = s.get("/api/v1/audit?limit=10").await;
    let items = a.body["items"].as_array().unwrap();
    let del = items
        .iter()
        .find(|i| i["op"] == "delete" && i["key"] == BOB)
        .expect("delete entry");
    assert_eq!(del["after"], Value::Null);
    assert_eq!(del["before"]["spec"]["first_name"], "Bob");
    assert!(items
        .iter()
        .any(|i| i["op"] == "cascade_delete" && i["kind"] == "membership"));
    // A tenant token sees its tenant's entries only.
    let t = s.token("tenant:globex", Some("org_admin"), None).await;
    let a = s
        .call(Method::GET, "/api/v1/audit?limit=1000", Some(&t), None, &[])
        .await;
    assert!(a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["tenant"] == "globex"));
}

async fn dashboard_and_csv(s: &TestServer) {
    fixture::load(s).await;
    s.post(
        "/api/v1/invitations",
        json!({ "emails": ["new@acme.example"], "tenant": "acme", "role": "member" }),
    )
    .await;
    let a = s.get("/api/v1/dashboard").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (
            a.body["tenants"].clone(),
            a.body["users"].clone(),
            a.body["workspaces"].clone()
        ),
        (json!(2), json!(6), json!(3))
    );
    // The fixture's six users were invited when created, and have not accepted yet.
    assert_eq!(a.body["pending_invitations"], 6 + 1);
    let acme = a.body["plan_usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["tenant"] == "acme")
        .unwrap()
        .clone();
    assert_eq!(acme["users"], json!({ "used": 5, "limit": 10 }));
    assert_eq!(acme["workspaces"], json!({ "used": 2, "limit": 10 }));
    assert!(!a.body["recent_activity"].as_array().unwrap().is_empty());
    let a = s.get("/api/v1/exports/users.csv").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(
        lines[0],
        "first_name,last_name,email,created,last_active,status,language,tenant,tenant_name,role"
    );
    assert_eq!(
        lines.len(),
        1 + 7 + 1,
        "one row per membership and per pending invitation"
    );
    let alice = lines.iter().find(|l| l.contains(ALICE)).unwrap();
    let cols: Vec<&str> = alice.split(',').collect();
    assert_eq!(
        (cols[0], cols[1], cols[2], cols[5], cols[6], cols[7], cols[8], cols[9]),
        (
            "Alice",
            "Martin",
            ALICE,
            "pending", // created by a write, invited, not accepted yet
            "fr",
            "acme",
            "Acme SAS",
            "org_admin"
        )
    );
    let invited = lines
        .iter()
        .find(|l| l.contains("new@acme.example"))
        .unwrap();
    assert_eq!(
        invited.split(',').skip(4).collect::<Vec<_>>(),
        ["", "pending", "en", "acme", "Acme SAS", "member"]
    );
    assert!(cols[3].starts_with("20"), "created: {}", cols[3]);
    // Limited to the tenants the token can see.
    let t = s.token("tenant:globex", Some("billing_admin"), None).await;
    let a = s
        .call(
            Method::GET,
            "/api/v1/exports/users.csv",
            Some(&t),
            None,
            &[],
        )
        .await;
    let rows: Vec<&str> = a.text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", a.text);
    assert!(rows
        .iter()
        .all(|r| r.ends_with(",globex,Globex,member") || r.ends_with(",globex,Globex,org_admin")));
    let a = s
        .call(Method::GET, "/api/v1/dashboard", Some(&t), None, &[])
        .await;
    assert_eq!(
        (a.body["tenants"].clone(), a.body["users"].clone()),
        (json!(1), json!(2))
    );
}

/// Who a request of [`bad_requests`] comes from.
#[derive(Clone, Copy)]
enum Auth {
    /// The system token.
    System,
    /// No `Authorization` header.
    Anonymous,
    /// `Authorization: Bearer <this>`.
    Bearer(&'static str),
    /// `Authorization: <this>`.
    Header(&'static str),
}

/// One row of [`bad_requests`]: a request, and what the platform must answer.
struct Row {
    what: &'static str,
    method: Method,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    /// Sent on a client of its own: the server closes a connection whose body it refused.
    own_client: bool,
    status: u16,
    /// The error code of the answer, when the row names it.
    code: Option<&'static str>,
    /// Values the answer must hold: (JSON pointer, value).
    holds: Vec<(&'static str, Value)>,
}

/// A request with the system token and no body; the answer is set with [`Row::answers`].
fn row(what: &'static str, method: Method, path: impl Into<String>) -> Row {
    Row {
        what,
        method,
        path: path.into(),
        auth: Auth::System,
        content_type: None,
        headers: Vec::new(),
        body: Vec::new(),
        own_client: false,
        status: 0,
        code: None,
        holds: Vec::new(),
    }
}

impl Row {
    /// A JSON body.
    fn json(self, body: Value) -> Row {
        self.raw(Some("application/json"), body.to_string())
    }

    /// A body as bytes, with this content type (or none).
    fn raw(mut self, content_type: Option<&'static str>, body: impl Into<Vec<u8>>) -> Row {
        self.content_type = content_type;
        self.body = body.into();
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Row {
        self.headers.push((name, value));
        self
    }

    fn auth(mut self, auth: Auth) -> Row {
        self.auth = auth;
        self
    }

    fn own_client(mut self) -> Row {
        self.own_client = true;
        self
    }

    /// The expected status and error code.
    fn answers(self, status: u16, code: &'static str) -> Row {
        Row {
            code: Some(code),
            ..self.status(status)
        }
    }

    /// The expected status.
    fn status(mut self, status: u16) -> Row {
        self.status = status;
        self
    }

    /// A value the answer holds at a JSON pointer.
    fn holds(mut self, pointer: &'static str, value: Value) -> Row {
        self.holds.push((pointer, value));
        self
    }
}

/// PUT `{"spec": spec}` to `path`.
fn put_spec(what: &'static str, path: &str, spec: Value) -> Row {
    row(what, Method::PUT, path).json(json!({ "spec": spec }))
}

fn batch(what: &'static str, body: Value) -> Row {
    row(what, Method::POST, "/api/v1/batch").json(body)
}

/// Bad requests, one row each: every error is JSON `{code, message, details}` with the
/// status and code of its row. Rows run in order (a later one may read what an earlier one
/// wrote), and every row runs: the failures are reported together at the end.
fn bad_request_rows() -> Vec<Row> {
    use Method as M;
    let big = format!(
        "{{\"spec\": {{\"display_name\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let bulk: Vec<Value> = (0..20_000).map(|i| json!({ "op": "put", "kind": "plan", "key": format!("bulk-{i}"), "spec": { "display_name": "a fairly long display name" } })).collect();
    vec![
        // Bodies.
        row("truncated JSON", M::POST, "/api/v1/batch")
            .raw(Some("application/json"), "{\"operations\": [")
            .answers(400, "invalid_json"),
        batch("a body of the wrong shape", json!({ "operations": 3 }))
            .answers(422, "invalid_body"),
        batch("an unknown body field", json!({ "operations": [], "extra": 1 }))
            .answers(422, "invalid_body"),
        put_spec("a spec field of the wrong type", "/api/v1/plans/x", json!({ "limits": { "users": "ten" } }))
            .answers(422, "invalid_spec"),
        row("a body that is not JSON", M::PUT, "/api/v1/plans/x")
            .raw(Some("text/plain"), "{\"spec\": {}}")
            .answers(415, "unsupported_media_type"),
        row("a body without a content type", M::PUT, "/api/v1/plans/x")
            .raw(None, "{\"spec\": {}}")
            .answers(415, "unsupported_media_type"),
        row("a body over 1 MiB", M::PUT, "/api/v1/plans/x")
            .raw(Some("application/json"), big)
            .own_client()
            .answers(413, "payload_too_large"),
        // Queries and paths.
        row("limit 0", M::GET, "/api/v1/plans?limit=0").answers(400, "invalid_pagination"),
        row("a limit that is not a number", M::GET, "/api/v1/plans?limit=abc")
            .answers(400, "invalid_pagination"),
        row("a limit over the maximum", M::GET, "/api/v1/plans?limit=5000")
            .answers(400, "invalid_pagination"),
        row("a cursor that is not one", M::GET, "/api/v1/audit?cursor=zzz")
            .answers(400, "invalid_pagination"),
        row("an unknown query parameter", M::GET, "/api/v1/plans?bogus=1")
            .answers(400, "invalid_query"),
        row("a missing plan", M::GET, "/api/v1/plans/nope").answers(404, "not_found"),
        row("a missing workspace", M::GET, "/api/v1/tenants/acme/workspaces/nope")
            .answers(404, "not_found"),
        row("a missing invitation", M::POST, "/api/v1/invitations/nope/resend")
            .answers(404, "not_found"),
        row("an unknown invitation link", M::POST, "/api/v1/invitations/accept")
            .auth(Auth::Anonymous)
            .json(json!({ "token": "nope", "password": "a long password" }))
            .answers(404, "not_found"),
        row("a grantee that is not one", M::GET, "/api/v1/tenants/acme/workspaces/paris/grants/nobody")
            .answers(400, "invalid_key"),
        row("a key with a slash", M::GET, "/api/v1/plans/a%2Fb").answers(400, "invalid_key"),
        row("an unknown route", M::GET, "/api/v1/no/such/route").answers(404, "not_found"),
        row("an unknown method", M::PATCH, "/api/v1/plans/essential")
            .answers(405, "method_not_allowed"),
        put_spec("an If-Match that is not a version", "/api/v1/plans/x", json!({}))
            .header("if-match", "yesterday")
            .answers(400, "invalid_if_match"),
        // Authentication.
        row("no token", M::GET, "/api/v1/state")
            .auth(Auth::Anonymous)
            .answers(401, "unauthorized"),
        row("an unknown token", M::GET, "/api/v1/state")
            .auth(Auth::Bearer("tct_not-a-token"))
            .answers(401, "unauthorized"),
        row("basic authentication", M::GET, "/api/v1/state")
            .auth(Auth::Header("Basic Zm9vOmJhcg=="))
            .answers(401, "unauthorized"),
        // Specs are checked against the JSON Schema too, not only serde's shape.
        put_spec("a currency not in the schema", "/api/v1/plans/x", json!({ "price": { "amount": 1, "currency": "eur" } }))
            .answers(422, "invalid_spec"),
        put_spec("a default over the schema's maximum", "/api/v1/models/x", json!({ "deployment_id": "cd", "defaults": { "guidance": 99.0 } }))
            .answers(422, "invalid_spec"),
        put_spec("a spec that is a list", "/api/v1/roles/x", json!([]))
            .answers(422, "invalid_spec"),
        put_spec("a negative limit", "/api/v1/plans/x", json!({ "limits": { "users": -1 } }))
            .answers(422, "invalid_spec"),
        put_spec("a limit over u32", "/api/v1/plans/x", json!({ "limits": { "users": 55_945_195_829u64 } }))
            .answers(422, "invalid_spec"),
        // NUL cannot be stored by PostgreSQL: refused everywhere, as a 4xx.
        row("NUL in an invitation's tenant", M::POST, "/api/v1/invitations")
            .json(json!({ "emails": [], "tenant": "a\u{0}b", "role": "org_admin" }))
            .answers(422, "invalid_body"),
        put_spec("NUL in a spec", "/api/v1/plans/nul", json!({ "display_name": "x\u{0}y" }))
            .answers(422, "invalid_body"),
        row("NUL in an invitation id", M::DELETE, "/api/v1/invitations/inv_%00")
            .answers(404, "not_found"),
        // JSON Schema's `integer` admits `3.0`; so does the API.
        put_spec("an integer written 3.0", "/api/v1/plans/floaty", json!({ "limits": { "users": 3.0 } }))
            .status(201)
            .holds("/spec/limits/users", json!(3)),
        // A batch op with a malformed key or spec names the operation, and writes nothing.
        batch("a batch op with a malformed key", json!({ "operations": [{ "op": "put", "kind": "plan", "key": "ok", "spec": {} }, { "op": "put", "kind": "workspace", "key": "no-slash", "spec": {} }] }))
            .answers(400, "invalid_key")
            .holds("/details/operation", json!(1)),
        batch("a batch put without a spec", json!({ "operations": [{ "op": "put", "kind": "plan", "key": "ok" }] }))
            .answers(422, "invalid_spec")
            .holds("/details/operation", json!(0)),
        row("nothing written by the refused batches", M::GET, "/api/v1/plans/ok")
            .answers(404, "not_found"),
        // The batch accepts bodies beyond the 1 MiB of other endpoints.
        batch("a batch of 20,000 operations", json!({ "operations": bulk }))
            .status(200)
            .holds("/applied", json!(20_000)),
    ]
}

async fn bad_requests(s: &TestServer) {
    fixture::load(s).await;
    let mut failures = Vec::new();
    let rows = bad_request_rows();
    let n = rows.len();
    for r in rows {
        if let Err(why) = bad_request(s, &r).await {
            failures.push(format!("{} {} ({}): {why}", r.method, r.path, r.what));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Sends one row's request and checks the answer.
async fn bad_request(s: &TestServer, r: &Row) -> Result<(), String> {
    let client = if r.own_client {
        reqwest::Client::new()
    } else {
        s.client.clone()
    };
    let mut req = client
        .request(r.method.clone(), format!("{}{}", s.url(), r.path))
        .body(r.body.clone());
    req = match r.auth {
        Auth::System => req.bearer_auth(s.system_token()),
        Auth::Anonymous => req,
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Header(h) => req.header("authorization", h),
    };
    if let Some(ct) = r.content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in &r.headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.map_err(|e| format!("not sent: {e}"))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.map_err(|e| format!("no body: {e}"))?;
    let shown = &text[..text.len().min(300)];
    if status != r.status {
        return Err(format!("status {status}, expected {}: {shown}", r.status));
    }
    let body: Value = serde_json::from_str(&text).map_err(|_| format!("not JSON: {shown}"))?;
    if status >= 400 {
        // Every error has the same shape.
        if content_type.as_deref() != Some("application/json") {
            return Err(format!("content type {content_type:?}: {shown}"));
        }
        if !(body["code"].is_string() && body["message"].is_string() && body["details"].is_object())
        {
            return Err(format!("not a {{code, message, details}} error: {shown}"));
        }
    }
    if let Some(code) = r.code {
        if body["code"] != code {
            return Err(format!("code {}, expected {code}: {shown}", body["code"]));
        }
    }
    for (pointer, want) in &r.holds {
        let got = body.pointer(pointer).unwrap_or(&Value::Null);
        if got != want {
            return Err(format!("{pointer} is {got}, expected {want}: {shown}"));
        }
    }
    Ok(())
}

async fn whoami_and_tokens(s: &TestServer) {
    let a = s.get("/api/v1/whoami").await;
    assert_eq!(a.body["scope"], "system");
    assert_eq!(a.body["user"], Value::Null);
    let t = s
        .token("tenant:acme", Some("billing_admin"), Some("x@acme.example"))
        .await;
    let a = s
        .call(Method::GET, "/api/v1/whoami", Some(&t), None, &[])
        .await;
    assert_eq!(a.body["scope"], "tenant:acme");
    assert_eq!(a.body["role"], "billing_admin");
    assert_eq!(a.body["user"], "x@acme.example");
    for bad in [
        json!({ "scope": "tenant:", "role": "org_admin" }),
        json!({ "scope": "system", "role": "king" }),
        json!({ "scope": "planet", "role": "member" }),
    ] {
        let a = s.post("/api/v1/tokens", bad.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            a.text
        );
    }
    let a = s
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&t),
            Some(&json!({ "scope": "system", "role": "org_admin" })),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // The token is stored hashed.
    assert!(!database_contains(s, &t).await);
    assert_eq!(
        s.call(Method::GET, "/healthz", None, None, &[])
            .await
            .status,
        StatusCode::OK
    );
}

on_both!(
    crud_and_versions,
    every_kind_round_trips,
    two_writers_same_version,
    batch_all_or_nothing,
    cascades,
    rule_2_org_admin,
    rule_3_limits,
    rule_5_and_7_identities,
    rule_6_self_protection,
    rule_8_invitations,
    block_reset_remove,
    audit_log,
    dashboard_and_csv,
    bad_requests,
    whoami_and_tokens,
);

/// A new database prints a bootstrap token once; a restart prints none, and the state
/// survives the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_once_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let cfg = tenantctl::server::ServerConfig {
        database_url: url.clone(),
        listen: "127.0.0.1:0".into(),
    };
    let s1 = tenantctl::server::start(cfg.clone()).await.unwrap();
    let token = s1
        .bootstrap_token
        .clone()
        .expect("bootstrap token on a new database");
    let c = reqwest::Client::new();
    let r = c
        .put(format!("{}/api/v1/plans/keep", s1.url()))
        .bearer_auth(&token)
        .json(&json!({ "spec": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    s1.shutdown().await;
    let minted = tenantctl::server::mint_token(
        &url,
        "tenant:acme",
        Some("member"),
        None,
        Some("test"),
        None,
    )
    .await
    .unwrap();
    let s2 = tenantctl::server::start(cfg).await.unwrap();
    assert!(s2.bootstrap_token.is_none(), "no second bootstrap token");
    let r = c
        .get(format!("{}/api/v1/plans/keep", s2.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .get(format!("{}/api/v1/whoami", s2.url()))
        .bearer_auth(&minted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s2.shutdown().await;
}
