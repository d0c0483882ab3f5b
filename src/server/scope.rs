//! What a principal reaches, kind by kind (PRODUCT.md §2 rule 10): the coarse half of its
//! standing, published in `GET /whoami` so that a plan made with a tenant-scoped token
//! covers what the token can see and change. It is read off the same [`Standing`] the
//! server decides each read and write with (`authz`); the fine limits (the workspaces a
//! role sees, the roles it may give) are checked on each write and worded in `note`.

use crate::api::{KindAccess, Reach};
use crate::model::{Kind, State};
use crate::rules::access::{Standing, Workspaces};

use super::authz::{Actor, Principal};

/// Who may change what a tenant principal may not: the platform catalog and the grants of
/// models to tenants are the system's.
const SYSTEM_ONLY: &str = "system tokens only";

/// The kind's reach for `s` (read, write), and a note: the limits of the writes when it may
/// make some, what they need when it may not.
fn reach(s: &Standing, kind: Kind) -> (Reach, Reach, Option<String>) {
    use Reach::{All, None as No, Tenant};
    let any = |names: &[&str]| names.iter().any(|n| s.holds(n));
    let needs = |names: &[&str]| {
        let words: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        Some(format!("needs {} (or a system token)", words.join(" or ")))
    };
    let listed = matches!(s.workspaces, Workspaces::Listed(_));
    if !s.holds("organization.read") {
        return (
            No,
            No,
            Some("reading the state needs `organization.read`".into()),
        );
    }
    match kind {
        Kind::Plan | Kind::Model | Kind::Role => (
            All,
            No,
            Some(format!("{SYSTEM_ONLY} (the platform catalog)")),
        ),
        Kind::TenantModel => {
            let read = super::authz::sees_model_grants(s);
            (if read { Tenant } else { No }, No, Some(SYSTEM_ONLY.into()))
        }
        Kind::Tenant => {
            let w = [
                "organization.update",
                "subscription.manage",
                "organization.delete",
            ];
            if any(&w) {
                let held: Vec<&str> = w.into_iter().filter(|n| s.holds(n)).collect();
                let note = format!(
                    "its own tenant, with {}; its limits and status: {SYSTEM_ONLY}",
                    held.join(", ")
                );
                (Tenant, Tenant, Some(note))
            } else {
                (Tenant, No, needs(&w))
            }
        }
        Kind::Workspace => {
            let w = [
                "project.create",
                "project.update",
                "project.rename",
                "project.delete",
            ];
            if !any(&["project.list", "project.list_names", "project.read"]) {
                return (No, No, needs(&["project.list", "project.read"]));
            }
            let note = listed.then(|| "only the workspaces its role is given".to_string());
            match (any(&w), note) {
                (true, note) => (Tenant, Tenant, note),
                (false, Some(n)) => (
                    Tenant,
                    No,
                    Some(format!("{n}; changes {}", needs(&w).unwrap_or_default())),
                ),
                (false, None) => (Tenant, No, needs(&w)),
            }
        }
        Kind::Grant => {
            if s.holds("users.assign_workspaces") {
                let note = listed.then(|| "on the workspaces its role is given".to_string());
                (Tenant, Tenant, note)
            } else {
                (No, No, needs(&["users.assign_workspaces"]))
            }
        }
        Kind::Membership | Kind::User => {
            let read = if s.holds("users.read") { Tenant } else { No };
            let w: &[&str] = if kind == Kind::Membership {
                &[
                    "users.invite",
                    "users.remove",
                    "users.promote",
                    "users.assign_workspaces",
                ]
            } else {
                &[
                    "users.invite",
                    "users.update",
                    "users.block",
                    "users.remove",
                ]
            };
            if !any(w) {
                return (read, No, needs(w));
            }
            let roles = if s.holds("users.promote") {
                "roles holding no permission it lacks"
            } else {
                "role `member` only, never promote or demote"
            };
            let note = if kind == Kind::Membership {
                format!("memberships with {roles}")
            } else {
                format!("members of this tenant only (new users become members), with {roles}")
            };
            (read, Tenant, Some(note))
        }
        Kind::UserModel => {
            let read = super::authz::sees_model_grants(s);
            let write = s.holds("models.assign");
            let note = if write {
                Some("of users who are members of this tenant only".into())
            } else {
                needs(&["models.assign"])
            };
            (
                if read { Tenant } else { No },
                if write { Tenant } else { No },
                note,
            )
        }
    }
}

/// The whole table for `p` on `state`, as `GET /whoami` publishes it; a principal with no
/// access reaches nothing, and the note says why.
pub fn table(p: &Principal, state: &State) -> Vec<KindAccess> {
    let actor = p.actor(state);
    Kind::ALL
        .iter()
        .map(|&kind| {
            let (read, write, note) = match &actor {
                Ok(Actor::System) => (Reach::All, Reach::All, None),
                Ok(Actor::Tenant(s)) => reach(s, kind),
                Err(e) => (Reach::None, Reach::None, Some(e.to_string())),
            };
            KindAccess {
                kind,
                read,
                write,
                note,
            }
        })
        .collect()
}
