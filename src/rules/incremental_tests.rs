//! The differential test of the incremental check: thousands of random writes (of any
//! resource, valid or not, without the server's refusals or cascades, so that every rule
//! fires), and after each one the violations kept up to date equal those of a full check.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::catalog;
use crate::model::keys;
use crate::model::*;

use super::*;

const PLANS: &[&str] = &["free", "pro", "Gold"];
const MODELS: &[&str] = &["flux", "sdxl", "Bad_model"];
const ROLES: &[&str] = &[
    "editor",
    "viewer",
    "editr",
    "org_admin",
    "member",
    "user_admin",
];
const TENANTS: &[&str] = &["acme", "globex", "initech", "Umbrella"];
const WORKSPACES: &[&str] = &["paris", "lyon", "Nice"];
const USERS: &[&str] = &["ann@acme.io", "bob@globex.io", "cy@initech.io", "Dan@x.io"];

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

fn some_limit(rng: &mut StdRng) -> Option<u32> {
    rng.random_bool(0.4).then(|| rng.random_range(0..4))
}

/// A random resource of a random kind: key and spec.
fn random_put(rng: &mut StdRng) -> (String, AnySpec) {
    let t = pick(rng, TENANTS);
    let u = pick(rng, USERS);
    match rng.random_range(0..10) {
        0 => {
            let spec = PlanSpec {
                limits: Limits {
                    users: some_limit(rng),
                    workspaces: some_limit(rng),
                    ..Limits::default()
                },
                ..PlanSpec::default()
            };
            (pick(rng, PLANS).to_string(), AnySpec::Plan(spec))
        }
        1 => (
            pick(rng, MODELS).to_string(),
            AnySpec::Model(ModelSpec {
                deployment_id: "d-1".into(),
                ..ModelSpec::default()
            }),
        ),
        2 => {
            let mut permissions = Vec::new();
            if rng.random_bool(0.5) {
                permissions.push(catalog::PERMISSIONS[0].name.to_string());
            }
            if rng.random_bool(0.2) {
                permissions.push("models.abuse".to_string());
            }
            let workspaces = if rng.random_bool(0.5) {
                WorkspaceScope::All
            } else {
                WorkspaceScope::Selected
            };
            let spec = RoleSpec {
                workspaces,
                permissions,
                ..RoleSpec::default()
            };
            (pick(rng, ROLES).to_string(), AnySpec::Role(spec))
        }
        3 => {
            let mut spec = TenantSpec {
                plan: pick(rng, &["free", "pro", "Gold", "prro"]).to_string(),
                ..TenantSpec::default()
            };
            spec.limits.users = some_limit(rng);
            spec.limits.workspaces = some_limit(rng);
            if rng.random_bool(0.2) {
                spec.contact.email = Some("not an email".into());
            }
            (t.to_string(), AnySpec::Tenant(spec))
        }
        4 => (
            keys::join(&[t, pick(rng, WORKSPACES)]),
            AnySpec::Workspace(WorkspaceSpec::default()),
        ),
        5 => (
            keys::join(&[t, pick(rng, MODELS)]),
            AnySpec::TenantModel(TenantModelSpec::default()),
        ),
        6 => {
            let grantee = match rng.random_range(0..3) {
                0 => keys::Grantee::Tenant,
                1 => keys::Grantee::Role(pick(rng, ROLES).to_string()),
                _ => keys::Grantee::User(
                    pick(rng, &["ann@acme.io", "bob@globex.io", "an@acme.io"]).to_string(),
                ),
            };
            let actions = if rng.random_bool(0.8) {
                vec![GrantAction::Read]
            } else {
                Vec::new()
            };
            (
                keys::grant(t, pick(rng, WORKSPACES), &grantee),
                AnySpec::Grant(GrantSpec { actions }),
            )
        }
        7 => (u.to_string(), AnySpec::User(UserSpec::default())),
        8 => {
            let mut workspaces: Vec<String> = WORKSPACES
                .iter()
                .chain(&["nowhere"])
                .filter(|_| rng.random_bool(0.3))
                .map(|w| w.to_string())
                .collect();
            if rng.random_bool(0.05) {
                workspaces = (0..12).map(|i| format!("w{i}")).collect();
            }
            let spec = MembershipSpec {
                role: pick(rng, ROLES).to_string(),
                workspaces,
            };
            (keys::join(&[u, t]), AnySpec::Membership(spec))
        }
        _ => (
            keys::join(&[u, pick(rng, MODELS)]),
            AnySpec::UserModel(UserModelSpec {
                access: Access::Allow,
            }),
        ),
    }
}

/// A random existing resource.
fn random_existing(rng: &mut StdRng, state: &State) -> Option<(Kind, String)> {
    let all: Vec<(Kind, String)> = Kind::ALL
        .iter()
        .flat_map(|&k| state.keys(k).map(move |key| (k, key.to_string())))
        .collect();
    (!all.is_empty()).then(|| all[rng.random_range(0..all.len())].clone())
}

/// Sets or removes one resource, keeping the members index in step.
fn set(state: &mut State, index: &mut MembersIndex, kind: Kind, key: &str, new: Option<AnySpec>) {
    match new {
        Some(spec) => {
            state.insert(key.to_string(), Meta::default(), spec);
        }
        None => {
            state.remove(kind, key);
        }
    }
    if kind == Kind::Membership {
        if state.contains(kind, key) {
            index.insert(key);
        } else {
            index.remove(key);
        }
    }
}

/// One change of a random write: a put (seven times in ten) or a delete of what exists,
/// applied to the state; `touched` lists each resource once, with whether it existed before.
fn random_change(
    rng: &mut StdRng,
    state: &mut State,
    index: &mut MembersIndex,
    touched: &mut Vec<(Kind, String, bool)>,
) {
    let (kind, key, new) = if rng.random_bool(0.3) {
        match random_existing(rng, state) {
            Some((kind, key)) => (kind, key, None),
            None => return,
        }
    } else {
        let (key, spec) = random_put(rng);
        (spec.kind(), key, Some(spec))
    };
    if !touched.iter().any(|(k, c, _)| *k == kind && *c == key) {
        touched.push((kind, key.clone(), state.contains(kind, &key)));
    }
    set(state, index, kind, &key, new);
}

/// The write's changes as the engine reports them to the recheck.
fn changes_of<'a>(touched: &'a [(Kind, String, bool)], state: &State) -> Vec<Touched<'a>> {
    touched
        .iter()
        .map(|(kind, key, existed)| Touched {
            kind: *kind,
            key,
            existed: *existed,
            exists: state.contains(*kind, key),
        })
        .collect()
}

#[test]
fn the_incremental_check_finds_what_the_full_check_finds() {
    let mut writes = 0;
    let mut rechecked = 0;
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut state = State::default();
        let mut index = MembersIndex::default();
        let mut violations = Violations::of(&state);
        for _ in 0..800 {
            // One write: one to four changes; a few delete what exists.
            let n = rng.random_range(1..=4);
            let mut touched: Vec<(Kind, String, bool)> = Vec::new();
            for _ in 0..n {
                random_change(&mut rng, &mut state, &mut index, &mut touched);
            }
            let changes = changes_of(&touched, &state);
            let recheck = violations.recheck(&state, &index, &changes);
            rechecked += recheck.len();
            violations.commit(recheck);
            writes += 1;
            assert_eq!(
                index,
                MembersIndex::build(&state),
                "seed {seed}, write {writes}"
            );
            let full = super::super::check(&state);
            assert_eq!(
                violations.all(),
                full,
                "seed {seed}, write {writes}: the incremental check differs from the full check\nstate: {state:#?}"
            );
        }
    }
    // The test is only worth something if the states it reached broke many rules.
    assert!(writes >= 4000 && rechecked > writes);
}

#[test]
fn every_rule_fires_in_the_differential_test() {
    let mut seen = std::collections::BTreeSet::new();
    let mut rng = StdRng::seed_from_u64(1);
    let mut state = State::default();
    let mut index = MembersIndex::default();
    for _ in 0..2000 {
        let (key, spec) = random_put(&mut rng);
        let kind = spec.kind();
        set(&mut state, &mut index, kind, &key, Some(spec));
        if rng.random_bool(0.3) {
            if let Some((kind, key)) = random_existing(&mut rng, &state) {
                set(&mut state, &mut index, kind, &key, None);
            }
        }
        seen.extend(super::super::check(&state).into_iter().map(|v| v.code));
    }
    for code in [
        "invalid_key",
        "invalid_email",
        "reserved_role",
        "unknown_permission",
        "unknown_plan",
        "no_org_admin",
        "single_org_admin",
        "limit_exceeded",
        "unknown_tenant",
        "unknown_model",
        "unknown_workspace",
        "unknown_role",
        "unknown_user",
        "empty_grant",
        "workspaces_ignored",
        "invitation_workspaces",
    ] {
        assert!(seen.contains(code), "`{code}` never fired: {seen:?}");
    }
}

#[test]
fn a_write_touching_most_of_the_state_is_rechecked_whole_and_agrees() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut state = State::default();
        let mut index = MembersIndex::default();
        for _ in 0..60 {
            let (key, spec) = random_put(&mut rng);
            set(&mut state, &mut index, spec.kind(), &key, Some(spec));
        }
        let mut violations = Violations::of(&state);
        // One write: puts and deletes, touching at least half of what the state holds after.
        let mut touched: Vec<(Kind, String, bool)> = Vec::new();
        while touched.len() * 2 < state.len().max(1) || touched.len() < 40 {
            random_change(&mut rng, &mut state, &mut index, &mut touched);
        }
        let changes = changes_of(&touched, &state);
        assert!(
            changes.len() * 2 >= state.len(),
            "seed {seed}: not a whole recheck"
        );
        let whole = violations.recheck(&state, &index, &changes);
        let reached: Vec<(Kind, String)> = violations
            .affected(&state, &index, &changes)
            .into_iter()
            .collect();
        // The whole recheck covers what the write reaches (save the missing parents it
        // names, which hold no violation), in the same order.
        assert!(reached
            .iter()
            .filter(|(kind, key)| state.contains(*kind, key)
                || touched.iter().any(|(k, c, _)| k == kind && c == key))
            .all(|r| whole.resources.binary_search(r).is_ok()));
        assert!(whole.resources.windows(2).all(|w| w[0] < w[1]));
        violations.commit(whole);
        assert_eq!(violations.all(), super::super::check(&state), "seed {seed}");
    }
}
