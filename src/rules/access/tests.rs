//! The decision on small states written as YAML: one `ask` helper, many small cases.

use super::*;
use crate::config::Document;
use crate::model::catalog::PermSet;

const BASE: &str = r#"
plans:
  essential: {}
models:
  portrait-v1: { deployment_id: cd-portrait, defaults: { lora_weight: 0.8, guidance: 3.5, prompts: { generation: "a portrait" } } }
  sneaker-v2: { deployment_id: cd-sneaker }
  other: { deployment_id: cd-other }
roles:
  manager:
    workspaces: all
    permissions: [users.invite, users.remove, users.promote, project.create, project.delete, project.rename, project.update, project.read, project.list, models.use, survey.read, annotation.access]
  contributor:
    workspaces: selected
    permissions: [project.read, project.list, survey.read, annotation.access]
  auditor:
    workspaces: selected
    permissions: []
tenants:
  acme:
    plan: essential
    workspaces: { paris: {}, lyon: {}, nice: {} }
    models:
      portrait-v1: { admin_only: false, defaults: { guidance: 4.0, prompts: { upscale: "sharper" } } }
      sneaker-v2: { admin_only: true }
    grants:
      - { workspace: lyon, to: { role: contributor }, actions: [update] }
      - { workspace: nice, to: { user: carol@acme.example }, actions: [delete] }
      - { workspace: nice, to: { tenant: true }, actions: [read] }
  frozen:
    plan: essential
    status: suspended
    models: { portrait-v1: {} }
users:
  alice@acme.example: { memberships: { acme: { role: org_admin } } }
  bob@acme.example:
    memberships: { acme: { role: member } }
    models: { other: allow, sneaker-v2: allow }
  carol@acme.example: { memberships: { acme: { role: contributor, workspaces: [paris] } } }
  dan@acme.example: { memberships: { acme: { role: manager } } }
  erin@acme.example:
    memberships: { acme: { role: member } }
    models: { portrait-v1: deny }
  fay@acme.example: { status: blocked, memberships: { acme: { role: org_admin } } }
  gus@acme.example: { memberships: { frozen: { role: org_admin } } }
  root@platform.example: { system_role: super_admin }
  hal@acme.example: { memberships: { acme: { role: billing_admin } } }
  ivy@acme.example: { memberships: { acme: { role: auditor } } }
"#;

fn state() -> State {
    let doc: Document = serde_saphyr::from_str(BASE).expect("test YAML parses");
    doc.into_desired().state
}

fn model(user: &str, model: &str, tenant: Option<&str>) -> Decision {
    decide(&state(), user, &Question::Model { model, tenant })
}

fn perm(user: &str, permission: &str, workspace: Option<&str>) -> Decision {
    decide(
        &state(),
        user,
        &Question::Permission {
            permission,
            tenant: Some("acme"),
            workspace,
        },
    )
}

/// `allowed` and the reason's code, the way a test reads best.
fn outcome(d: &Decision) -> (bool, &'static str) {
    (d.allowed, d.reason.code())
}

#[test]
fn a_member_uses_a_model_granted_to_its_tenant_with_the_tenant_settings() {
    let d = model("bob@acme.example", "portrait-v1", Some("acme"));
    assert_eq!(outcome(&d), (true, "tenant_grant"));
    let Some(Effective::Model {
        deployment_id,
        tenant,
        defaults,
        ..
    }) = &d.effective
    else {
        panic!("no effective settings: {d:?}")
    };
    assert_eq!(deployment_id, "cd-portrait");
    assert_eq!(tenant.as_deref(), Some("acme"));
    assert_eq!(defaults.guidance, Some(4.0), "the tenant's override");
    assert_eq!(defaults.lora_weight, Some(0.8), "the model's default");
    assert_eq!(defaults.prompts.len(), 2, "prompts merged by name");
}

#[test]
fn an_admin_only_model_is_refused_to_a_member_as_admin_only() {
    let d = model("erin@acme.example", "sneaker-v2", None);
    assert_eq!(outcome(&d), (false, "admin_only"));
    assert_eq!(d.reason.kind(), ReasonKind::AdminOnly);
    assert_eq!(
        outcome(&model("alice@acme.example", "sneaker-v2", None)),
        (true, "tenant_grant")
    );
}

#[test]
fn a_direct_deny_beats_a_tenant_grant() {
    let d = model("erin@acme.example", "portrait-v1", Some("acme"));
    assert_eq!(outcome(&d), (false, "direct_deny"));
    assert_eq!(d.reason.kind(), ReasonKind::ExplicitDeny);
}

#[test]
fn a_direct_allow_needs_no_tenant_grant_and_beats_admin_only() {
    assert_eq!(
        outcome(&model("bob@acme.example", "other", None)),
        (true, "direct_allow")
    );
    assert_eq!(
        outcome(&model("bob@acme.example", "sneaker-v2", Some("acme"))),
        (true, "direct_allow")
    );
}

#[test]
fn a_role_without_models_use_uses_no_model() {
    let d = model("hal@acme.example", "portrait-v1", Some("acme"));
    assert_eq!(outcome(&d), (false, "not_granted"));
    assert!(d.verdict.contains("models.use"), "{}", d.verdict);
}

#[test]
fn a_suspended_tenant_is_an_explicit_deny() {
    let d = model("gus@acme.example", "portrait-v1", None);
    assert_eq!(outcome(&d), (false, "tenant_suspended"));
    assert_eq!(d.reason.kind(), ReasonKind::ExplicitDeny);
    let d = decide(
        &state(),
        "gus@acme.example",
        &Question::Permission {
            permission: "users.invite",
            tenant: Some("frozen"),
            workspace: None,
        },
    );
    assert_eq!(outcome(&d), (false, "tenant_suspended"));
}

#[test]
fn a_blocked_user_may_do_nothing() {
    assert_eq!(
        outcome(&model("fay@acme.example", "portrait-v1", None)),
        (false, "user_blocked")
    );
    assert_eq!(
        outcome(&perm("fay@acme.example", "users.read", None)),
        (false, "user_blocked")
    );
}

#[test]
fn a_super_admin_may_do_everything_without_a_membership() {
    let d = model("root@platform.example", "portrait-v1", None);
    assert_eq!(outcome(&d), (true, "super_admin"));
    assert_eq!(
        outcome(&perm("root@platform.example", "organization.delete", None)),
        (true, "super_admin")
    );
    let any = decide(
        &state(),
        "root@platform.example",
        &Question::Permission {
            permission: "users.invite",
            tenant: None,
            workspace: None,
        },
    );
    assert_eq!(outcome(&any), (true, "super_admin"));
}

#[test]
fn unknown_things_are_told_apart() {
    assert_eq!(
        outcome(&model("nobody@acme.example", "portrait-v1", None)),
        (false, "unknown_user")
    );
    assert_eq!(
        outcome(&model("bob@acme.example", "portait-v1", None)),
        (false, "unknown_model")
    );
    let d = perm("bob@acme.example", "project.creat", None);
    assert_eq!(outcome(&d), (false, "unknown_permission"));
    assert!(
        d.steps[0].detail.contains("did you mean `project.create`"),
        "{:?}",
        d.steps
    );
    assert_eq!(
        outcome(&perm("bob@acme.example", "project.read", Some("mars"))),
        (false, "unknown_workspace")
    );
}

#[test]
fn a_custom_role_holds_its_permissions_on_the_workspaces_it_sees() {
    assert_eq!(
        outcome(&perm("dan@acme.example", "users.invite", None)),
        (true, "role")
    );
    assert_eq!(
        outcome(&perm("dan@acme.example", "project.delete", Some("lyon"))),
        (true, "role")
    );
    assert_eq!(
        outcome(&perm("carol@acme.example", "users.invite", None)),
        (false, "not_granted")
    );
    assert_eq!(
        outcome(&perm("carol@acme.example", "survey.read", Some("paris"))),
        (true, "role")
    );
    // Selected workspaces only: lyon is not carol's.
    let d = perm("carol@acme.example", "survey.read", Some("lyon"));
    assert_eq!(outcome(&d), (false, "not_granted"));
    assert!(
        d.steps.iter().any(|s| s.detail.contains("not among them")),
        "{:?}",
        d.steps
    );
}

#[test]
fn workspace_grants_to_a_role_a_user_and_the_tenant() {
    // Role grant: contributors may update lyon (and what `update` gives there).
    assert_eq!(
        outcome(&perm("carol@acme.example", "update", Some("lyon"))),
        (true, "grant")
    );
    assert_eq!(
        outcome(&perm("carol@acme.example", "project.rename", Some("lyon"))),
        (true, "grant")
    );
    assert_eq!(
        outcome(&perm("carol@acme.example", "project.delete", Some("lyon"))),
        (false, "not_granted")
    );
    // User grant and whole-tenant grant on nice.
    assert_eq!(
        outcome(&perm("carol@acme.example", "delete", Some("nice"))),
        (true, "grant")
    );
    assert_eq!(
        outcome(&perm("bob@acme.example", "read", Some("nice"))),
        (true, "grant")
    );
    assert_eq!(
        outcome(&perm("bob@acme.example", "delete", Some("nice"))),
        (false, "not_granted")
    );
    // The built-in admins see every workspace.
    assert_eq!(
        outcome(&perm("hal@acme.example", "project.read", Some("paris"))),
        (true, "role")
    );
}

#[test]
fn implied_permissions_say_what_implies_them() {
    let d = decide(
        &state(),
        "alice@acme.example",
        &Question::Permission {
            permission: "project.update",
            tenant: Some("acme"),
            workspace: Some("paris"),
        },
    );
    assert!(d.allowed);
    let hal = perm("hal@acme.example", "project.read", None);
    assert!(
        hal.steps
            .iter()
            .any(|s| s.detail.contains("through `workspace.read`")),
        "{:?}",
        hal.steps
    );
}

#[test]
fn a_token_role_narrows_and_grants_follow_it() {
    let s = state();
    let dan = standing(&s, "dan@acme.example", "acme", &mut Quiet).expect("dan stands");
    assert!(dan.may(&s, "users.invite", None));
    let narrowed = dan.narrowed(&s, "member");
    assert!(!narrowed.may(&s, "users.invite", None));
    assert!(narrowed.may(&s, "project.read", None));
    assert_eq!(
        narrowed.workspaces,
        Workspaces::Listed(&[]),
        "member sees given workspaces only"
    );
    let carol = standing(&s, "carol@acme.example", "acme", &mut Quiet).expect("carol stands");
    assert!(
        carol.may(&s, "project.update", Some("lyon")),
        "the role grant"
    );
    assert!(!carol
        .narrowed(&s, "auditor")
        .may(&s, "project.update", Some("lyon")));
    let token = Standing::of_role(&s, "acme", "user_admin", &mut Quiet).expect("a token");
    assert!(token.may(&s, "project.create", None) && token.user.is_none());
}

#[test]
fn who_may_give_which_role() {
    let s = state();
    let ua = Standing::of_role(&s, "acme", "user_admin", &mut Quiet).expect("user admin");
    assert_eq!(may_give_role(&s, &ua, "member"), Ok(()));
    let e = may_give_role(&s, &ua, "org_admin").unwrap_err();
    assert!(e.contains("`member`s only"), "{e}");
    let dan = standing(&s, "dan@acme.example", "acme", &mut Quiet).expect("dan");
    assert_eq!(may_give_role(&s, &dan, "contributor"), Ok(()));
    let e = may_give_role(&s, &dan, "org_admin").unwrap_err();
    assert!(
        e.contains("that `dan@acme.example` (`manager` of `acme`) does not hold"),
        "{e}"
    );
    let oa = Standing::of_role(&s, "acme", "org_admin", &mut Quiet).expect("org admin");
    assert_eq!(oa.permissions, PermSet::all());
    assert_eq!(may_give_role(&s, &oa, "org_admin"), Ok(()));
}

#[test]
fn the_quiet_decision_is_the_traced_one() {
    let s = state();
    let users = ["alice", "bob", "carol", "dan", "erin", "fay", "hal", "ivy"];
    for u in users {
        let email = format!("{u}@acme.example");
        let Ok(st) = standing(&s, &email, "acme", &mut Quiet) else {
            continue;
        };
        for p in crate::model::catalog::PERMISSIONS {
            for w in [None, Some("paris"), Some("lyon"), Some("nice")] {
                let traced = decide(
                    &s,
                    &email,
                    &Question::Permission {
                        permission: p.name,
                        tenant: Some("acme"),
                        workspace: w,
                    },
                );
                assert_eq!(
                    st.may(&s, p.name, w),
                    traced.allowed,
                    "{email} {} {w:?}",
                    p.name
                );
            }
        }
    }
}
