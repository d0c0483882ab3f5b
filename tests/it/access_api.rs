//! The question applications ask (`GET /api/v1/access`, `POST /api/v1/access/batch`) and
//! `explain`, on the troubleshooting cases of document 000; tokens acting as users (exactly
//! the user's access; a token's own role only narrows; custom roles); who may ask.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::fixture::{self, ALICE, BOB, DAVE, ERIN};
use crate::common::{Ctx, TestServer};
use crate::{ctx_snapshot, on_both};

/// The platform of the troubleshooting cases, as YAML (applied, then explained live and on
/// this desired state).
const IMAGEGEN: &str = r#"
plans:
  essential: {}
models:
  portrait-v1:
    deployment_id: cd-portrait
    defaults: { lora_weight: 0.8, guidance: 3.5, prompts: { generation: "a studio portrait" } }
  sneaker-v2: { deployment_id: cd-sneaker }
  archive-v0: { deployment_id: cd-archive, defaults: { guidance: 2.0 } }
tenants:
  lumiere:
    plan: essential
    models:
      portrait-v1: { defaults: { guidance: 4.5, prompts: { upscale: "sharper" } } }
      sneaker-v2: { admin_only: true }
  gelee:
    plan: essential
    status: suspended
    models: { portrait-v1: {} }
users:
  ana@lumiere.example: { memberships: { lumiere: { role: org_admin } } }
  ben@lumiere.example: { memberships: { lumiere: { role: org_admin } } }
  cleo@lumiere.example: { memberships: { lumiere: { role: member } } }
  dora@lumiere.example:
    memberships: { lumiere: { role: member } }
    models: { portrait-v1: deny }
  eli@lumiere.example: { status: blocked, memberships: { lumiere: { role: member } } }
  fred@gelee.example: { memberships: { gelee: { role: org_admin } } }
  gina@lumiere.example:
    memberships: { lumiere: { role: member } }
    models: { archive-v0: allow }
  root@platform.example: { system_role: super_admin }
"#;

/// (case, user, model, tenant, allowed, reason kind, reason code): the troubleshooting of
/// document 000, « L'utilisateur ne peut pas accéder à un modèle spécifique ».
const CASES_000: &[(&str, &str, &str, &str, bool, &str, &str)] = &[
    (
        "suspended_tenant",
        "fred@gelee.example",
        "portrait-v1",
        "gelee",
        false,
        "explicit_deny",
        "tenant_suspended",
    ),
    (
        "blocked_user",
        "eli@lumiere.example",
        "portrait-v1",
        "lumiere",
        false,
        "explicit_deny",
        "user_blocked",
    ),
    (
        "admin_only_model_for_a_member",
        "cleo@lumiere.example",
        "sneaker-v2",
        "lumiere",
        false,
        "admin_only",
        "admin_only",
    ),
    (
        "direct_allow_without_a_tenant_grant",
        "gina@lumiere.example",
        "archive-v0",
        "lumiere",
        true,
        "granted",
        "direct_allow",
    ),
    (
        "direct_deny_over_a_tenant_grant",
        "dora@lumiere.example",
        "portrait-v1",
        "lumiere",
        false,
        "explicit_deny",
        "direct_deny",
    ),
    (
        "super_admin",
        "root@platform.example",
        "sneaker-v2",
        "lumiere",
        true,
        "granted",
        "super_admin",
    ),
    (
        "member_with_the_tenant_settings",
        "cleo@lumiere.example",
        "portrait-v1",
        "lumiere",
        true,
        "granted",
        "tenant_grant",
    ),
];

async fn troubleshooting(ctx: Ctx, snapshots: bool) {
    let file = ctx.dir().join("imagegen.yaml");
    std::fs::write(&file, IMAGEGEN).unwrap();
    let path = file.to_str().unwrap().to_string();
    let r = ctx.tenantctl(["apply", "--auto-approve", &path]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = ctx.server();
    for &(case, user, model, tenant, allowed, kind, code) in CASES_000 {
        let a = s
            .get(&format!(
                "/api/v1/access?user={user}&tenant={tenant}&model={model}"
            ))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{case}: {}", a.text);
        assert!(
            a.headers.get("server-timing").is_some(),
            "{case}: Server-Timing"
        );
        let answer = a.body;
        assert_eq!(answer["allowed"], allowed, "{case}: {answer}");
        assert_eq!(
            answer["reason"],
            json!({ "kind": kind, "code": code }),
            "{case}"
        );
        let args = [
            "explain", "user", user, "--model", model, "--tenant", tenant, "--format", "json",
        ];
        let live = ctx.tenantctl(args).await;
        assert_eq!(
            live.code,
            i32::from(!allowed),
            "{case}: exit 0 allowed, 1 denied: {}",
            live.stderr
        );
        let explained: Value = serde_json::from_str(&live.stdout).unwrap();
        assert_eq!(
            explained, answer,
            "{case}: explain --format json is GET /access"
        );
        let mut on_path = args.to_vec();
        on_path.extend(["--path", &path]);
        let desired = ctx.tenantctl(on_path).nowhere().await;
        assert_eq!(desired.code, live.code, "{case}");
        assert_eq!(
            desired.stdout, live.stdout,
            "{case}: live and desired give the same answer"
        );
        let human = ctx.tenantctl(args[..7].to_vec()).await;
        if allowed {
            // « Le modèle n'apparaît pas … vérifiez l'ID ComfyDeploy »: shown with the settings.
            let deployment = if model == "portrait-v1" {
                "cd-portrait"
            } else if model == "sneaker-v2" {
                "cd-sneaker"
            } else {
                "cd-archive"
            };
            assert!(
                human
                    .stdout
                    .contains(&format!("deployment      `{deployment}`")),
                "{case}: {}",
                human.stdout
            );
            assert_eq!(answer["effective"]["deployment_id"], deployment, "{case}");
        }
        if snapshots {
            ctx_snapshot!(ctx, format!("troubleshooting_000_{case}"), human.stdout);
        }
    }
    // The settings that apply: the model's defaults overridden by the tenant's.
    let a = s
        .get("/api/v1/access?user=cleo@lumiere.example&tenant=lumiere&model=portrait-v1")
        .await;
    assert_eq!(
        a.body["effective"],
        json!({ "kind": "model", "model": "portrait-v1", "deployment_id": "cd-portrait", "tenant": "lumiere",
                "defaults": { "lora_weight": 0.8, "guidance": 4.5, "prompts": { "generation": "a studio portrait", "upscale": "sharper" } } })
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn troubleshooting_000_sqlite() {
    troubleshooting(Ctx::sqlite().await, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn troubleshooting_000_postgres() {
    let Some(ctx) = Ctx::postgres().await else {
        return;
    };
    troubleshooting(ctx, false).await;
}

fn invite(email: &str, role: &str) -> Value {
    json!({ "emails": [email], "tenant": "acme", "role": role })
}

/// `token create --scope tenant:T --user E` with no `--role`: exactly E's access in T; a
/// token's own role only narrows; a custom role is a role a token can hold.
async fn tokens_acting_as_users(s: &TestServer) {
    fixture::load(s).await;
    let manager = json!({ "workspaces": "all", "permissions": ["users.invite", "users.remove", "users.promote", "project.create", "project.read", "project.list", "library.read", "library.download", "map.read", "models.use", "survey.read"] });
    assert_eq!(
        s.put("/api/v1/roles/manager", manager).await.status,
        StatusCode::CREATED
    );
    let post = |t: String, body: Value| async move {
        s.call(
            Method::POST,
            "/api/v1/invitations",
            Some(&t),
            Some(&body),
            &[],
        )
        .await
        .status
    };
    // Bob is a member: a token acting as him cannot invite (it once defaulted to org_admin).
    let bob = s.token("tenant:acme", None, Some(BOB)).await;
    assert_eq!(
        post(bob.clone(), invite("n1@new.example", "member")).await,
        StatusCode::FORBIDDEN
    );
    let who = s
        .call(Method::GET, "/api/v1/whoami", Some(&bob), None, &[])
        .await;
    assert_eq!(who.body["role"], Value::Null);
    // A role of its own cannot widen Bob's access…
    let bob_admin = s.token("tenant:acme", Some("org_admin"), Some(BOB)).await;
    assert_eq!(
        post(bob_admin, invite("n2@new.example", "member")).await,
        StatusCode::FORBIDDEN
    );
    // …and narrows Alice's.
    let alice = s.token("tenant:acme", None, Some(ALICE)).await;
    assert_eq!(
        post(alice, invite("n3@new.example", "member")).await,
        StatusCode::CREATED
    );
    let alice_member = s.token("tenant:acme", Some("member"), Some(ALICE)).await;
    assert_eq!(
        post(alice_member, invite("n4@new.example", "member")).await,
        StatusCode::FORBIDDEN
    );
    // A custom role: a token holding it, and a user whose membership has it.
    let manager = s.token("tenant:acme", Some("manager"), None).await;
    assert_eq!(
        post(manager, invite("n5@new.example", "member")).await,
        StatusCode::CREATED
    );
    let a = s
        .put(
            &format!("/api/v1/users/{ERIN}/memberships/acme"),
            json!({ "role": "manager" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let erin = s.token("tenant:acme", None, Some(ERIN)).await;
    assert_eq!(
        post(erin.clone(), invite("n6@new.example", "member")).await,
        StatusCode::CREATED
    );
    let a = s
        .call(
            Method::PUT,
            "/api/v1/tenants/acme/workspaces/nice",
            Some(&erin),
            Some(&json!({ "spec": {} })),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // A manager cannot make an organisation admin: the role holds what it does not.
    let a = s
        .call(
            Method::POST,
            "/api/v1/invitations",
            Some(&erin),
            Some(&invite("n7@new.example", "org_admin")),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert!(a.text.contains("does not hold"), "{}", a.text);
    // Minting: a role that does not exist, a tenant token with neither role nor user.
    for bad in [
        json!({ "scope": "tenant:acme", "role": "nope" }),
        json!({ "scope": "tenant:acme" }),
    ] {
        assert_eq!(
            s.post("/api/v1/tokens", bad).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    // A system token acts as a user only while that user is a super admin.
    let sys_dave = s.token("system", None, Some(DAVE)).await;
    let a = s
        .call(Method::GET, "/api/v1/state", Some(&sys_dave), None, &[])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    // A blocked user's token can do nothing.
    assert_eq!(
        s.post(&format!("/api/v1/users/{BOB}/block"), json!(null))
            .await
            .status,
        StatusCode::OK
    );
    let a = s
        .call(
            Method::GET,
            &format!("/api/v1/access?user={BOB}&tenant=acme&permission=project.read"),
            Some(&bob),
            None,
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
    assert!(a.text.contains("blocked"), "{}", a.text);
}

/// Who may ask, and what a malformed question gets.
async fn who_may_ask(s: &TestServer) {
    fixture::load(s).await;
    let q = |user: &str, extra: &str| format!("/api/v1/access?user={user}&tenant=acme{extra}");
    let status = |token: String, path: String| async move {
        s.call(Method::GET, &path, Some(&token), None, &[])
            .await
            .status
    };
    let admin = s.token("tenant:acme", Some("org_admin"), None).await;
    assert_eq!(
        status(admin, q(BOB, "&permission=project.read")).await,
        StatusCode::OK
    );
    let globex = s.token("tenant:globex", Some("org_admin"), None).await;
    assert_eq!(
        status(globex, q(BOB, "&permission=project.read")).await,
        StatusCode::NOT_FOUND
    );
    let bob = s.token("tenant:acme", None, Some(BOB)).await;
    assert_eq!(
        status(
            bob.clone(),
            q(BOB, "&permission=project.read&workspace=paris")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(bob, q(ALICE, "&permission=project.read")).await,
        StatusCode::FORBIDDEN
    );
    let sys = s.system_token().to_string();
    for (extra, want) in [
        (
            "&permission=project.read&model=m1",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "&model=m1&workspace=paris",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("&permission=read&colour=blue", StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(status(sys.clone(), q(BOB, extra)).await, want, "{extra}");
    }
    assert_eq!(
        status(sys.clone(), "/api/v1/access?tenant=acme&model=m1".into()).await,
        StatusCode::BAD_REQUEST
    );
    // A grant action is the project permission on one workspace.
    let a = s.get(&q(BOB, "&permission=update&workspace=paris")).await;
    assert_eq!(a.body["allowed"], true, "{}", a.text);
    assert_eq!(a.body["reason"]["code"], "grant");
}

/// Many questions in one request, answered in order, each as `GET /access` answers it.
async fn batch(s: &TestServer) {
    fixture::load(s).await;
    let questions = json!([
        { "user": BOB, "tenant": "acme", "model": "m1" },
        { "user": BOB, "tenant": "acme", "permission": "project.update", "workspace": "lyon" },
        { "user": ALICE, "tenant": "acme", "permission": "organization.delete" },
    ]);
    let a = s
        .post("/api/v1/access/batch", json!({ "questions": questions }))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.headers.get("server-timing").is_some());
    let answers = a.body["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 3);
    for (q, answer) in questions.as_array().unwrap().iter().zip(answers) {
        let mut path = format!(
            "/api/v1/access?user={}&tenant=acme",
            q["user"].as_str().unwrap()
        );
        for k in ["model", "permission", "workspace"] {
            if let Some(v) = q[k].as_str() {
                path.push_str(&format!("&{k}={v}"));
            }
        }
        assert_eq!(&s.get(&path).await.body, answer, "{path}");
    }
    assert_eq!(
        answers
            .iter()
            .map(|a| a["allowed"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, false, true]
    );
    let none = s
        .post("/api/v1/access/batch", json!({ "questions": [] }))
        .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({ "user": BOB, "tenant": "acme", "model": "m1" }))
        .collect();
    let a = s
        .post("/api/v1/access/batch", json!({ "questions": many }))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let t = s.token("tenant:acme", Some("org_admin"), None).await;
    let body = json!({ "questions": [ { "user": BOB, "tenant": "acme", "model": "m1" }, { "user": DAVE, "tenant": "globex", "model": "m1" } ] });
    let a = s
        .call(
            Method::POST,
            "/api/v1/access/batch",
            Some(&t),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    assert_eq!(a.body["details"]["question"], 1);
}

on_both!(tokens_acting_as_users, who_may_ask, batch);
