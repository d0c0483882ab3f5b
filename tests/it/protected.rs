//! `protected: true` enforced by the platform itself (issue 10, item 5): a direct `DELETE`
//! of a protected resource, a batch delete, or a delete whose cascade would take a
//! protected child, is refused with 409 `resource_protected` naming the flag; unprotecting
//! is an explicit, audited update first. A rename of a protected tenant still applies (the
//! plan unprotects the old key in the same batch). Over SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Ctx, TestServer};
use crate::on_both;

async fn protected_deletes(s: &TestServer) {
    crate::common::fixture::load(s).await;
    let ws = "/api/v1/tenants/acme/workspaces/paris";
    let r = s
        .call(
            Method::PUT,
            ws,
            Some(s.system_token()),
            Some(&json!({ "spec": { "display_name": "Paris" }, "protected": true })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let revision = s.get("/api/v1/state").await.body["revision"].clone();

    let r = s.delete(ws).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "resource_protected");
    let m = r.body["message"].as_str().expect("message");
    assert!(
        m.contains("workspace `acme/paris` is protected (`protected: true`)")
            && m.contains("`protected: false`"),
        "{m}"
    );
    // The tenant's delete would cascade to it.
    let r = s.delete("/api/v1/tenants/acme").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["details"]["protected_key"], "acme/paris");
    // A batch too, all or nothing.
    let r = s
        .batch(json!({ "operations": [
            { "op": "delete", "kind": "grant", "key": "acme/lyon/tenant" },
            { "op": "delete", "kind": "workspace", "key": "acme/paris" }
        ] }))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["details"]["operation"], 1);
    let after = s.get("/api/v1/state").await;
    assert_eq!(after.body["revision"], revision, "nothing was written");
    assert!(after.body["grants"]["acme/lyon/tenant"].is_object());

    // Unprotect (an audited update), then delete.
    let r = s
        .call(
            Method::PUT,
            ws,
            Some(s.system_token()),
            Some(&json!({ "spec": { "display_name": "Paris" }, "protected": false })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s.delete(ws).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let audit = s.get("/api/v1/audit?limit=100").await;
    let entries = audit.body["items"].as_array().expect("items");
    let paris: Vec<(&str, bool, bool)> = entries
        .iter()
        .filter(|e| e["key"] == "acme/paris" && e["kind"] == "workspace")
        .map(|e| {
            (
                e["op"].as_str().unwrap_or_default(),
                e["before"]["protected"].as_bool().unwrap_or_default(),
                e["after"]["protected"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    // Newest first: the delete, the unprotect, the protect.
    assert_eq!(
        &paris[..3],
        [
            ("delete", false, false),
            ("put", true, false),
            ("put", false, true)
        ]
    );
}

on_both!(protected_deletes);

/// A protected tenant renamed with `previously:` is applied: the plan unprotects the old
/// keys first (in the batch, or before the deletes resource by resource), and the new ones
/// are protected.
async fn rename_protected(mode: &[&str]) {
    let ctx = Ctx::sqlite().await;
    let v1 = r#"
plans:
  basic: {}
tenants:
  lumen: { plan: basic, protected: true, workspaces: { atelier: { protected: true } } }
users:
  sophie@lumen.example: { memberships: { lumen: { role: org_admin } } }
"#;
    let v2 = r#"
plans:
  basic: {}
tenants:
  maison-lumen: { previously: lumen, plan: basic, protected: true, workspaces: { atelier: { protected: true } } }
users:
  sophie@lumen.example: { memberships: { maison-lumen: { role: org_admin } } }
"#;
    let write = |name: &str, yaml: &str| {
        let p = ctx.dir().join(format!("{name}.yaml"));
        std::fs::write(&p, yaml).expect("write");
        p.to_str().expect("utf-8").to_string()
    };
    let (p1, p2) = (write("v1", v1), write("v2", v2));
    let r = ctx.tenantctl(["apply", "--auto-approve", &p1]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = ctx
        .tenantctl(
            ["apply", "--auto-approve"]
                .into_iter()
                .chain(mode.iter().copied())
                .chain([p2.as_str()]),
        )
        .await;
    assert_eq!(r.code, 0, "{mode:?}\n{}\n{}", r.stdout, r.stderr);
    let live = ctx.live().await;
    assert!(!live.tenants.contains_key("lumen"));
    assert!(live.tenants["maison-lumen"].protected);
    assert!(live.workspaces["maison-lumen/atelier"].protected);
    let r = ctx.tenantctl(["plan", "--detailed-exitcode", &p2]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_tenant_can_be_renamed_in_a_batch() {
    rename_protected(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_tenant_can_be_renamed_resource_by_resource() {
    rename_protected(&["--parallelism", "2"]).await;
}
