//! E-mail and invitations end to end (issue 12, items 1, 2 and 4), over a real SMTP server
//! on a loopback port (`common::smtp`: aiosmtpd) and the real server on SQLite and
//! PostgreSQL: `apply` adds users → each gets an invitation e-mail in their language with a
//! one-time link → accepting it with a password makes them active (argon2id) → signing in →
//! `GET /api/v1/me`; a blocked user cannot sign in; resend replaces the link; an SMTP
//! server down at first gets the message once it is up.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantctl::server::http::extract::hash_secret;

use crate::common::smtp::{free_port, link_token, SmtpSink};
use crate::common::{fixture, Ctx, TestServer};

/// One test per backend, each with its own SMTP sink (or none yet, for the outage).
macro_rules! with_mail {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::common::smtp::{free_port, mail_options};
                use crate::common::TestServer;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let port = free_port();
                    let s = TestServer::sqlite_with(mail_options(port)).await;
                    super::$name(s, port).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let port = free_port();
                    let Some(s) = TestServer::postgres_with(mail_options(port)).await else { return };
                    super::$name(s, port).await;
                }
            }
        )*
    };
}

with_mail!(
    apply_invites_in_the_users_language_and_accepting_activates,
    resend_replaces_the_link_and_invitations_follow_their_lifecycle,
    an_smtp_outage_delays_mail_and_loses_none,
);

/// The text values `q` (one `$1` parameter) selects from the server's database.
async fn db_texts(s: &TestServer, q: &'static str, arg: &str) -> Vec<Option<String>> {
    if s.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&s.database_url).await.unwrap();
        let v = sqlx::query_scalar(q)
            .bind(arg)
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(&s.database_url).await.unwrap();
        let v = sqlx::query_scalar(q)
            .bind(arg)
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        v
    }
}

async fn accept(s: &TestServer, body: Value) -> crate::common::Answer {
    s.call(
        Method::POST,
        "/api/v1/invitations/accept",
        None,
        Some(&body),
        &[],
    )
    .await
}

async fn sign_in(s: &TestServer, email: &str, password: &str) -> crate::common::Answer {
    s.call(
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(&json!({ "email": email, "password": password })),
        &[],
    )
    .await
}

const CONFIG: &str = "\
plans:
  essential: { limits: { users: 10, workspaces: 10 } }
tenants:
  kobayashi:
    display_name: Kobayashi Ramen
    plan: essential
users:
  owner@kobayashi.example:
    first_name: Owner
    memberships:
      kobayashi: { role: org_admin }
  yuki@kobayashi.example:
    first_name: Yuki
    language: ja
    memberships:
      kobayashi: { role: member }
  louise@kobayashi.example:
    first_name: Louise
    language: fr
    memberships:
      kobayashi: { role: member }
";

const YUKI: &str = "yuki@kobayashi.example";
const LOUISE: &str = "louise@kobayashi.example";

async fn apply_invites_in_the_users_language_and_accepting_activates(s: TestServer, port: u16) {
    let sink = SmtpSink::start(port);
    let ctx = Ctx::on(s);
    let path = ctx.path("platform.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    let r = ctx.tenantctl(["apply", "--auto-approve", &path]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = ctx.server();

    // An e-mail in each user's language, naming the tenant by its display name.
    let yuki = sink.wait_for(YUKI, 1).await.remove(0);
    assert!(yuki["subject"].as_str().unwrap().contains("招待"), "{yuki}");
    assert!(yuki["subject"]
        .as_str()
        .unwrap()
        .contains("Kobayashi Ramen"));
    assert_eq!(yuki["from"], "Platform <platform@admin.example>");
    let louise = sink.wait_for(LOUISE, 1).await.remove(0);
    assert!(
        louise["text"]
            .as_str()
            .unwrap()
            .contains("Vous avez été invité"),
        "{louise}"
    );
    let owner = sink.wait_for("owner@kobayashi.example", 1).await.remove(0);
    assert!(owner["text"]
        .as_str()
        .unwrap()
        .contains("You have been invited"));
    let token = link_token(&yuki);

    // Pending until accepted; only the link's hash is stored.
    let a = s.get(&format!("/api/v1/users/{YUKI}")).await;
    assert_eq!(a.body["account"]["status"], "pending", "{}", a.text);
    assert!(a.body["account"]["invited_at"].is_string());
    let hashes = db_texts(
        s,
        "SELECT token_hash FROM invitations WHERE email = $1",
        YUKI,
    )
    .await;
    assert_eq!(hashes, vec![Some(hash_secret(&token))]);
    let a = s.get(&format!("/api/v1/invitations?email={YUKI}")).await;
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", a.text);
    assert_eq!(
        (items[0]["status"].clone(), items[0]["origin"].clone()),
        (json!("pending"), json!("user"))
    );
    assert_eq!(
        items[0]["tenants"],
        json!([{ "tenant": "kobayashi", "role": "member", "workspaces": [] }])
    );

    // A wrong link, a weak password: refused, nothing changes.
    let a = accept(s, json!({ "token": "nope", "password": "a long password" })).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let a = accept(s, json!({ "token": token, "password": "short" })).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "weak_password");
    let a = accept(
        s,
        json!({ "token": token, "password": "ramen-shibuya-2026", "email": LOUISE }),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);

    // Accepted with no administrator's token: active, password stored as argon2id.
    let a = accept(
        s,
        json!({ "token": token, "password": "ramen-shibuya-2026", "email": YUKI }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["user"]["account"]["status"], "active");
    assert_eq!(
        a.body["memberships"][0]["key"],
        "yuki@kobayashi.example/kobayashi"
    );
    let stored = db_texts(
        s,
        "SELECT password_hash FROM user_accounts WHERE email = $1",
        YUKI,
    )
    .await;
    let phc = stored[0].clone().unwrap();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(tenantctl::server::passwords::verify_blocking(
        "ramen-shibuya-2026",
        &phc
    ));
    // Once only.
    let a = accept(
        s,
        json!({ "token": token, "password": "ramen-shibuya-2026" }),
    )
    .await;
    assert_ne!(a.status, StatusCode::OK, "{}", a.text);
    let a = s
        .get(&format!("/api/v1/invitations?email={YUKI}&status=accepted"))
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{}", a.text);

    // Signing in with the password just set: a session acting as yuki, and `GET /me`.
    let a = sign_in(s, YUKI, "ramen-shibuya-2026").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let session = a.body["token"].as_str().unwrap().to_string();
    let me = s
        .call(Method::GET, "/api/v1/me", Some(&session), None, &[])
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["user"]["key"], YUKI);
    assert_eq!(me.body["user"]["spec"]["language"], "ja");
    assert_eq!(me.body["user"]["account"]["status"], "active");
    assert_eq!(
        me.body["memberships"][0]["key"],
        "yuki@kobayashi.example/kobayashi"
    );
    assert_eq!(me.body["invitations"], json!([]), "accepted: none pending");
    assert_eq!(me.body["session"]["tenant"], "kobayashi");
    // Louise has not accepted yet: she cannot sign in, and is told as a wrong password is.
    let pending = sign_in(s, LOUISE, "ramen-shibuya-2026").await;
    let wrong = sign_in(s, YUKI, "not-her-password").await;
    assert_eq!(pending.status, StatusCode::UNAUTHORIZED, "{}", pending.text);
    assert_eq!(pending.body, wrong.body);

    // Status in lists: yuki active, louise pending; the plan does not see any of it.
    let a = s.get("/api/v1/users").await;
    let status = |email: &str| {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["key"] == email)
            .map(|u| u["account"]["status"].clone())
    };
    assert_eq!(status(YUKI), Some(json!("active")));
    assert_eq!(status(LOUISE), Some(json!("pending")));
    let r = ctx.tenantctl(["plan", &path]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("No changes") || r.stdout.contains("no changes"),
        "{}",
        r.stdout
    );
    let r = ctx.tenantctl(["export"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    for field in ["pending", "last_active", "invited_at", "argon2"] {
        assert!(
            !r.stdout.contains(field),
            "export wrote `{field}`: {}",
            r.stdout
        );
    }

    // Last active: a request made as yuki moves it (at most once a minute).
    let t = s.token("tenant:kobayashi", None, Some(YUKI)).await;
    let a = s
        .call(Method::GET, "/api/v1/whoami", Some(&t), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let start = Instant::now();
    let last = loop {
        let a = s.get(&format!("/api/v1/users/{YUKI}")).await;
        if let Some(t) = a.body["account"]["last_active_at"].as_str() {
            break t.to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{}", a.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    s.call(Method::GET, "/api/v1/whoami", Some(&t), None, &[])
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = s.get(&format!("/api/v1/users/{YUKI}")).await;
    assert_eq!(
        a.body["account"]["last_active_at"],
        json!(last),
        "once a minute"
    );

    // The users CSV: status, creation date, last activity, the tenant's display name.
    let a = s.get("/api/v1/exports/users.csv").await;
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(
        lines[0],
        "first_name,last_name,email,created,last_active,status,language,tenant,tenant_name,role"
    );
    let row = |email: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.contains(email))
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let y = row(YUKI);
    assert_eq!(
        (y[4].as_str(), y[5].as_str(), y[6].as_str(), y[8].as_str()),
        (last.as_str(), "active", "ja", "Kobayashi Ramen")
    );
    assert!(y[3].starts_with("20"), "created: {}", y[3]);
    let l = row(LOUISE);
    assert_eq!((l[4].as_str(), l[5].as_str()), ("", "pending"));

    // Blocked, yuki's session ends at once and she cannot sign in again.
    let a = s
        .call(
            Method::POST,
            &format!("/api/v1/users/{YUKI}/block"),
            Some(s.system_token()),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = s
        .call(Method::GET, "/api/v1/me", Some(&session), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    let a = sign_in(s, YUKI, "ramen-shibuya-2026").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    drop(sink);
    ctx.shutdown().await;
}

async fn resend_replaces_the_link_and_invitations_follow_their_lifecycle(s: TestServer, port: u16) {
    let sink = SmtpSink::start(port);
    fixture::load(&s).await;
    const NEW: &str = "nouvelle@new.example";
    // One invitation, two tenants, a personal message, 3 days.
    let a = s
        .post(
            "/api/v1/invitations",
            json!({
                "emails": [NEW],
                "tenants": [
                    { "tenant": "acme", "role": "contributor", "workspaces": ["paris"] },
                    { "tenant": "globex", "role": "member" }
                ],
                "message": "Bienvenue à bord !\n— Alice",
                "language": "fr",
                "expires_in_days": 3
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let inv = a.body["items"][0].clone();
    let id = inv["id"].as_str().unwrap().to_string();
    assert_eq!(inv["status"], "pending");
    let expires = time::OffsetDateTime::parse(
        inv["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((71..=72).contains(&days), "expires in {days} h");
    let first = sink.wait_for(NEW, 1).await.remove(0);
    let subject = first["subject"].as_str().unwrap();
    assert!(
        subject.contains("Acme SAS") && subject.contains("Globex"),
        "{subject}"
    );
    assert!(first["text"]
        .as_str()
        .unwrap()
        .contains("Bienvenue à bord !"));
    assert!(first["html"]
        .as_str()
        .unwrap()
        .contains("Bienvenue à bord !"));
    let old = link_token(&first);

    // Resend: a new link, the old one fails.
    let a = s
        .post(&format!("/api/v1/invitations/{id}/resend"), json!(null))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let both = sink.wait_for(NEW, 2).await;
    let new = both
        .iter()
        .map(link_token)
        .find(|t| *t != old)
        .expect("a second, different link");
    let a = accept(&s, json!({ "token": old, "password": "bienvenue-a-bord" })).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let a = accept(
        &s,
        json!({ "token": new, "password": "bienvenue-a-bord", "first_name": "Nina", "language": "fr" }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(
        a.body["memberships"][0]["spec"],
        json!({ "role": "contributor", "workspaces": ["paris"] })
    );
    assert_eq!(a.body["user"]["spec"]["first_name"], "Nina");
    assert_eq!(a.body["user"]["account"]["status"], "active");
    // Accepted: cannot be resent or revoked.
    let a = s
        .post(&format!("/api/v1/invitations/{id}/resend"), json!(null))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);

    // Revoke: the link stops working.
    let a = s
        .post(
            "/api/v1/invitations",
            json!({ "emails": ["gone@new.example"], "tenant": "acme", "role": "member" }),
        )
        .await;
    let gone = a.body["items"][0]["id"].as_str().unwrap().to_string();
    let token = link_token(&sink.wait_for("gone@new.example", 1).await[0]);
    let a = s.delete(&format!("/api/v1/invitations/{gone}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "revoked");
    let a = accept(&s, json!({ "token": token, "password": "too late anyway" })).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let a = s.get("/api/v1/invitations?status=revoked").await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{}", a.text);
    let a = s.get("/api/v1/invitations?status=maybe").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // Validity: 1 to 30 days.
    let a = s
        .post(
            "/api/v1/invitations",
            json!({ "emails": ["x@new.example"], "tenant": "acme", "role": "member", "expires_in_days": 31 }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "invalid_expiry");

    // Simultaneous invitations of one e-mail to one tenant produce one.
    for i in 0..5 {
        let email = format!("race{i}@new.example");
        let body = json!({ "emails": [email], "tenant": "globex", "role": "member" });
        let (a, b) = tokio::join!(
            s.post("/api/v1/invitations", body.clone()),
            s.post("/api/v1/invitations", body.clone())
        );
        let created = [a.status, b.status]
            .iter()
            .filter(|st| **st == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{} / {}", a.text, b.text);
        let list = s.get(&format!("/api/v1/invitations?email={email}")).await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            1,
            "{}",
            list.text
        );
    }

    // A pending invitation is a row of the users CSV.
    s.post(
        "/api/v1/invitations",
        json!({ "emails": ["csv@new.example"], "tenant": "acme", "role": "member", "language": "ja" }),
    )
    .await;
    let a = s.get("/api/v1/exports/users.csv").await;
    let row = a
        .text
        .lines()
        .find(|l| l.contains("csv@new.example"))
        .unwrap_or_else(|| panic!("{}", a.text));
    assert!(row.ends_with(",pending,ja,acme,Acme SAS,member"), "{row}");
    drop(sink);
    s.shutdown().await;
}

async fn an_smtp_outage_delays_mail_and_loses_none(s: TestServer, port: u16) {
    // No SMTP server yet: the write succeeds, the e-mail waits and is retried.
    fixture::load(&s).await;
    const LATE: &str = "late@acme.example";
    let a = s
        .batch(json!({ "operations": [
            { "op": "put", "kind": "user", "key": LATE, "spec": { "language": "fr" } },
            { "op": "put", "kind": "membership", "key": format!("{LATE}/acme"), "spec": { "role": "member" } }
        ] }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let start = Instant::now();
    loop {
        let attempts = db_texts(
            &s,
            "SELECT CAST(attempts AS TEXT) FROM outbox WHERE recipient = $1 AND status = 'queued' AND last_error IS NOT NULL",
            LATE,
        )
        .await;
        if attempts
            .iter()
            .flatten()
            .any(|n| n.parse::<i64>().unwrap() >= 2)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no failed attempts recorded: {attempts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The server comes up: the message arrives, once.
    let sink = SmtpSink::start(port);
    let got = sink.wait_for(LATE, 1).await;
    assert!(
        got[0]["text"].as_str().unwrap().contains("Acme SAS"),
        "{}",
        got[0]
    );
    let start = Instant::now();
    loop {
        let st = db_texts(&s, "SELECT status FROM outbox WHERE recipient = $1", LATE).await;
        if st == vec![Some("sent".to_string())] {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{st:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.wait_for(LATE, 1).await.len(), 1, "delivered once");
    // The fixture's users were invited too, and their e-mails were not lost either (they
    // arrive as their own retries come due: wait for them, then count).
    let start = Instant::now();
    while sink.messages().len() < 7 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 7);
    drop(sink);
    s.shutdown().await;
}

#[test]
fn serve_without_smtp_says_mail_stays_in_the_outbox() {
    use assert_cmd::cargo::CommandCargoExt;
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let port = free_port();
    let mut child = std::process::Command::cargo_bin("tenantctl")
        .unwrap()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            &db,
        ])
        .env_remove("TENANTCTL_SMTP_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut found = false;
    for _ in 0..20 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.contains("no --smtp: e-mail is kept in the outbox") {
            found = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "{seen}");
    // A URL with credentials is refused: they come from the environment only.
    let out = std::process::Command::cargo_bin("tenantctl")
        .unwrap()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--smtp",
            "smtp://user:secret@mail.example",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TENANTCTL_SMTP_PASSWORD"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}
