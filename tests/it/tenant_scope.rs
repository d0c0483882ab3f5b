//! A tenant team's repository with a tenant-scoped token (issue 10, item 4): the platform
//! says in `whoami` what the token reaches; a plan covers only that. What the token cannot
//! see is listed once as out of scope and left alone; a change it may not make is an error
//! before any write; the catalog is read-only. Over SQLite and PostgreSQL.

use crate::common::context::Run;
use crate::common::{Ctx, TestServer};
use crate::ctx_snapshot;

/// Two tenants on one platform, `lumen` with workspaces, tenant model grants, granular
/// grants and a direct user model grant; `boreal` beside it.
const PLATFORM: &str = r#"
plans:
  studio: { display_name: Studio, limits: { users: 20 } }
  archive: { display_name: Archive }
models:
  flacon-v2: { deployment_id: cd-flacon-2 }
  portrait-v1: { deployment_id: cd-portrait-1 }
roles:
  retoucheur:
    display_name: Retoucheur
    workspaces: selected
    permissions: [models.use]
tenants:
  lumen:
    display_name: Maison Lumière
    plan: studio
    workspaces:
      atelier: { display_name: Atelier }
      campagnes: { display_name: Campagnes }
    models:
      flacon-v2: { admin_only: false }
      portrait-v1: { admin_only: true }
    grants:
      - { workspace: atelier, to: { role: retoucheur }, actions: [read, update] }
  boreal:
    display_name: Chaussures Boréal
    plan: studio
    workspaces:
      lookbook: {}
    models:
      portrait-v1: {}
    grants:
      - { workspace: lookbook, to: { tenant: true }, actions: [read] }
users:
  sophie@lumen.example:
    first_name: Sophie
    memberships: { lumen: { role: org_admin } }
  julien@lumen.example:
    first_name: Julien
    memberships: { lumen: { role: user_admin } }
  camille@lumen.example:
    first_name: Camille
    memberships: { lumen: { role: retoucheur, workspaces: [atelier] } }
    models: { portrait-v1: allow }
  marc@boreal.example:
    first_name: Marc
    memberships: { boreal: { role: org_admin } }
"#;

/// The new member the tenant team adds.
const NEW_MEMBER: &str = r#"
  yuki@lumen.example:
    first_name: Yuki
    memberships: { lumen: { role: member, workspaces: [campagnes] } }
"#;

fn write(ctx: &Ctx, name: &str, yaml: &str) -> String {
    let path = ctx.dir().join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write");
    path.to_str().expect("utf-8").to_string()
}

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}\n{}\n{}", r.stdout, r.stderr);
}

/// The platform applied by a system token, and a `user_admin` token of `lumen`.
async fn setup(ctx: &Ctx) -> String {
    let all = write(ctx, "platform", PLATFORM);
    ok(
        &ctx.tenantctl(["apply", "--auto-approve", &all]).await,
        "system apply",
    );
    ctx.server()
        .token("tenant:lumen", Some("user_admin"), None)
        .await
}

async fn a_user_admin_adds_a_member(ctx: Ctx) {
    let token = setup(&ctx).await;
    let before = ctx.live().await;
    let v2 = write(&ctx, "v2", &format!("{PLATFORM}{NEW_MEMBER}"));

    // The plan holds the member and nothing else: lumen's model grants, grants and user
    // model grants are visible and unchanged; boreal is out of scope.
    let r = ctx.tenantctl(["plan", &v2]).token(&token).await;
    ok(&r, "plan");
    ctx_snapshot!(ctx, "tenant_scope_plan_human", r.stdout);
    let r = ctx
        .tenantctl(["plan", "--format", "json", &v2])
        .token(&token)
        .await;
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json plan");
    let changes: Vec<(String, String, String)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("kind"), s("key"))
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("create".into(), "user".into(), "yuki@lumen.example".into()),
            (
                "create".into(),
                "membership".into(),
                "yuki@lumen.example/lumen".into()
            ),
        ]
    );
    assert_eq!(
        plan["out_of_scope"],
        serde_json::json!({
            "token": "`user_admin` token of tenant `lumen`",
            "not_visible": { "tenant": 1, "workspace": 1, "tenant_model": 1, "grant": 1, "user": 1, "membership": 1 },
            "read_only": {}
        })
    );
    let r = ctx
        .tenantctl(["plan", "--format", "markdown", &v2])
        .token(&token)
        .await;
    assert!(
        r.stdout
            .contains("not visible to this token: 1 tenant, 1 workspace, 1 tenant model grant, 1 grant, 1 user, 1 membership"),
        "{}",
        r.stdout
    );

    // Apply with the tenant token: only the member is written; boreal is untouched.
    ok(
        &ctx.tenantctl(["apply", "--auto-approve", &v2])
            .token(&token)
            .await,
        "tenant apply",
    );
    let after = ctx.live().await;
    assert!(after.users.contains_key("yuki@lumen.example"));
    assert_eq!(
        after.memberships["yuki@lumen.example/lumen"].spec.role,
        "member"
    );
    assert_eq!(after.tenants["boreal"], before.tenants["boreal"]);
    assert_eq!(after.grants.len(), before.grants.len());
    assert_eq!(after.tenant_models, before.tenant_models);
    // Converged, for the tenant token and for a system token.
    let r = ctx
        .tenantctl(["plan", "--detailed-exitcode", &v2])
        .token(&token)
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = ctx.tenantctl(["plan", "--detailed-exitcode", &v2]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_admin_adds_a_member_sqlite() {
    a_user_admin_adds_a_member(Ctx::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_admin_adds_a_member_postgres() {
    if let Some(ctx) = Ctx::postgres().await {
        a_user_admin_adds_a_member(ctx).await;
    }
}

/// A resource the token sees but may not change is an error before any write, naming the
/// resource and who may change it; the catalog is read-only (edits refused, entries the
/// repository leaves out left alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_token_cannot_change_is_refused_before_any_write() {
    let ctx = Ctx::sqlite().await;
    let token = setup(&ctx).await;
    let revision = ctx.live().await.revision;
    // A tenant model grant made admin-only and a plan changed: both read-only for
    // user_admin (a user admin manages workspaces, 003, but not the models granted to its
    // tenant); plus a new member, which it may add.
    let edited = format!("{PLATFORM}{NEW_MEMBER}")
        .replace(
            "flacon-v2: { admin_only: false }",
            "flacon-v2: { admin_only: true }",
        )
        .replace(
            "archive: { display_name: Archive }",
            "archive: { display_name: Archives }",
        );
    let v3 = write(&ctx, "v3", &edited);
    let r = ctx.tenantctl(["plan", &v3]).token(&token).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    ctx_snapshot!(ctx, "tenant_scope_not_permitted", r.stdout);
    let r = ctx
        .tenantctl(["apply", "--auto-approve", &v3])
        .token(&token)
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not_permitted"), "{}", r.stderr);
    assert_eq!(ctx.live().await.revision, revision, "nothing was written");

    // The same with --parallelism: refused before any write too.
    let r = ctx
        .tenantctl(["apply", "--auto-approve", "--parallelism", "2", &v3])
        .token(&token)
        .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(ctx.live().await.revision, revision, "nothing was written");

    // Promoting a member is a membership change the token may make in part only: the
    // platform refuses it, before any write, in both modes.
    let promoted = format!("{PLATFORM}{NEW_MEMBER}").replace(
        "{ lumen: { role: member, workspaces: [campagnes] } }",
        "{ lumen: { role: org_admin } }",
    );
    let v5 = write(&ctx, "v5", &promoted);
    for mode in [
        &["apply", "--auto-approve"][..],
        &["apply", "--auto-approve", "--parallelism", "2"],
    ] {
        let r = ctx
            .tenantctl(mode.iter().copied().chain([v5.as_str()]))
            .token(&token)
            .await;
        assert_eq!(r.code, 1, "{mode:?}\n{}\n{}", r.stdout, r.stderr);
        let message = r.stderr_flat();
        assert!(
            message.contains("membership `yuki@lumen.example/lumen`")
                && message.contains("which this token may not make; nothing was applied"),
            "{mode:?}: {message}"
        );
        assert_eq!(
            ctx.live().await.revision,
            revision,
            "{mode:?}: nothing was written"
        );
    }

    // A repository that declares only what lumen uses: the `archive` plan it leaves out is
    // not deleted (read-only), and the member is added.
    let only_lumen =
        format!("{PLATFORM}{NEW_MEMBER}").replace("  archive: { display_name: Archive }\n", "");
    let v4 = write(&ctx, "v4", &only_lumen);
    let r = ctx.tenantctl(["plan", &v4]).token(&token).await;
    ok(&r, "plan of a partial catalog");
    assert!(
        r.stdout.contains("read-only for this token: 1 plan"),
        "{}",
        r.stdout
    );
    ok(
        &ctx.tenantctl(["apply", "--auto-approve", &v4])
            .token(&token)
            .await,
        "apply of a partial catalog",
    );
    let live = ctx.live().await;
    assert!(live.plans.contains_key("archive"));
    assert!(live.users.contains_key("yuki@lumen.example"));
    ctx.shutdown().await;
}

/// The `access` table `GET /whoami` publishes for `token`.
async fn whoami(s: &TestServer, token: &str) -> serde_json::Value {
    let who = s
        .call(
            reqwest::Method::GET,
            "/api/v1/whoami",
            Some(token),
            None,
            &[],
        )
        .await;
    assert!(who.status.is_success(), "{}", who.text);
    who.body["access"].clone()
}

/// `whoami` publishes the token's reach kind by kind; `GET /state` holds exactly what it
/// says the token reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_says_what_the_token_reaches() {
    let s = TestServer::sqlite().await;
    crate::common::fixture::load(&s).await;
    for (role, readable) in [
        (
            "user_admin",
            &[
                "plans",
                "models",
                "roles",
                "tenants",
                "workspaces",
                "tenant_models",
                "grants",
                "users",
                "memberships",
                "user_models",
            ][..],
        ),
        (
            "billing_admin",
            &[
                "plans",
                "models",
                "roles",
                "tenants",
                "workspaces",
                "users",
                "memberships",
            ][..],
        ),
    ] {
        let token = s.token("tenant:acme", Some(role), None).await;
        let who = whoami(&s, &token).await;
        let access = who.as_array().expect("access");
        assert_eq!(access.len(), 10);
        let state = s
            .call(
                reqwest::Method::GET,
                "/api/v1/state",
                Some(&token),
                None,
                &[],
            )
            .await;
        for a in access {
            let kind = a["kind"].as_str().expect("kind");
            let plural = tenantctl::model::Kind::parse(kind).expect("kind").plural();
            let n = state.body[plural].as_object().map_or(0, |m| m.len());
            if readable.contains(&plural) {
                assert_ne!(a["read"], "none", "{role} {kind}");
                assert!(n > 0, "{role} reads {plural}: {}", state.text);
            } else {
                assert_eq!(a["read"], "none", "{role} {kind}");
                assert_eq!(n, 0, "{role} must not read {plural}");
            }
        }
        // The catalog is read-only for every tenant token.
        for a in &access[..3] {
            assert_eq!(a["write"], "none", "{role}: {a}");
        }
    }
    s.shutdown().await;
}

/// A `billing_admin` reads its tenant, its workspaces (003: it sees all workspaces) and
/// the tenant's users only: the rest of its own tenant is out of scope as well, and its
/// plan of the whole platform changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_admin_plans_only_what_it_reads() {
    let ctx = Ctx::sqlite().await;
    setup(&ctx).await;
    let token = ctx
        .server()
        .token("tenant:lumen", Some("billing_admin"), None)
        .await;
    let all = write(&ctx, "platform", PLATFORM);
    let r = ctx
        .tenantctl(["plan", "--format", "json", "--detailed-exitcode", &all])
        .token(&token)
        .await;
    ok(&r, "billing_admin plan");
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("json plan");
    assert_eq!(plan["changes"], serde_json::json!([]));
    assert_eq!(
        plan["out_of_scope"]["not_visible"],
        serde_json::json!({ "tenant": 1, "workspace": 1, "tenant_model": 3, "grant": 2,
                            "user": 1, "membership": 1, "user_model": 1 })
    );
    ctx.shutdown().await;
}

/// A token acting as a user publishes that user's reach: exactly its role's (the same table
/// as a token of that role), narrowed by the token's own role; a user whose role does not
/// read the organisation reaches nothing, and the note says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_of_a_token_acting_as_a_user() {
    use crate::common::fixture::{ALICE, BOB};
    let s = TestServer::sqlite().await;
    crate::common::fixture::load(&s).await;
    let access = |token: String| {
        let s = &s;
        async move { whoami(s, &token).await }
    };
    let role = |r: &'static str| s.token("tenant:acme", Some(r), None);
    let alice = access(s.token("tenant:acme", None, Some(ALICE)).await).await;
    assert_eq!(alice, access(role("org_admin").await).await);
    assert_eq!(
        alice[3]["write"], "tenant",
        "org_admin changes its tenant: {alice}"
    );
    let narrowed = access(
        s.token("tenant:acme", Some("user_admin"), Some(ALICE))
            .await,
    )
    .await;
    assert_eq!(narrowed, access(role("user_admin").await).await);
    let bob = access(s.token("tenant:acme", None, Some(BOB)).await).await;
    for a in bob.as_array().expect("access") {
        assert_eq!(
            (&a["read"], &a["write"]),
            (&"none".into(), &"none".into()),
            "{a}"
        );
        assert!(
            a["note"]
                .as_str()
                .is_some_and(|n| n.contains("organization.read")),
            "{a}"
        );
    }
    s.shutdown().await;
}
