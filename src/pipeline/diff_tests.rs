//! Unit tests of the diff, fed as the pipeline feeds it: one `check` helper over desired YAML
//! and live YAML, many small cases.

use crate::config::Document;
use crate::model::{Kind, State};
use crate::plan::*;

const BASE: &str = r#"
plans:
  essential: { limits: { users: 10, workspaces: 5 } }
tenants:
  acme:
    plan: essential
    workspaces: { paris: {}, lyon: {} }
    grants:
      - { workspace: paris, to: { tenant: true }, actions: [read] }
users:
  alice@acme.example:
    first_name: Alice
    memberships: { acme: { role: org_admin } }
  bob@acme.example:
    first_name: Bob
    memberships: { acme: { role: org_admin } }
  carol@acme.example:
    memberships: { acme: { role: member, workspaces: [paris] } }
"#;

fn desired(yaml: &str) -> PlanInput {
    let doc: Document = serde_saphyr::from_str(yaml).expect("test YAML parses");
    super::plan_input(doc.to_desired())
}

/// A live state from YAML: every resource managed, version 1, revision 7.
fn live(yaml: &str) -> State {
    let mut s = desired(yaml).state;
    s.mark_all_managed(true);
    s.revision = 7;
    for kind in Kind::ALL {
        let keys: Vec<String> = s.keys(*kind).map(str::to_string).collect();
        for k in keys {
            if let Some((mut m, spec)) = s.get(*kind, &k) {
                m.version = 1;
                s.insert(k, m, spec);
            }
        }
    }
    s
}

fn plan(desired_yaml: &str, live_state: &State, opts: &PlanOptions) -> Plan {
    diff(&desired(desired_yaml), live_state, opts)
}

/// One line per change: `action kind key [previous] {fields} (reason)`.
fn lines(p: &Plan) -> Vec<String> {
    p.changes
        .iter()
        .map(|c| {
            let mut s = format!("{} {} {}", c.action.as_str(), c.kind, c.key);
            if let Some(prev) = &c.previous_key {
                s += &format!(" <- {prev}");
            }
            let fields: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
            if !fields.is_empty() {
                s += &format!(" [{}]", fields.join(","));
            }
            if let Some(r) = &c.reason {
                s += &format!(" ({})", r.code());
            }
            if !c.moved.is_empty() {
                s += &format!(" +{} moved", c.moved.len());
            }
            s
        })
        .collect()
}

fn check(desired_yaml: &str, live_yaml: &str, expect: &[&str]) -> Plan {
    let p = plan(desired_yaml, &live(live_yaml), &PlanOptions::default());
    assert_eq!(lines(&p), expect, "\nfull plan: {p:#?}");
    p
}

#[test]
fn from_empty_creates_everything_in_dependency_order() {
    let p = plan(BASE, &State::default(), &PlanOptions::default());
    let kinds: Vec<Kind> = p.changes.iter().map(|c| c.kind).collect();
    let ranks: Vec<u8> = kinds.iter().map(|k| rank(*k)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    assert_eq!(
        p.summary(),
        Summary {
            create: 11,
            update: 0,
            replace: 0,
            delete: 0
        }
    );
    assert!(p
        .changes
        .iter()
        .all(|c| c.writes.len() == 1 && c.writes[0].if_version == 0));
}

#[test]
fn identical_states_have_no_changes() {
    let p = check(BASE, BASE, &[]);
    assert!(!p.has_changes());
    assert_eq!(p.revision, 7);
}

#[test]
fn field_level_update() {
    let d = BASE.replace("first_name: Alice", "first_name: Alicia");
    let p = check(&d, BASE, &["update user alice@acme.example [first_name]"]);
    let f = &p.changes[0].fields[0];
    assert_eq!(f.before, Some(serde_json::json!("Alice")));
    assert_eq!(f.after, Some(serde_json::json!("Alicia")));
    assert_eq!(p.changes[0].writes[0].if_version, 1);
}

#[test]
fn nested_field_added_is_reported_by_leaf() {
    let d = BASE.replace(
        "plan: essential\n",
        "plan: essential\n    limits: { users: 4 }\n",
    );
    check(&d, BASE, &["update tenant acme [limits.users]"]);
}

#[test]
fn managed_resource_left_out_is_deleted() {
    let d = BASE.replace(
        "  carol@acme.example:\n    memberships: { acme: { role: member, workspaces: [paris] } }\n",
        "",
    );
    let p = plan(
        &d,
        &live(BASE),
        &PlanOptions {
            max_delete_percent: 100,
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        lines(&p),
        [
            "delete membership carol@acme.example/acme (removed)",
            "delete user carol@acme.example (removed)"
        ]
    );
    assert!(p.risks.is_empty());
}

#[test]
fn delete_guard_flags_too_many_deletes() {
    let d = BASE.replace(
        "  carol@acme.example:\n    memberships: { acme: { role: member, workspaces: [paris] } }\n",
        "",
    );
    let p = plan(&d, &live(BASE), &PlanOptions::default());
    let codes: Vec<(&str, Kind)> = p.risks.iter().map(|r| (r.code.as_str(), r.kind)).collect();
    assert_eq!(
        codes,
        [
            (TOO_MANY_DELETES, Kind::User),
            (TOO_MANY_DELETES, Kind::Membership)
        ]
    );
    assert!(
        p.risks[0].message.contains("1 of 3 live users (33 %)"),
        "{}",
        p.risks[0].message
    );
    assert_eq!(p.blocking_risks().len(), 2);
}

#[test]
fn unmanaged_is_counted_and_left_alone_unless_prune() {
    let mut l = live(BASE);
    let extra = live("users:\n  dave@acme.example: { first_name: Dave }\n");
    for (k, e) in extra.users {
        l.users.insert(
            k,
            crate::model::Entry {
                managed: false,
                ..e
            },
        );
    }
    let p = plan(BASE, &l, &PlanOptions::default());
    assert!(!p.has_changes());
    assert_eq!(p.unmanaged.get(&Kind::User), Some(&1));
    let p = plan(
        BASE,
        &l,
        &PlanOptions {
            prune: true,
            max_delete_percent: 100,
            ..PlanOptions::default()
        },
    );
    assert_eq!(lines(&p), ["delete user dave@acme.example (pruned)"]);
    assert!(p.unmanaged.is_empty());
}

#[test]
fn mentioning_an_unmanaged_resource_adopts_it() {
    let mut l = live(BASE);
    l.users.get_mut("bob@acme.example").expect("bob").managed = false;
    let p = plan(BASE, &l, &PlanOptions::default());
    assert_eq!(lines(&p), ["update user bob@acme.example [managed]"]);
    assert_eq!(p.changes[0].writes[0].verb, Verb::Adopt);
}

#[test]
fn protected_resource_left_out_is_kept_with_a_warning() {
    let mut l = live(BASE);
    l.tenants.get_mut("acme").expect("acme").protected = true;
    let d = "plans:\n  essential: { limits: { users: 10, workspaces: 5 } }\nusers:\n  alice@acme.example: { first_name: Alice }\n  bob@acme.example: { first_name: Bob }\n  carol@acme.example: {}\n";
    let p = plan(
        d,
        &l,
        &PlanOptions {
            max_delete_percent: 100,
            ..PlanOptions::default()
        },
    );
    assert_eq!(lines(&p), Vec::<String>::new());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.code == "protected_kept" && w.key == "acme"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn parent_of_a_protected_child_is_kept() {
    let mut l = live(BASE);
    l.workspaces.get_mut("acme/paris").expect("paris").protected = true;
    let d = "plans:\n  essential: { limits: { users: 10, workspaces: 5 } }\n";
    let p = plan(
        d,
        &l,
        &PlanOptions {
            max_delete_percent: 100,
            ..PlanOptions::default()
        },
    );
    assert!(
        !p.changes
            .iter()
            .any(|c| c.kind == Kind::Tenant || c.key == "acme/paris"),
        "{:?}",
        lines(&p)
    );
    // What hangs from a kept resource is kept with it.
    assert!(
        !p.changes
            .iter()
            .any(|c| c.kind == Kind::Workspace || c.kind == Kind::Grant),
        "{:?}",
        lines(&p)
    );
    assert!(p
        .warnings
        .iter()
        .any(|w| w.code == "protected_kept" && w.key == "acme"));
}

#[test]
fn deleting_a_tenant_cascades_to_unmanaged_children() {
    let mut l = live(&format!(
        "{BASE}\n  dave@acme.example:\n    memberships: {{ acme: {{ role: member }} }}\n"
    ));
    l.memberships
        .get_mut("dave@acme.example/acme")
        .expect("dave")
        .managed = false;
    l.users.get_mut("dave@acme.example").expect("dave").managed = false;
    let d = "plans:\n  essential: { limits: { users: 10, workspaces: 5 } }\nusers:\n  alice@acme.example: { first_name: Alice }\n  bob@acme.example: { first_name: Bob }\n  carol@acme.example: {}\n";
    let p = plan(
        d,
        &l,
        &PlanOptions {
            max_delete_percent: 100,
            ..PlanOptions::default()
        },
    );
    assert!(
        lines(&p).contains(&"delete membership dave@acme.example/acme (cascade)".to_string()),
        "{:?}",
        lines(&p)
    );
    assert_eq!(p.unmanaged.get(&Kind::User), Some(&1));
    let last = p.changes.last().expect("changes");
    assert_eq!((last.kind, last.action), (Kind::Tenant, Action::Delete));
}

#[test]
fn tenant_rename_is_one_update_carrying_its_children() {
    let d = BASE
        .replace(
            "  acme:\n    plan",
            "  acme-corp:\n    previously: acme\n    plan",
        )
        .replace("{ acme: {", "{ acme-corp: {");
    let p = check(
        &d,
        BASE,
        &["update tenant acme-corp <- acme [key] +6 moved"],
    );
    let c = &p.changes[0];
    let puts = c.writes.iter().filter(|o| o.verb == Verb::Put).count();
    let deletes = c.writes.iter().filter(|o| o.verb == Verb::Delete).count();
    // The old children go with the old tenant: the platform cascades.
    assert_eq!((puts, deletes), (7, 1));
    let order: Vec<(Verb, Kind)> = p.writes().iter().map(|(_, o)| (o.verb, o.kind)).collect();
    assert_eq!(order.first(), Some(&(Verb::Put, Kind::Tenant)));
    assert_eq!(order.last(), Some(&(Verb::Delete, Kind::Tenant)));
    assert!(p.risks.is_empty(), "{:?}", p.risks);
}

#[test]
fn rename_with_a_changed_child_shows_the_child() {
    let d = BASE
        .replace(
            "  acme:\n    plan",
            "  acme-corp:\n    previously: acme\n    plan",
        )
        .replace("{ acme: {", "{ acme-corp: {")
        .replace("paris: {}", "paris: { display_name: Paris }");
    check(
        &d,
        BASE,
        &[
            "update tenant acme-corp <- acme [key] +5 moved",
            "update workspace acme-corp/paris <- acme/paris [key,display_name]",
        ],
    );
}

#[test]
fn a_rename_already_applied_is_a_no_op() {
    let d = BASE
        .replace(
            "  acme:\n    plan",
            "  acme-corp:\n    previously: acme\n    plan",
        )
        .replace("{ acme: {", "{ acme-corp: {");
    let after = d.replace("    previously: acme\n", "");
    check(&d, &after, &[]);
}

#[test]
fn workspace_rename_moves_its_grants() {
    let d = BASE
        .replace("paris: {}", "paris-centre: { previously: paris }")
        .replace("workspace: paris", "workspace: paris-centre")
        .replace("[paris]", "[paris-centre]");
    check(
        &d,
        BASE,
        &[
            "update workspace acme/paris-centre <- acme/paris [key] +1 moved",
            "update membership carol@acme.example/acme [workspaces]",
        ],
    );
}

#[test]
fn email_change_is_one_replace() {
    let d = BASE.replace(
        "  bob@acme.example:\n",
        "  robert@acme.example:\n    previously: bob@acme.example\n",
    );
    let p = check(
        &d,
        BASE,
        &["replace user robert@acme.example <- bob@acme.example [email] (email)"],
    );
    let ops: Vec<(Verb, Kind, &str)> = p
        .writes()
        .iter()
        .map(|(_, o)| (o.verb, o.kind, o.key.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (Verb::Put, Kind::User, "robert@acme.example"),
            (Verb::Put, Kind::Membership, "robert@acme.example/acme"),
            (Verb::Delete, Kind::User, "bob@acme.example"),
        ]
    );
    assert_eq!(p.summary().replace, 1);
}

#[test]
fn workspace_moved_to_another_tenant_is_a_replace() {
    let two = format!("{BASE}\n")
        .replace(
            "users:\n",
            "  globex:\n    plan: essential\n    workspaces: { berlin: {} }\nusers:\n",
        )
        .replace(
            "acme: { role: org_admin } }\n  bob",
            "acme: { role: org_admin }, globex: { role: org_admin } }\n  bob",
        );
    let d = two
        .replace(
            "workspaces: { paris: {}, lyon: {} }",
            "workspaces: { paris: {} }",
        )
        .replace(
            "workspaces: { berlin: {} }",
            "workspaces: { berlin: {}, lyon: { previously: acme/lyon } }",
        );
    let p = plan(&d, &live(&two), &PlanOptions::default());
    assert_eq!(
        lines(&p),
        ["replace workspace globex/lyon <- acme/lyon [key,tenant] (tenant)"]
    );
}

#[test]
fn rule_6_the_applying_identity_cannot_demote_or_remove_itself() {
    let me = PlanOptions {
        identity: Identity {
            user: Some("alice@acme.example".into()),
        },
        max_delete_percent: 100,
        ..PlanOptions::default()
    };
    let d = BASE.replace(
        "memberships: { acme: { role: org_admin } }\n  bob",
        "memberships: { acme: { role: member } }\n  bob",
    );
    let p = plan(&d, &live(BASE), &me);
    assert_eq!(
        p.risks.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        [SELF_LOCKOUT]
    );
    assert!(p.risks[0]
        .message
        .contains("demote itself from `org_admin` to `member`"));
    let d = BASE.replace(
        "first_name: Alice",
        "first_name: Alice\n    status: blocked",
    );
    assert_eq!(plan(&d, &live(BASE), &me).risks[0].code, SELF_LOCKOUT);
    // Someone else's demotion is fine.
    let d = BASE.replace(
        "memberships: { acme: { role: org_admin } }\n  carol",
        "memberships: { acme: { role: member } }\n  carol",
    );
    assert!(plan(&d, &live(BASE), &me).risks.is_empty());
}

#[test]
fn rule_9_limit_below_live_usage_is_a_risk() {
    let d = BASE.replace(
        "plan: essential\n",
        "plan: essential\n    limits: { users: 2 }\n",
    );
    let p = plan(&d, &live(BASE), &PlanOptions::default());
    assert_eq!(p.risks.len(), 1, "{:?}", p.risks);
    assert_eq!(p.risks[0].code, LIMIT_BELOW_USAGE);
    assert!(
        p.risks[0]
            .message
            .contains("goes from 10 to 2, below its 3 live members"),
        "{}",
        p.risks[0].message
    );
    assert_eq!(p.blocking_risks().len(), 1);
    let allowed = PlanOptions {
        allow_limit_below_usage: true,
        ..PlanOptions::default()
    };
    let p = plan(&d, &live(BASE), &allowed);
    assert!(p.blocking_risks().is_empty());
    assert_eq!(
        p.risks[0].acknowledged,
        Some(Acknowledged::Flag("--allow-limit-below-usage".into()))
    );
    // Raising a limit, or lowering it above usage, is no risk.
    let d = BASE.replace(
        "plan: essential\n",
        "plan: essential\n    limits: { users: 3 }\n",
    );
    assert!(plan(&d, &live(BASE), &PlanOptions::default())
        .risks
        .is_empty());
}

#[test]
fn targets_keep_the_target_its_dependencies_and_children() {
    let d = BASE
        .replace("first_name: Alice", "first_name: Alicia")
        .replace("paris: {}", "paris: { display_name: Paris }");
    let opts = PlanOptions {
        targets: vec![(Kind::Tenant, "acme".into())],
        ..PlanOptions::default()
    };
    assert_eq!(
        lines(&plan(&d, &live(BASE), &opts)),
        ["update workspace acme/paris [display_name]"]
    );
    let opts = PlanOptions {
        targets: vec![(Kind::User, "alice@acme.example".into())],
        ..PlanOptions::default()
    };
    assert_eq!(
        lines(&plan(&d, &live(BASE), &opts)),
        ["update user alice@acme.example [first_name]"]
    );
    // From empty, a membership target brings its user, its tenant and the tenant's plan.
    let opts = PlanOptions {
        targets: vec![(Kind::Membership, "carol@acme.example/acme".into())],
        ..PlanOptions::default()
    };
    let l = lines(&plan(BASE, &State::default(), &opts));
    assert_eq!(
        l,
        [
            "create plan essential",
            "create tenant acme",
            "create workspace acme/paris",
            "create user carol@acme.example",
            "create membership carol@acme.example/acme"
        ]
    );
}

#[test]
fn validate_warnings_are_in_the_plan() {
    let d = BASE.replace(
        "memberships: { acme: { role: org_admin } }\n  bob",
        "memberships: { acme: { role: member } }\n  bob",
    );
    let p = plan(&d, &live(BASE), &PlanOptions::default());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.code == "single_org_admin" && w.key == "acme"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn parse_targets() {
    assert_eq!(
        parse_target("tenant/acme"),
        Ok((Kind::Tenant, "acme".into()))
    );
    assert_eq!(
        parse_target("workspaces/acme/paris"),
        Ok((Kind::Workspace, "acme/paris".into()))
    );
    assert!(parse_target("tenant").is_err());
    assert!(parse_target("tenent/acme")
        .unwrap_err()
        .contains("not a kind"));
}

#[test]
fn deletes_leave_cascades_to_the_platform_and_delete_tenants_before_users() {
    let d = "plans:\n  essential: { limits: { users: 10, workspaces: 5 } }\n";
    let p = plan(
        d,
        &live(BASE),
        &PlanOptions {
            max_delete_percent: 100,
            ..PlanOptions::default()
        },
    );
    assert_eq!(p.summary().delete, 10, "{:?}", lines(&p));
    let ops: Vec<(Verb, Kind, &str)> = p
        .writes()
        .iter()
        .map(|(_, o)| (o.verb, o.kind, o.key.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (Verb::Delete, Kind::Tenant, "acme"),
            (Verb::Delete, Kind::User, "alice@acme.example"),
            (Verb::Delete, Kind::User, "bob@acme.example"),
            (Verb::Delete, Kind::User, "carol@acme.example"),
        ]
    );
    // Shown in the same order as applied: children first, tenants before users.
    let kinds: Vec<Kind> = p.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds.first(), Some(&Kind::Grant));
    assert_eq!(kinds.last(), Some(&Kind::User));
}

#[test]
fn replacing_a_protected_user_is_refused() {
    let mut l = live(BASE);
    l.users.get_mut("bob@acme.example").expect("bob").protected = true;
    let d = BASE.replace(
        "  bob@acme.example:\n",
        "  robert@acme.example:\n    previously: bob@acme.example\n",
    );
    let p = plan(&d, &l, &PlanOptions::default());
    assert_eq!(
        p.risks.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        [PROTECTED_REPLACE]
    );
    assert_eq!(p.blocking_risks().len(), 1);
}

mod acknowledge;
