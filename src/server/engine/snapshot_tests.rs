//! The state document built from serialised resources is the document serde writes, for a
//! system token, for every tenant role (a name-only one included) and for users acting with
//! their own access (the same bytes as `filter_state`), before and
//! after changes applied on one copy and passed to the other.

use crate::model::*;
use crate::server::authz::{Principal, Scope};

use super::*;

fn entry_state() -> State {
    let mut s = State::default();
    let put = |s: &mut State, key: &str, spec: AnySpec| {
        s.insert(
            key.to_string(),
            Meta {
                version: 3,
                managed: true,
                protected: false,
            },
            spec,
        );
    };
    put(&mut s, "free", AnySpec::Plan(PlanSpec::default()));
    put(
        &mut s,
        "m1",
        AnySpec::Model(ModelSpec {
            deployment_id: "d".into(),
            ..ModelSpec::default()
        }),
    );
    put(&mut s, "editor", AnySpec::Role(RoleSpec::default()));
    // A role that sees the workspaces by name only (the "**" of 002).
    put(
        &mut s,
        "operator",
        AnySpec::Role(RoleSpec {
            permissions: vec!["organization.read".into(), "project.list_names".into()],
            ..RoleSpec::default()
        }),
    );
    for t in ["acme", "globex"] {
        put(
            &mut s,
            t,
            AnySpec::Tenant(TenantSpec {
                plan: "free".into(),
                ..TenantSpec::default()
            }),
        );
        put(
            &mut s,
            &format!("{t}/paris"),
            AnySpec::Workspace(WorkspaceSpec {
                display_name: Some("Paris".into()),
                description: Some("the site of Paris".into()),
            }),
        );
        put(
            &mut s,
            &format!("{t}/m1"),
            AnySpec::TenantModel(TenantModelSpec::default()),
        );
        put(
            &mut s,
            &format!("{t}/paris/tenant"),
            AnySpec::Grant(GrantSpec::default()),
        );
    }
    // `a@x.io` and `a@x.io.uk`: e-mail order and key order differ.
    for (u, tenants) in [
        ("a@x.io", vec!["acme"]),
        ("a@x.io.uk", vec!["acme", "globex"]),
        ("b@y.io", vec!["globex"]),
    ] {
        put(
            &mut s,
            u,
            AnySpec::User(UserSpec {
                first_name: Some("Ünïcode \"quoted\"".into()),
                ..UserSpec::default()
            }),
        );
        put(
            &mut s,
            &format!("{u}/m1"),
            AnySpec::UserModel(UserModelSpec {
                access: Access::Allow,
            }),
        );
        for t in tenants {
            put(
                &mut s,
                &format!("{u}/{t}"),
                AnySpec::Membership(MembershipSpec {
                    role: "org_admin".into(),
                    workspaces: vec![],
                }),
            );
        }
    }
    s.revision = 7;
    s
}

fn principals() -> Vec<Principal> {
    let mut out = vec![Principal {
        token_id: "sys".into(),
        scope: Scope::System,
        role: None,
        user: None,
    }];
    for t in ["acme", "globex", "nowhere"] {
        for role in ["org_admin", "user_admin", "billing_admin", "operator"] {
            out.push(Principal {
                token_id: "t".into(),
                scope: Scope::Tenant(t.into()),
                role: Some(role.into()),
                user: None,
            });
        }
    }
    // Users acting with their own access (an `org_admin` of acme, of both tenants).
    out.push(Principal::user_in("u", "acme", "a@x.io"));
    out.push(Principal::user_in("u", "globex", "a@x.io.uk"));
    out
}

fn assert_documents(snap: &Snapshot) {
    for p in principals() {
        // A user the changes took out of its tenant reads nothing, both ways.
        let Ok(filtered) = p.filter_state(&snap.state) else {
            assert!(snap.document_for(&p).is_err(), "{p:?}");
            continue;
        };
        let expected = serde_json::to_vec(&filtered).unwrap();
        let got = snap.document_for(&p).unwrap().to_vec();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{p:?}"
        );
    }
    let member = Principal {
        token_id: "m".into(),
        scope: Scope::Tenant("acme".into()),
        role: Some("member".into()),
        user: None,
    };
    assert!(snap.document_for(&member).is_err());
}

#[test]
fn documents_are_what_serde_writes_before_and_after_changes() {
    let mut a = Snapshot::new(entry_state());
    let mut b = a.clone();
    // Built on the first full read.
    assert_documents(&a);
    assert_documents(&b);
    // Changes made on one copy, then passed to the other.
    let meta = Meta {
        version: 4,
        managed: false,
        protected: true,
    };
    a.set(
        Kind::User,
        "c@z.io",
        Some((meta, AnySpec::User(UserSpec::default()))),
    );
    a.set(
        Kind::Membership,
        "c@z.io/acme",
        Some((
            meta,
            AnySpec::Membership(MembershipSpec {
                role: "member".into(),
                workspaces: vec!["paris".into()],
            }),
        )),
    );
    a.set(Kind::Membership, "a@x.io/acme", None);
    a.set(Kind::Workspace, "globex/paris", None);
    a.set(
        Kind::Plan,
        "free",
        Some((
            meta,
            AnySpec::Plan(PlanSpec {
                display_name: Some("Free".into()),
                ..PlanSpec::default()
            }),
        )),
    );
    a.state.revision = 8;
    let touched = [
        (Kind::User, "c@z.io"),
        (Kind::Membership, "c@z.io/acme"),
        (Kind::Membership, "a@x.io/acme"),
        (Kind::Workspace, "globex/paris"),
        (Kind::Plan, "free"),
    ];
    let changes = a.commit_json(touched.iter().map(|(k, key)| (*k, key.to_string())));
    assert!(changes
        .iter()
        .all(|c| c.value.is_none() || c.json.is_some()));
    b.apply(&changes);
    b.state.revision = 8;
    assert_eq!(a.state, b.state);
    assert_eq!(a.index, b.index);
    assert_documents(&a);
    assert_documents(&b);
    // A copy that never built its serialised resources gets the changes without them.
    let mut c = Snapshot::new(entry_state());
    c.apply(&changes);
    c.state.revision = 8;
    assert_eq!(c.state, a.state);
    assert_documents(&c);
}

/// The whole document as a system token reads it, against what serde writes.
fn assert_whole(snap: &Snapshot) {
    let system = &principals()[0];
    let expected = serde_json::to_vec(&system.filter_state(&snap.state).unwrap()).unwrap();
    let got = snap.document().unwrap().to_vec();
    assert!(got == expected, "the chained document differs from serde's");
}

fn user(s: &mut Snapshot, key: &str, present: bool) {
    let value = present.then(|| {
        (
            Meta {
                version: 1,
                managed: true,
                protected: false,
            },
            AnySpec::User(UserSpec::default()),
        )
    });
    s.set(Kind::User, key, value);
}

#[test]
fn the_chained_document_follows_changes_across_blocks() {
    let mut a = Snapshot::new(entry_state());
    for i in 0..3 * BLOCK {
        user(&mut a, &format!("u{i:05}@x.io"), true);
    }
    let mut b = a.clone();
    assert_whole(&a);
    assert_whole(&b);
    let mut touched = Vec::new();
    // Before every key, inside a block, after every key; a whole block emptied; one block
    // grown past twice its size (cut again).
    for key in ["0first@x.io", "u00007@x.io", "zz@x.io"] {
        user(&mut a, key, true);
        touched.push(key.to_string());
    }
    for i in BLOCK..2 * BLOCK + 10 {
        let key = format!("u{i:05}@x.io");
        user(&mut a, &key, false);
        touched.push(key);
    }
    for i in 0..2 * BLOCK + 5 {
        let key = format!("u00100-{i:05}@x.io");
        user(&mut a, &key, true);
        touched.push(key);
    }
    a.state.revision = 8;
    let changes = a.commit_json(touched.iter().map(|k| (Kind::User, k.clone())));
    b.apply(&changes);
    b.state.revision = 8;
    assert_whole(&a);
    assert_whole(&b);
    // And back: every user of the test deleted.
    let keys: Vec<String> = a.state.users.keys().cloned().collect();
    for k in &keys {
        user(&mut a, k, false);
    }
    let changes = a.commit_json(keys.iter().map(|k| (Kind::User, k.clone())));
    b.apply(&changes);
    assert_whole(&a);
    assert_whole(&b);
    assert_documents(&a);
}

/// The usage of every tenant, as `usage_json` writes it, parsed.
fn usage_of(snap: &Snapshot, tenant: Option<&str>) -> serde_json::Value {
    let data = BTreeMap::from([(
        "acme".to_string(),
        crate::server::store::DataUsage {
            registries: 2,
            records: 5,
        },
    )]);
    serde_json::from_slice(&snap.usage_json(tenant, &data)).unwrap_or_default()
}

#[test]
fn usage_counted_once_per_snapshot_follows_writes() {
    let mut a = Snapshot::new(entry_state());
    let first = usage_of(&a, None);
    assert_eq!(first["acme"]["users"], 2);
    assert_eq!(first["acme"]["records"], 5);
    assert_eq!(first["globex"]["workspaces"], 1);
    let member = |role: &str| {
        Some((
            Meta {
                version: 1,
                managed: true,
                protected: false,
            },
            AnySpec::Membership(MembershipSpec {
                role: role.into(),
                workspaces: vec![],
            }),
        ))
    };
    // A member added, a workspace and a member removed, a tenant added: each seen by the
    // next read of the whole usage, as a fresh snapshot and the rules count it.
    a.set(Kind::Membership, "b@y.io/acme", member("org_admin"));
    a.set(Kind::Workspace, "globex/paris", None);
    a.set(Kind::Membership, "a@x.io.uk/globex", None);
    a.set(
        Kind::Tenant,
        "initech",
        Some((
            Meta {
                version: 1,
                managed: true,
                protected: false,
            },
            AnySpec::Tenant(TenantSpec {
                plan: "free".into(),
                ..TenantSpec::default()
            }),
        )),
    );
    let after = usage_of(&a, None);
    assert_eq!(after, usage_of(&Snapshot::new(a.state.clone()), None));
    for t in ["acme", "globex", "initech"] {
        let rules = crate::rules::limits::Usage::of(&a.state, t);
        assert_eq!(after[t]["users"], rules.users, "{t}");
        assert_eq!(after[t]["workspaces"], rules.workspaces, "{t}");
        assert_eq!(usage_of(&a, Some(t))[t], after[t], "{t}");
    }
    assert_eq!(after["acme"]["users"], 3);
    assert_eq!(after["globex"]["users"], 1);
    assert_eq!(after["globex"]["workspaces"], 0);
    // A write of a user only keeps the counts.
    user(&mut a, "c@z.io", true);
    assert_eq!(usage_of(&a, None), after);
}

#[test]
fn a_write_of_many_resources_serialises_them_again_at_the_next_read() {
    let mut a = Snapshot::new(entry_state());
    let mut b = a.clone();
    assert_whole(&a);
    assert_whole(&b);
    let keys: Vec<String> = (0..REBUILD).map(|i| format!("u{i:05}@x.io")).collect();
    for k in &keys {
        user(&mut a, k, true);
    }
    a.state.revision = 8;
    let changes = a.commit_json(keys.iter().map(|k| (Kind::User, k.clone())));
    assert!(changes.iter().all(|c| c.json.is_none()));
    b.apply(&changes);
    b.state.revision = 8;
    assert_whole(&a);
    assert_whole(&b);
    // And a small write after it, on the serialised resources built again.
    user(&mut a, "u00003@x.io", false);
    let changes = a.commit_json(std::iter::once((Kind::User, "u00003@x.io".to_string())));
    assert!(
        changes[0].json.is_none(),
        "a deleted resource has no member"
    );
    b.apply(&changes);
    assert_whole(&a);
    assert_whole(&b);
    assert_documents(&a);
}
