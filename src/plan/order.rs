//! Order and reach: the dependency rank of each kind (creates by increasing rank, deletes by
//! decreasing rank), the deletes the platform cascades by itself, the order of a plan's
//! changes, and `--target` (parsing it, and keeping the targets, their children and what
//! they depend on).

use std::collections::HashSet;

use super::{Action, Change, PlanInput, Verb};
use crate::model::keys::{self, Grantee};
use crate::model::{Kind, State};

/// A resource: its kind and key.
pub(super) type Res = (Kind, String);

/// The dependency rank of a kind: plans, models, roles → tenants → workspaces, tenant models
/// → users → memberships, user models → grants. Creates run by increasing rank, deletes by
/// decreasing rank; resources of one rank never depend on each other.
pub fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Plan | Kind::Model | Kind::Role => 0,
        Kind::Tenant => 1,
        Kind::Workspace | Kind::TenantModel => 2,
        Kind::User => 3,
        Kind::Membership | Kind::UserModel => 4,
        Kind::Grant => 5,
    }
}

/// The order of deletes: children before parents, and tenants before users, so that no
/// single delete leaves a tenant without its `org_admin` (a user's delete takes their
/// memberships with it; a tenant's delete takes its memberships first). Plans, models and
/// roles go last: tenants, memberships and model grants refer to them.
pub fn delete_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Grant => 0,
        Kind::Membership | Kind::UserModel => 1,
        Kind::Workspace | Kind::TenantModel => 2,
        Kind::Tenant => 3,
        Kind::User => 4,
        Kind::Plan | Kind::Model | Kind::Role => 5,
    }
}

/// The resources whose delete takes `kind/key` with it on the platform: a tenant takes its
/// workspaces, tenant models, grants and memberships; a user their memberships, model grants
/// and the grants to them; a workspace its grants; a membership the grants to its user in
/// its tenant.
pub fn cascade_parents(kind: Kind, key: &str) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    match kind {
        Kind::Workspace | Kind::TenantModel => {
            if let Some((t, _)) = keys::split2(key) {
                out.push((Kind::Tenant, t.to_string()));
            }
        }
        Kind::Membership => {
            if let Some((u, t)) = keys::split2(key) {
                out.push((Kind::Tenant, t.to_string()));
                out.push((Kind::User, u.to_string()));
            }
        }
        Kind::UserModel => {
            if let Some((u, _)) = keys::split2(key) {
                out.push((Kind::User, u.to_string()));
            }
        }
        Kind::Grant => {
            if let Some((t, w, g)) = keys::split_grant(key) {
                out.push((Kind::Tenant, t.to_string()));
                out.push((Kind::Workspace, keys::join(&[t, w])));
                if let Grantee::User(u) = g {
                    out.push((Kind::Membership, keys::join(&[&u, t])));
                    out.push((Kind::User, u));
                }
            }
        }
        Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant | Kind::User => {}
    }
    out
}

/// Parses a `--target` value `KIND/KEY` (`tenant/acme`, `workspace/acme/paris`).
pub fn parse_target(s: &str) -> Result<(Kind, String), String> {
    let (kind, key) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not KIND/KEY (e.g. `tenant/acme`)"))?;
    let kind = Kind::parse(kind).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        match crate::rules::did_you_mean(kind, names.iter().copied()) {
            Some(near) => format!("`{kind}` is not a kind; did you mean `{near}`?"),
            None => format!(
                "`{kind}` is not a kind; expected one of {}",
                names.join(", ")
            ),
        }
    })?;
    if key.is_empty() {
        return Err(format!("`{s}` has no key after the kind"));
    }
    let key = if kind == Kind::User || kind == Kind::Membership || kind == Kind::UserModel {
        key.to_lowercase()
    } else {
        key.to_string()
    };
    Ok((kind, key))
}

/// Keys gathered kind by kind, parents' kinds first.
pub(super) fn by_rank<'a>(mut keys: impl FnMut(Kind) -> Vec<&'a str>) -> Vec<(Kind, &'a str)> {
    let mut kinds: Vec<Kind> = Kind::ALL.to_vec();
    kinds.sort_by_key(|k| rank(*k));
    kinds
        .into_iter()
        .flat_map(|k| keys(k).into_iter().map(move |key| (k, key)))
        .collect()
}

/// Drops the delete ops the platform performs by itself: a resource whose parent is deleted
/// in the same plan goes with it (the change stays, to show it). Deleting children one by
/// one would, in resource-by-resource mode, pass through states the platform refuses (a
/// tenant without its `org_admin`).
pub(super) fn drop_cascaded_deletes(changes: &mut [Change]) {
    let deleted: HashSet<Res> = changes
        .iter()
        .flat_map(|c| c.writes.iter())
        .filter(|o| o.verb == Verb::Delete)
        .map(|o| (o.kind, o.key.clone()))
        .collect();
    for c in changes.iter_mut() {
        c.writes.retain(|o| {
            o.verb != Verb::Delete
                || !cascade_parents(o.kind, &o.key)
                    .iter()
                    .any(|p| deleted.contains(p))
        });
    }
}

/// Creates, updates and replaces by increasing rank, then deletes by decreasing rank.
pub(super) fn sort_changes(changes: &mut [Change]) {
    changes.sort_by(|a, b| {
        let ka = (
            a.action == Action::Delete,
            if a.action == Action::Delete {
                delete_rank(a.kind)
            } else {
                rank(a.kind)
            },
        );
        let kb = (
            b.action == Action::Delete,
            if b.action == Action::Delete {
                delete_rank(b.kind)
            } else {
                rank(b.kind)
            },
        );
        ka.cmp(&kb)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// What a resource depends on: its parents by key, and what its spec refers to (a tenant's
/// plan, a membership's custom role and workspaces, a grant's role).
fn dependencies(kind: Kind, key: &str, state: &State) -> Vec<Res> {
    let mut out = keys::parents(kind, key);
    match kind {
        Kind::Tenant => {
            if let Some(t) = state.tenants.get(key) {
                out.push((Kind::Plan, t.spec.plan.clone()));
            }
        }
        Kind::Membership => {
            if let (Some(m), Some((_, t))) = (state.memberships.get(key), keys::split2(key)) {
                if state.roles.contains_key(&m.spec.role) {
                    out.push((Kind::Role, m.spec.role.clone()));
                }
                out.extend(
                    m.spec
                        .workspaces
                        .iter()
                        .map(|w| (Kind::Workspace, keys::join(&[t, w]))),
                );
            }
        }
        _ => {}
    }
    out
}

/// Every dependency of a resource, transitively.
fn ancestors(kind: Kind, key: &str, state: &State) -> Vec<Res> {
    let mut out: Vec<Res> = Vec::new();
    let mut stack = dependencies(kind, key, state);
    while let Some(p) = stack.pop() {
        if !out.contains(&p) {
            stack.extend(dependencies(p.0, &p.1, state));
            out.push(p);
        }
    }
    out
}

/// Keeps the changes of the targets, of their children, and of everything these depend on.
pub(super) fn filter_targets(
    changes: Vec<Change>,
    targets: &[Res],
    desired: &PlanInput,
    live: &State,
) -> Vec<Change> {
    let target_set: HashSet<&Res> = targets.iter().collect();
    let below = |kind: Kind, key: &str| {
        let mut stack = keys::parents(kind, key);
        while let Some(p) = stack.pop() {
            if target_set.contains(&p) {
                return true;
            }
            stack.extend(keys::parents(p.0, &p.1));
        }
        false
    };
    // The targets and their children (by key, under both the new and the previous key).
    let mut selected: HashSet<Res> = targets.iter().cloned().collect();
    for c in &changes {
        for key in std::iter::once(&c.key).chain(c.previous_key.as_ref()) {
            if below(c.kind, key) {
                selected.insert((c.kind, c.key.clone()));
            }
        }
    }
    // Everything they depend on.
    let mut needed: HashSet<Res> = selected.clone();
    for (k, key) in &selected {
        needed.extend(ancestors(*k, key, &desired.state));
        needed.extend(ancestors(*k, key, live));
    }
    changes
        .into_iter()
        .filter(|c| {
            needed.contains(&(c.kind, c.key.clone()))
                || c.previous_key
                    .as_ref()
                    .is_some_and(|p| needed.contains(&(c.kind, p.clone())))
        })
        .collect()
}
