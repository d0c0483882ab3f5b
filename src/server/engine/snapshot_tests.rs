//! The state document built from serialised resources is the document serde writes, for a
//! system token and for every tenant role (the same bytes as `filter_state`), before and
//! after changes applied on one copy and passed to the other.

use crate::model::*;
use crate::server::authz::{Principal, Role, Scope};

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
            AnySpec::Workspace(WorkspaceSpec::default()),
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
        role: Role::OrgAdmin,
        user: None,
    }];
    for t in ["acme", "globex", "nowhere"] {
        for role in [Role::OrgAdmin, Role::UserAdmin, Role::BillingAdmin] {
            out.push(Principal {
                token_id: "t".into(),
                scope: Scope::Tenant(t.into()),
                role,
                user: None,
            });
        }
    }
    out
}

fn assert_documents(snap: &Snapshot) {
    for p in principals() {
        let expected = serde_json::to_vec(&p.filter_state(&snap.state).unwrap()).unwrap();
        let got = snap.document_for(&p).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{p:?}"
        );
    }
    let member = Principal {
        token_id: "m".into(),
        scope: Scope::Tenant("acme".into()),
        role: Role::Member,
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
