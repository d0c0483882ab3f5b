//! Sign-in and sessions (issue 12, items 3 and 7), on SQLite and PostgreSQL: a session acts
//! as its user with exactly that user's access; sign-out, revocation and blocking end it at
//! once; a wrong password, an unknown e-mail and a pending user answer alike; failed
//! attempts are throttled per account and per address, and 30 parallel attempts cannot slip
//! past the limit; every step is in the audit log, never a secret.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantctl::server::sessions::AuthPolicy;
use tenantctl::server::store::{Db, ThrottlePolicy};
use tenantctl::server::ServeOptions;

use crate::common::fixture::{self, ALICE, BOB, DAVE, ERIN, FRANK};
use crate::common::{Answer, TestServer};

const PASSWORD: &str = "correct horse battery";

/// Makes `email` active with `password`, as accepting an invitation does (the e-mail path
/// is `mail.rs`'s).
pub(crate) async fn activate(s: &TestServer, email: &str, password: &str) {
    let phc = tenantctl::server::passwords::hash(password.to_string())
        .await
        .unwrap();
    let db = Db::connect(&s.database_url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.activate_account(email, &phc).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;
}

async fn sign_in(s: &TestServer, body: Value) -> Answer {
    s.call(Method::POST, "/api/v1/sessions", None, Some(&body), &[])
        .await
}

/// Signs `email` in; returns the session's secret and id.
async fn session(s: &TestServer, email: &str, tenant: Option<&str>) -> (String, String) {
    let a = sign_in(
        s,
        json!({ "email": email, "password": PASSWORD, "tenant": tenant }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    (
        a.body["token"].as_str().unwrap().to_string(),
        a.body["session"]["id"].as_str().unwrap().to_string(),
    )
}

async fn as_(s: &TestServer, method: Method, path: &str, secret: &str) -> Answer {
    s.call(method, path, Some(secret), None, &[]).await
}

/// The audit entries with `op`, newest first.
async fn audited(s: &TestServer, op: &str) -> Vec<Value> {
    let a = s.get("/api/v1/audit?limit=500").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["op"] == op)
        .cloned()
        .collect()
}

async fn a_session_acts_as_its_user(s: &TestServer) {
    fixture::load(s).await;
    activate(s, BOB, PASSWORD).await;
    let (secret, id) = session(s, BOB, None).await;
    assert!(secret.starts_with("tcs_"), "{secret}");
    // Exactly the access of a token created with `--user`: the same state, the same refusals.
    let token = s.token("tenant:acme", None, Some(BOB)).await;
    for (path, status) in [
        ("/api/v1/tenants/acme/workspaces/paris", StatusCode::OK),
        ("/api/v1/whoami", StatusCode::OK),
        (
            "/api/v1/users/alice@acme.example/sessions",
            StatusCode::FORBIDDEN,
        ),
        ("/api/v1/state", StatusCode::FORBIDDEN),
        ("/api/v1/tokens", StatusCode::FORBIDDEN),
        ("/api/v1/tenants/globex", StatusCode::NOT_FOUND),
    ] {
        let a = as_(s, Method::GET, path, &secret).await;
        let b = as_(s, Method::GET, path, &token).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        let (mut a, mut b) = (a.body, b.body);
        for v in [&mut a, &mut b] {
            if let Some(o) = v.as_object_mut() {
                o.remove("token_id");
            }
        }
        assert_eq!(a, b, "{path}");
    }
    // `GET /me`: the user, their memberships, their session.
    let me = as_(s, Method::GET, "/api/v1/me", &secret).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["user"]["key"], BOB);
    assert_eq!(me.body["user"]["account"]["status"], "active");
    assert_eq!(me.body["memberships"][0]["key"], format!("{BOB}/acme"));
    assert_eq!(me.body["session"]["id"], id.as_str());
    assert_eq!(me.body["session"]["tenant"], "acme");
    assert_eq!(me.body["session"]["active"], true);
    assert!(!me.text.contains(&secret));
    // A system token acts as no user.
    let a = s.get("/api/v1/me").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    // Signing out ends it at once; a token is not a session.
    let a = as_(s, Method::DELETE, "/api/v1/sessions/current", &token).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let a = as_(s, Method::DELETE, "/api/v1/sessions/current", &secret).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = as_(s, Method::GET, "/api/v1/me", &secret).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert!(a.text.contains("session ended"), "{}", a.text);
    // In the audit log, without a secret.
    let ins = audited(s, "sign_in").await;
    assert_eq!(ins.len(), 1);
    assert_eq!(
        (
            ins[0]["kind"].clone(),
            ins[0]["key"].clone(),
            ins[0]["tenant"].clone()
        ),
        (json!("session"), json!(id), json!("acme"))
    );
    let outs = audited(s, "sign_out").await;
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0]["token_id"], id.as_str());
    let all = s.get("/api/v1/audit?limit=500").await.text;
    assert!(!all.contains(&secret) && !all.contains(PASSWORD));
}

async fn where_a_session_acts(s: &TestServer) {
    fixture::load(s).await;
    // Erin is a member of acme and globex: she says where.
    activate(s, ERIN, PASSWORD).await;
    let a = sign_in(s, json!({ "email": ERIN, "password": PASSWORD })).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "tenant_required");
    assert_eq!(a.body["details"]["tenants"], json!(["acme", "globex"]));
    let (secret, _) = session(s, ERIN, Some("globex")).await;
    let me = as_(s, Method::GET, "/api/v1/me", &secret).await;
    assert_eq!(me.body["session"]["tenant"], "globex");
    assert_eq!(me.body["memberships"].as_array().unwrap().len(), 2);
    let a = sign_in(
        s,
        json!({ "email": ERIN, "password": PASSWORD, "tenant": "initech" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    // A super_admin's session acts as the platform.
    let r = s
        .put(
            &format!("/api/v1/users/{FRANK}"),
            json!({ "first_name": "Frank", "system_role": "super_admin" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    activate(s, FRANK, PASSWORD).await;
    let (secret, _) = session(s, FRANK, None).await;
    let a = as_(s, Method::GET, "/api/v1/tokens", &secret).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let me = as_(s, Method::GET, "/api/v1/me", &secret).await;
    assert!(me.body["session"]["tenant"].is_null(), "{}", me.text);
    // Demoted, the session keeps nothing of the platform's access.
    let r = s
        .put(
            &format!("/api/v1/users/{FRANK}"),
            json!({ "first_name": "Frank" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = as_(s, Method::GET, "/api/v1/tokens", &secret).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
}

async fn who_cannot_sign_in(s: &TestServer) {
    fixture::load(s).await;
    activate(s, BOB, PASSWORD).await;
    // A wrong password, an unknown e-mail and a pending user (no password yet): one answer.
    let wrong = sign_in(s, json!({ "email": BOB, "password": "not the one at all" })).await;
    let unknown = sign_in(
        s,
        json!({ "email": "nobody@acme.example", "password": PASSWORD }),
    )
    .await;
    let pending = sign_in(s, json!({ "email": DAVE, "password": PASSWORD })).await;
    for a in [&wrong, &unknown, &pending] {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
        assert_eq!(a.body, wrong.body);
    }
    let failed = audited(s, "sign_in_failed").await;
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["after"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["pending_user", "unknown_user", "wrong_password"]);
    assert!(failed.iter().all(|e| e["tenant"].is_null()));
    // Blocking a signed-in user ends their sessions at once; blocked, they cannot sign in.
    let (secret, id) = session(s, BOB, None).await;
    let r = s
        .call(
            Method::POST,
            &format!("/api/v1/users/{BOB}/block"),
            Some(s.system_token()),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = as_(s, Method::GET, "/api/v1/me", &secret).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    let a = sign_in(s, json!({ "email": BOB, "password": PASSWORD })).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    let revoked = audited(s, "revoke").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["key"], id.as_str());
    assert_eq!(revoked[0]["after"]["reason"], "user_blocked");
    // Unblocked, they sign in again.
    let r = s
        .call(
            Method::POST,
            &format!("/api/v1/users/{BOB}/unblock"),
            Some(s.system_token()),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    session(s, BOB, None).await;
}

/// 30 parallel attempts against one account: exactly the limit (10) are checked, the
/// others are refused unchecked with 429 and `Retry-After`; then the right password gets
/// the same 429 (a locked account answers as a wrong password would). The same for an
/// e-mail nobody has.
async fn parallel_attempts_cannot_pass_the_limit(s: &TestServer) {
    fixture::load(s).await;
    activate(s, BOB, PASSWORD).await;
    for email in [BOB, "nobody@acme.example"] {
        let mut attempts = tokio::task::JoinSet::new();
        for i in 0..30 {
            let (client, url) = (s.client.clone(), format!("{}/api/v1/sessions", s.url()));
            let body = json!({ "email": email, "password": format!("wrong password {i}") });
            attempts.spawn(async move {
                let r = client.post(url).json(&body).send().await.unwrap();
                let (status, headers) = (r.status(), r.headers().clone());
                let body: Value = r.json().await.unwrap();
                Answer {
                    status,
                    headers,
                    text: body.to_string(),
                    body,
                }
            });
        }
        let answers = attempts.join_all().await;
        let count = |code: StatusCode| answers.iter().filter(|a| a.status == code).count();
        assert_eq!(
            (
                count(StatusCode::UNAUTHORIZED),
                count(StatusCode::TOO_MANY_REQUESTS)
            ),
            (10, 20),
            "{email}: {:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        for a in answers.iter().filter(|a| a.status == 429) {
            let secs: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=31).contains(&secs), "{secs}");
            assert_eq!(a.body["code"], "too_many_attempts");
        }
        let a = sign_in(s, json!({ "email": email, "password": PASSWORD })).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
    }
    let failed = audited(s, "sign_in_failed").await;
    assert_eq!(failed.len(), 20, "10 checked per account");
    // The security log says when a lock started: once per account, at the 10th failure.
    let locks: Vec<&Value> = failed
        .iter()
        .filter(|e| e["after"].get("locked_for_secs").is_some())
        .collect();
    assert_eq!(locks.len(), 2, "{failed:?}");
    assert!(locks.iter().all(|e| e["after"]["locked_for_secs"] == 30));
}

async fn sessions_are_listed_and_ended(s: &TestServer) {
    fixture::load(s).await;
    activate(s, BOB, PASSWORD).await;
    let (one, one_id) = session(s, BOB, None).await;
    let (two, two_id) = session(s, BOB, None).await;
    let path = format!("/api/v1/users/{BOB}/sessions");
    // Bob reads his own, newest first, never a secret.
    let a = as_(s, Method::GET, &path, &one).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ids: Vec<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [two_id.as_str(), one_id.as_str()]);
    assert!(!a.text.contains(&one) && !a.text.contains(&two));
    // He ends one: it stops, the other works.
    let a = as_(s, Method::DELETE, &format!("{path}/{one_id}"), &two).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(
        as_(s, Method::GET, "/api/v1/me", &one).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        as_(s, Method::GET, "/api/v1/me", &two).await.status,
        StatusCode::OK
    );
    // Another tenant's administrator does not see him; another member may not.
    let dave = s.token("tenant:globex", None, Some(DAVE)).await;
    let a = as_(s, Method::GET, &path, &dave).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let erin = s.token("tenant:acme", None, Some(ERIN)).await;
    let a = as_(s, Method::DELETE, &path, &erin).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    // His tenant's administrator ends them all at once.
    let alice = s.token("tenant:acme", None, Some(ALICE)).await;
    let a = as_(s, Method::DELETE, &path, &alice).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["ended"], json!([two_id]));
    assert_eq!(
        as_(s, Method::GET, "/api/v1/me", &two).await.status,
        StatusCode::UNAUTHORIZED
    );
    let a = as_(s, Method::DELETE, &format!("{path}/ses_nope"), &alice).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let revoked = audited(s, "revoke").await;
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(revoked.iter().all(|e| e["kind"] == "session"));
}

crate::on_both!(
    a_session_acts_as_its_user,
    where_a_session_acts,
    who_cannot_sign_in,
    parallel_attempts_cannot_pass_the_limit,
    sessions_are_listed_and_ended,
);

/// A client address is throttled too, across accounts: with a limit of 3 per address,
/// the fourth failed attempt from it is refused unchecked whatever the e-mail.
async fn an_address_is_throttled_across_accounts(s: TestServer) {
    fixture::load(&s).await;
    activate(&s, BOB, PASSWORD).await;
    for i in 0..3 {
        let a = sign_in(
            &s,
            json!({ "email": format!("user{i}@acme.example"), "password": "wrong password" }),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    }
    let a = sign_in(&s, json!({ "email": BOB, "password": PASSWORD })).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
    assert!(a.headers.contains_key("retry-after"));
    s.shutdown().await;
}

fn three_per_address() -> ServeOptions {
    ServeOptions {
        auth: AuthPolicy {
            throttle: ThrottlePolicy {
                address_limit: 3,
                ..ThrottlePolicy::default()
            },
            ..AuthPolicy::default()
        },
        ..ServeOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_throttled_across_accounts_sqlite() {
    an_address_is_throttled_across_accounts(TestServer::sqlite_with(three_per_address()).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_throttled_across_accounts_postgres() {
    if let Some(s) = TestServer::postgres_with(three_per_address()).await {
        an_address_is_throttled_across_accounts(s).await;
    }
}
