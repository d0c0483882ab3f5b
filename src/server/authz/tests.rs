//! Resolving principals on a state: what each kind of principal acts with.

use super::*;
use crate::config::Document;
use crate::model::AnySpec;
use crate::model::{keys, Kind};

const STATE: &str = r#"
plans: { essential: {} }
roles:
  manager: { workspaces: all, permissions: [users.invite, project.create, project.read, project.list] }
tenants:
  acme: { plan: essential, workspaces: { paris: { description: Paris }, lyon: { description: Lyon } } }
  frozen: { plan: essential, status: suspended }
users:
  alice@acme.example: { memberships: { acme: { role: org_admin } } }
  bob@acme.example: { memberships: { acme: { role: member, workspaces: [paris] } } }
  dan@acme.example: { memberships: { acme: { role: manager } } }
  eve@acme.example: { status: blocked, memberships: { acme: { role: org_admin } } }
  fay@acme.example: { memberships: { frozen: { role: org_admin } } }
  root@platform.example: { system_role: super_admin }
"#;

fn state() -> State {
    let doc: Document = serde_saphyr::from_str(STATE).expect("test YAML parses");
    doc.into_desired().state
}

fn token(scope: Scope, role: Option<&str>, user: Option<&str>) -> Principal {
    Principal {
        token_id: "tok_test".into(),
        scope,
        role: role.map(str::to_string),
        user: user.map(str::to_string),
    }
}

fn acme() -> Scope {
    Scope::Tenant("acme".into())
}

#[test]
fn a_user_in_a_tenant_acts_with_exactly_its_access() {
    let s = state();
    let bob = Principal::user_in("ses_1", "acme", "bob@acme.example");
    assert!(matches!(bob.actor(&s), Ok(Actor::Tenant(st)) if st.user == Some("bob@acme.example")));
    assert!(bob.require(&s, "users.invite").is_err());
    assert!(bob.require(&s, "project.read").is_ok());
    let a = bob.actor(&s).expect("bob acts");
    let ws = |w: &str| keys::join(&["acme", w]);
    assert_eq!(
        a.visibility(&s, Kind::Workspace, &ws("paris")),
        Visibility::Visible
    );
    assert_eq!(
        a.visibility(&s, Kind::Workspace, &ws("lyon")),
        Visibility::Forbidden
    );
    let dan = Principal::user_in("ses_2", "acme", "dan@acme.example");
    assert!(dan.require(&s, "users.invite").is_ok());
    assert_eq!(
        dan.actor(&s)
            .expect("dan")
            .list_visibility(&s, Kind::Workspace, &ws("lyon")),
        Visibility::Visible
    );
}

#[test]
fn a_token_role_narrows_a_user_and_acts_alone() {
    let s = state();
    let alice_member = token(acme(), Some("member"), Some("alice@acme.example"));
    assert!(alice_member.require(&s, "users.invite").is_err());
    let bob_admin = token(acme(), Some("org_admin"), Some("bob@acme.example"));
    assert!(
        bob_admin.require(&s, "users.invite").is_err(),
        "a role never widens"
    );
    let manager = token(acme(), Some("manager"), None);
    assert!(manager.require(&s, "users.invite").is_ok());
    assert!(token(acme(), Some("nope"), None).actor(&s).is_err());
    assert!(token(acme(), None, None).actor(&s).is_err());
}

#[test]
fn who_acts_with_nothing() {
    let s = state();
    let refused = |p: Principal| p.actor(&s).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused(Principal::user_in("t", "acme", "eve@acme.example")).contains("blocked"));
    assert!(refused(Principal::user_in("t", "frozen", "fay@acme.example")).contains("suspended"));
    assert!(refused(Principal::user_in("t", "acme", "fay@acme.example")).contains("not a member"));
    assert!(
        refused(token(Scope::System, None, Some("alice@acme.example"))).contains("super_admin")
    );
    assert!(matches!(
        token(Scope::System, None, Some("root@platform.example")).actor(&s),
        Ok(Actor::System)
    ));
    assert!(matches!(
        token(Scope::System, None, None).actor(&s),
        Ok(Actor::System)
    ));
    // A tenant token of a suspended tenant acts with nothing either.
    assert!(
        token(Scope::Tenant("frozen".into()), Some("org_admin"), None)
            .actor(&s)
            .is_err()
    );
}

#[test]
fn a_name_only_workspace_loses_its_description() {
    let s = state();
    let (_, spec) = s.get(Kind::Workspace, "acme/paris").expect("paris");
    match redact(&spec) {
        AnySpec::Workspace(w) => assert_eq!(w.description, None),
        other => panic!("{other:?}"),
    }
}
