//! Sensitive fields (issue 10, item 2, the platform's side): an apply says which fields of
//! a spec came from `${env:…}`; the platform keeps their values out of its audit log (a
//! marker in their place), remembers where each came from for `export`, and forgets them
//! with their resource. Over SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestServer;
use crate::on_both;

const SECRET_1: &str = "+33 1 70 36 99 01";
const SECRET_2: &str = "+33 1 70 36 99 02";
const SECRET_3: &str = "acct-4451-secret";

fn no_secret_in(audit: &serde_json::Value) {
    let text = audit.to_string();
    for secret in [SECRET_1, SECRET_2, SECRET_3] {
        assert!(
            !text.contains(secret),
            "the audit log holds `{secret}`: {text}"
        );
    }
}

async fn sensitive_values_stay_out_of_the_audit_log(s: &TestServer) {
    crate::common::fixture::load(s).await;
    let sensitive = json!([
        { "pointer": "/contact/phone", "source": "${env:ACME_PHONE}" },
        { "pointer": "/description", "source": "Account ${env:ACME_ACCOUNT} at HQ" }
    ]);
    let r = s
        .batch(json!({ "operations": [{
            "op": "put", "kind": "tenant", "key": "acme",
            "spec": { "display_name": "Acme SAS", "plan": "essential",
                      "contact": { "phone": SECRET_1 }, "description": format!("Account {SECRET_3} at HQ") },
            "sensitive": sensitive
        }] }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The value changes: the audit says so (a new version) without saying what.
    let r = s
        .call(
            Method::PUT,
            "/api/v1/tenants/acme",
            Some(s.system_token()),
            Some(&json!({
                "spec": { "display_name": "Acme SAS", "plan": "essential",
                          "contact": { "phone": SECRET_2 }, "description": format!("Account {SECRET_3} at HQ") },
                "sensitive": sensitive
            })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The platform still holds the values (the reconciler diffs them)…
    let live = s.get("/api/v1/tenants/acme").await;
    assert_eq!(live.body["spec"]["contact"]["phone"], SECRET_2);
    // …and where they came from.
    let fields = s.get("/api/v1/sensitive-fields").await;
    assert_eq!(fields.status, StatusCode::OK, "{}", fields.text);
    assert_eq!(
        fields.body,
        json!({ "items": [
            { "kind": "tenant", "key": "acme", "pointer": "/contact/phone", "source": "${env:ACME_PHONE}" },
            { "kind": "tenant", "key": "acme", "pointer": "/description", "source": "Account ${env:ACME_ACCOUNT} at HQ" }
        ] })
    );
    // Another tenant's token does not see them.
    let globex = s.token("tenant:globex", Some("org_admin"), None).await;
    let r = s
        .call(
            Method::GET,
            "/api/v1/sensitive-fields",
            Some(&globex),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body, json!({ "items": [] }));

    let audit = s.get("/api/v1/audit?limit=1000").await;
    no_secret_in(&audit.body);
    let acme: Vec<&serde_json::Value> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["kind"] == "tenant" && e["key"] == "acme")
        .collect();
    let update = acme[0];
    assert_eq!(update["before"]["spec"]["contact"]["phone"], "(sensitive)");
    assert_eq!(update["after"]["spec"]["contact"]["phone"], "(sensitive)");
    assert_eq!(update["after"]["spec"]["description"], "(sensitive)");
    assert_eq!(update["after"]["spec"]["display_name"], "Acme SAS");
    assert_eq!(
        update["after"]["sensitive"],
        json!(["/contact/phone", "/description"])
    );
    assert!(update["after"]["version"].as_i64() > update["before"]["version"].as_i64());

    // A put that does not say keeps what the platform knew: still masked.
    let r = s
        .call(
            Method::PUT,
            "/api/v1/tenants/acme",
            Some(s.system_token()),
            Some(&json!({ "spec": { "display_name": "Acme", "plan": "essential",
                                    "contact": { "phone": SECRET_1 }, "description": format!("Account {SECRET_3} at HQ") } })),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A declaration that names no string of the spec is refused.
    let r = s
        .batch(json!({ "operations": [{
            "op": "put", "kind": "tenant", "key": "acme", "spec": { "plan": "essential" },
            "sensitive": [{ "pointer": "/contact/phone", "source": "${env:ACME_PHONE}" }]
        }] }))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"]["operation"], 0);
    // The delete (with its cascade) is masked too, and the platform forgets the fields.
    let r = s.delete("/api/v1/tenants/acme").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    no_secret_in(&s.get("/api/v1/audit?limit=1000").await.body);
    assert_eq!(
        s.get("/api/v1/sensitive-fields").await.body,
        json!({ "items": [] })
    );
}

on_both!(sensitive_values_stay_out_of_the_audit_log);
