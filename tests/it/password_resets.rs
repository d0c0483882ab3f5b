//! Password resets (issue 12, items 5 and 7) over the real server on SQLite and PostgreSQL:
//! a redeemed link sets the password (argon2id) once — two redeems at once answer 200 once
//! and 409 once —, a user asks for a link by e-mail (same answer for any address; the
//! e-mail, in the user's language, arrives through a real SMTP server), and "change all
//! passwords" ends the sessions of every user the caller may change and e-mails each a link.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::smtp::SmtpSink;
use crate::common::{fixture, Answer, TestServer};
use crate::on_both;

/// One test per backend, each with its own SMTP sink.
macro_rules! with_mail {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::common::smtp::{free_port, mail_options, SmtpSink};
                use crate::common::TestServer;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let port = free_port();
                    let s = TestServer::sqlite_with(mail_options(port)).await;
                    let sink = SmtpSink::start(port);
                    super::$name(&s, &sink).await;
                    s.shutdown().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let port = free_port();
                    let Some(s) = TestServer::postgres_with(mail_options(port)).await else { return };
                    let sink = SmtpSink::start(port);
                    super::$name(&s, &sink).await;
                    s.shutdown().await;
                }
            }
        )*
    };
}

const NEW_PASSWORD: &str = "a new long passphrase";

async fn public_post(s: &TestServer, path: &str, body: Value) -> Answer {
    s.call(Method::POST, path, None, Some(&body), &[]).await
}

async fn redeem(s: &TestServer, token: &str, password: &str) -> Answer {
    public_post(
        s,
        "/api/v1/password-resets/redeem",
        json!({ "token": token, "password": password }),
    )
    .await
}

/// An administrator's reset link for `email` (system token); its token.
async fn admin_link(s: &TestServer, email: &str) -> String {
    let a = s
        .post(
            &format!("/api/v1/users/{email}/password-reset"),
            Value::Null,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let link = a.body["link"].as_str().unwrap();
    link.split("token=").nth(1).unwrap().to_string()
}

/// The password hash stored for `email`.
async fn password_hash(s: &TestServer, email: &str) -> Option<String> {
    let q = "SELECT password_hash FROM user_accounts WHERE email = $1";
    if s.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&s.database_url).await.unwrap();
        let v: Option<Option<String>> = sqlx::query_scalar(q)
            .bind(email)
            .fetch_optional(&pool)
            .await
            .unwrap();
        pool.close().await;
        v.flatten()
    } else {
        let pool = sqlx::PgPool::connect(&s.database_url).await.unwrap();
        let v: Option<Option<String>> = sqlx::query_scalar(q)
            .bind(email)
            .fetch_optional(&pool)
            .await
            .unwrap();
        pool.close().await;
        v.flatten()
    }
}

/// The audit entries of operation `op`, newest first.
async fn audit_of(s: &TestServer, op: &str) -> Vec<Value> {
    let a = s.get("/api/v1/audit?limit=1000").await;
    a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["op"] == op)
        .cloned()
        .collect()
}

/// Redeems of one link at once — two, then eight — answer 200 once and 409 for the others,
/// never 500 (SQLite answered `database is locked` when redeeming read, then wrote).
async fn two_redeems_of_one_link_at_once_answer_200_once_and_409_once(s: &TestServer) {
    fixture::load(s).await;
    for round in 0..6 {
        let token = admin_link(s, fixture::BOB).await;
        let password = format!("{NEW_PASSWORD} {round}");
        let at_once = if round % 2 == 0 { 2 } else { 8 };
        let url = format!("{}/api/v1/password-resets/redeem", s.url());
        let body = json!({ "token": token, "password": password });
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..at_once {
            let (client, url, body) = (s.client.clone(), url.clone(), body.clone());
            set.spawn(async move {
                let r = client.post(url).json(&body).send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            });
        }
        let answers = set.join_all().await;
        let mut got: Vec<u16> = answers.iter().map(|a| a.0).collect();
        got.sort_unstable();
        let mut want = vec![409; at_once - 1];
        want.insert(0, 200);
        assert_eq!(got, want, "round {round}: {answers:?}");
        for (_, lost) in answers.iter().filter(|a| a.0 == 409) {
            assert_eq!(lost["code"], "reset_used", "{lost}");
        }
    }
    let phc = password_hash(s, fixture::BOB).await.expect("a password");
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(tenantctl::server::passwords::verify_blocking(
        &format!("{NEW_PASSWORD} 5"),
        &phc
    ));
    assert_eq!(audit_of(s, "password_reset_redeemed").await.len(), 6);
}

/// Redeeming sets the password once, checks it first (a weak one leaves the link usable),
/// ends the user's other links, and the audit log holds neither secret nor password.
async fn a_redeemed_link_sets_the_password_and_ends_the_others(s: &TestServer) {
    fixture::load(s).await;
    let first = admin_link(s, fixture::FRANK).await;
    let second = admin_link(s, fixture::FRANK).await;
    let a = redeem(s, &first, "short").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "weak_password");
    let a = redeem(s, &first, fixture::FRANK).await;
    assert_eq!(a.body["code"], "weak_password", "not the e-mail address");
    assert_eq!(password_hash(s, fixture::FRANK).await, None);
    let a = redeem(s, &first, NEW_PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["email"], fixture::FRANK);
    let a = redeem(s, &second, "another long passphrase").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.body["code"], "reset_used");
    let a = redeem(s, "not-a-link", NEW_PASSWORD).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let phc = password_hash(s, fixture::FRANK).await.unwrap();
    assert!(tenantctl::server::passwords::verify_blocking(
        NEW_PASSWORD,
        &phc
    ));
    // The account is active now.
    let a = s.get(&format!("/api/v1/users/{}", fixture::FRANK)).await;
    assert_eq!(a.body["account"]["status"], "active", "{}", a.text);
    let audit = s.get("/api/v1/audit?limit=1000").await.text;
    for secret in [&first, &second, &NEW_PASSWORD.to_string(), &phc] {
        assert!(
            !audit.contains(secret.as_str()),
            "a secret in the audit log"
        );
    }
    assert_eq!(audit_of(s, "password_reset").await.len(), 2);
    let redeemed = audit_of(s, "password_reset_redeemed").await;
    assert_eq!(redeemed.len(), 1);
    assert_eq!(redeemed[0]["key"], fixture::FRANK);
}

/// Signs `email` in with `password`; the session's secret.
async fn sign_in(s: &TestServer, email: &str, password: &str) -> String {
    let a = public_post(
        s,
        "/api/v1/sessions",
        json!({ "email": email, "password": password }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["token"].as_str().unwrap().to_string()
}

/// `GET /me` with a session's secret: its status.
async fn me(s: &TestServer, secret: &str) -> StatusCode {
    s.call(Method::GET, "/api/v1/me", Some(secret), None, &[])
        .await
        .status
}

/// A redeemed link ends every session of its user, on every device, and the old password
/// no longer signs in.
async fn a_redeemed_link_ends_the_users_sessions(s: &TestServer) {
    fixture::load(s).await;
    let token = admin_link(s, fixture::BOB).await;
    assert_eq!(
        redeem(s, &token, NEW_PASSWORD).await.body["sessions_ended"],
        0
    );
    let laptop = sign_in(s, fixture::BOB, NEW_PASSWORD).await;
    let phone = sign_in(s, fixture::BOB, NEW_PASSWORD).await;
    let frank = {
        activate(s, fixture::FRANK).await;
        sign_in(s, fixture::FRANK, NEW_PASSWORD).await
    };
    assert_eq!(me(s, &laptop).await, StatusCode::OK);
    let token = admin_link(s, fixture::BOB).await;
    let a = redeem(s, &token, "the newest passphrase").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["sessions_ended"], 2, "{}", a.text);
    for secret in [&laptop, &phone] {
        assert_eq!(me(s, secret).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        me(s, &frank).await,
        StatusCode::OK,
        "another user's session stays"
    );
    let a = public_post(
        s,
        "/api/v1/sessions",
        json!({ "email": fixture::BOB, "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "the old password: {}",
        a.text
    );
    sign_in(s, fixture::BOB, "the newest passphrase").await;
    let ended: Vec<Value> = audit_of(s, "revoke")
        .await
        .into_iter()
        .filter(|e| e["kind"] == "session" && e["after"]["reason"] == "password_reset")
        .collect();
    assert_eq!(ended.len(), 2, "{ended:?}");
}

/// A user deleted after its link was made: the link answers 404.
async fn a_link_of_a_deleted_user_does_not_redeem(s: &TestServer) {
    fixture::load(s).await;
    let token = admin_link(s, fixture::FRANK).await;
    let a = s.delete(&format!("/api/v1/users/{}", fixture::FRANK)).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    let a = redeem(s, &token, NEW_PASSWORD).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
}

on_both!(
    two_redeems_of_one_link_at_once_answer_200_once_and_409_once,
    a_redeemed_link_ends_the_users_sessions,
    a_redeemed_link_sets_the_password_and_ends_the_others,
    a_link_of_a_deleted_user_does_not_redeem,
);

/// The token of the reset link in an e-mail's text, checking the HTML has the same link.
fn reset_token(message: &Value) -> String {
    let text = message["text"].as_str().unwrap();
    let start = text
        .find("https://admin.example/reset-password?token=")
        .unwrap_or_else(|| panic!("no reset link in {text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(message["html"].as_str().unwrap().contains(&link));
    link.split("token=").nth(1).unwrap().to_string()
}

/// The reset e-mails `to` received so far (the invitations of the fixture left aside).
fn reset_mails(sink: &SmtpSink, to: &str) -> Vec<Value> {
    sink.messages()
        .into_iter()
        .filter(|m| {
            m["to"] == to
                && m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("/reset-password?token="))
        })
        .collect()
}

/// Waits (up to 20 s) until `to` has received `n` reset e-mails; returns them.
async fn wait_reset_mails(sink: &SmtpSink, to: &str, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let got = reset_mails(sink, to);
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{n} reset e-mail(s) for {to}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Gives `email` a password (an administrator's link, redeemed), so it is active.
async fn activate(s: &TestServer, email: &str) {
    let token = admin_link(s, email).await;
    let a = redeem(s, &token, NEW_PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

/// How many reset links were stored for `email` (the request is handled after the answer).
async fn wait_resets(s: &TestServer, email: &str, n: usize) {
    let start = Instant::now();
    loop {
        let got = audit_of(s, "password_reset")
            .await
            .iter()
            .filter(|e| e["key"] == email)
            .count();
        if got >= n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{n} resets for {email}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The user asks for a reset: the answer is the same for a known address, an unknown one
/// and a blocked user's; the e-mail (in French, for Alice) carries a link that redeems once;
/// at most three per hour are sent.
async fn asking_for_a_reset_by_e_mail(s: &TestServer, sink: &SmtpSink) {
    fixture::load(s).await;
    activate(s, fixture::ALICE).await; // language fr
    activate(s, fixture::BOB).await;
    let a = s
        .post(
            &format!("/api/v1/users/{}/block", fixture::BOB),
            Value::Null,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ask = |email: &str| public_post(s, "/api/v1/password-resets", json!({ "email": email }));
    let known = ask(" Alice@Acme.example ").await;
    let unknown = ask("nobody@nowhere.example").await;
    let blocked = ask(fixture::BOB).await;
    let pending = ask(fixture::CAROL).await; // never chose a password
    for a in [&known, &unknown, &blocked, &pending] {
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
        assert_eq!(a.body, known.body);
    }
    let mail = wait_reset_mails(sink, fixture::ALICE, 1).await.remove(0);
    assert!(
        mail["subject"].as_str().unwrap().contains("mot de passe"),
        "{mail}"
    );
    let token = reset_token(&mail);
    let a = redeem(s, &token, "le nouveau mot de passe").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = redeem(s, &token, "le nouveau mot de passe").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    // Six more asks in the hour, all at once: the answer stays the same, and two more
    // e-mails go (three in the hour), however the asks interleave.
    let url = format!("{}/api/v1/password-resets", s.url());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, url) = (s.client.clone(), url.clone());
        set.spawn(async move {
            let r = client
                .post(url)
                .json(&json!({ "email": fixture::ALICE }))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        });
    }
    for (status, body) in set.join_all().await {
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body, known.body);
    }
    wait_resets(s, fixture::ALICE, 1 + 3).await; // the admin link of `activate`, and three
    wait_reset_mails(sink, fixture::ALICE, 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(reset_mails(sink, fixture::ALICE).len(), 3);
    let made = audit_of(s, "password_reset").await;
    assert_eq!(
        made.iter().filter(|e| e["key"] == fixture::ALICE).count(),
        4
    );
    // Nobody else got a reset.
    for who in [fixture::BOB, fixture::CAROL, "nobody@nowhere.example"] {
        assert_eq!(reset_mails(sink, who).len(), 0, "{who} got a reset e-mail");
    }
    // One client may ask 30 times an hour (ten so far): then 429 with `Retry-After`,
    // whatever the address asked about.
    let mut accepted = 0;
    let refused = loop {
        let a = ask(if accepted % 2 == 0 {
            "x@nowhere.example"
        } else {
            fixture::ALICE
        })
        .await;
        if a.status != StatusCode::ACCEPTED {
            break a;
        }
        accepted += 1;
        assert!(accepted <= 20, "no limit per client");
    };
    assert_eq!(accepted, 20);
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.body["code"], "too_many_requests");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&retry), "{retry}");
    assert_eq!(
        ask(fixture::ALICE).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// "Change all passwords" of acme by its org_admin: every active member it may change gets
/// an e-mail (their older links end); the super_admin who is a member there is named and
/// left alone; the platform-wide call is the system's.
async fn changing_all_passwords_e_mails_every_user_the_caller_may_change(
    s: &TestServer,
    sink: &SmtpSink,
) {
    fixture::load(s).await;
    let root = "root@acme.example";
    let a = s
        .batch(json!({ "operations": [
            { "op": "put", "kind": "user", "key": root, "spec": { "system_role": "super_admin" } },
            { "op": "put", "kind": "membership", "key": format!("{root}/acme"), "spec": { "role": "member" } },
        ] }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    for u in [fixture::ALICE, fixture::BOB, fixture::FRANK, root] {
        activate(s, u).await;
    }
    let a = s
        .post(
            &format!("/api/v1/users/{}/block", fixture::FRANK),
            Value::Null,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let old = admin_link(s, fixture::BOB).await;
    let bob_session = sign_in(s, fixture::BOB, NEW_PASSWORD).await;
    let root_session = sign_in(s, root, NEW_PASSWORD).await;
    let org_admin = s.token("tenant:acme", Some("org_admin"), None).await;
    let member = s.token("tenant:acme", Some("member"), None).await;
    let path = "/api/v1/tenants/acme/password-resets";
    let call = |token: &str, path: &str| {
        let token = token.to_string();
        let path = path.to_string();
        async move { s.call(Method::POST, &path, Some(&token), None, &[]).await }
    };
    assert_eq!(call(&member, path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&org_admin, "/api/v1/tenants/globex/password-resets")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&org_admin, "/api/v1/password-resets/all").await.status,
        StatusCode::FORBIDDEN
    );
    let a = call(&org_admin, path).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    // acme: alice, carol (pending), bob, frank (blocked), erin (also in globex), root.
    assert_eq!(a.body["users"], 6, "{}", a.text);
    assert_eq!(a.body["emailed"], 2, "{}", a.text);
    assert_eq!(a.body["pending"], 1);
    assert_eq!(a.body["blocked"], 1);
    let mut refused: Vec<&str> = a.body["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    refused.sort_unstable();
    assert_eq!(refused, [fixture::ERIN, root]);
    // Every session of the users it may change ended; the super_admin's stays.
    assert_eq!(a.body["sessions_ended"], 1, "{}", a.text);
    assert_eq!(me(s, &bob_session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(s, &root_session).await, StatusCode::OK);
    // Bob's older link ended; the e-mailed one works, and says why it came.
    assert_eq!(
        redeem(s, &old, NEW_PASSWORD).await.status,
        StatusCode::CONFLICT
    );
    let mail = wait_reset_mails(sink, fixture::BOB, 1).await.remove(0);
    assert!(
        mail["text"].as_str().unwrap().contains("security measure"),
        "{mail}"
    );
    let a = redeem(s, &reset_token(&mail), "after the incident").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    wait_reset_mails(sink, fixture::ALICE, 1).await;
    let entries = audit_of(s, "reset_all_passwords").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["tenant"], "acme");
    assert_eq!(entries[0]["after"]["emailed"], 2);
    // The platform-wide call, by the system, reaches the super_admin too.
    let a = call(s.system_token(), "/api/v1/password-resets/all").await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(a.body["refused"], json!([]));
    assert_eq!(a.body["sessions_ended"], 1, "{}", a.text);
    assert_eq!(me(s, &root_session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["emailed"], 3, "{}", a.text); // alice, bob, root
    wait_reset_mails(sink, root, 1).await;
    assert_eq!(
        reset_mails(sink, fixture::FRANK).len(),
        0,
        "blocked: no e-mail"
    );
}

with_mail!(
    asking_for_a_reset_by_e_mail,
    changing_all_passwords_e_mails_every_user_the_caller_may_change,
);
