//! Where a user stands in a tenant before any permission is asked: the steps every question
//! shares (the user, its status, its system role, the tenant and its status, the
//! membership, the role), ending in a [`Standing`] — the permissions held and the
//! workspaces seen — or in the refusal. A token acting without a user stands where its role
//! puts it ([`Standing::of_role`]); a token's own role narrows a user's standing
//! ([`Standing::narrowed`]). The platform computes a standing once per request and asks it
//! about each resource.

use std::sync::OnceLock;

use crate::model::catalog::{self, PermSet};
use crate::model::{
    keys, Entry, State, SystemRole, TenantStatus, UserSpec, UserStatus, WorkspaceScope,
};

use super::{did_you_mean, permission, step, verdict, Outcome, Quiet, Reason, Trace, Verdict};

/// The workspaces of its tenant a standing sees through its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workspaces<'s> {
    /// Every workspace (`workspaces: all`, the built-in admins, a `super_admin`).
    All,
    /// Those its membership lists (`workspaces: selected`); none for a token alone.
    Listed(&'s [String]),
}

/// What a user (or a token's role) holds in one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing<'s> {
    pub tenant: &'s str,
    /// The user, when a user acts (a token created with `--user`, a session).
    pub user: Option<&'s str>,
    /// The role whose grants apply: the membership's role, or the token's role.
    pub role: Option<&'s str>,
    pub super_admin: bool,
    /// Every permission held, implied ones included, narrowed by [`Standing::mask`].
    pub permissions: PermSet,
    /// What the token lets through (every permission unless its own role narrows it): a
    /// grant on a workspace gives only what the mask lets through.
    pub mask: PermSet,
    pub workspaces: Workspaces<'s>,
}

/// The permissions of a role and whether it sees every workspace: a built-in role's from
/// the catalog, a custom role's from `state`; `None` for a role that does not exist.
pub fn role_permissions(state: &State, role: &str) -> Option<(PermSet, bool)> {
    static BUILTIN: OnceLock<Vec<(&'static str, PermSet, bool)>> = OnceLock::new();
    let builtin = BUILTIN.get_or_init(|| {
        catalog::BUILTIN_ROLES
            .iter()
            .map(|r| {
                (
                    r.name,
                    PermSet::of(r.permissions.iter().copied()),
                    r.all_workspaces,
                )
            })
            .collect()
    });
    if let Some((_, set, all)) = builtin.iter().find(|(n, _, _)| *n == role) {
        return Some((*set, *all));
    }
    state.roles.get(role).map(|r| {
        (
            PermSet::of(r.spec.permissions.iter().map(String::as_str)),
            r.spec.workspaces == WorkspaceScope::All,
        )
    })
}

/// The user `email`, if it exists and is not blocked; the step that refuses otherwise.
pub(super) fn user<'s, T: Trace>(
    state: &'s State,
    email: &str,
    t: &mut T,
) -> Result<&'s Entry<UserSpec>, Verdict> {
    let Some(u) = state.users.get(email) else {
        t.step(|| {
            step(
                "user",
                None,
                Outcome::Fail,
                format!("`{email}` is not a user of the platform"),
            )
        });
        return Err(verdict(t, false, Reason::UnknownUser, || {
            format!("`{email}` is not a user of the platform")
        }));
    };
    if u.spec.status == UserStatus::Blocked {
        t.step(|| {
            step(
                "user status",
                None,
                Outcome::Fail,
                format!("`{email}` is blocked and cannot sign in"),
            )
        });
        return Err(verdict(t, false, Reason::UserBlocked, || {
            format!("`{email}` is blocked")
        }));
    }
    Ok(u)
}

/// The tenant `tenant`, if it exists and is active; the step that refuses otherwise.
fn active_tenant<T: Trace>(state: &State, tenant: &str, t: &mut T) -> Result<(), Verdict> {
    let Some(spec) = state.tenants.get(tenant) else {
        let help = did_you_mean(tenant, state.tenants.keys().map(String::as_str))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        t.step(|| {
            step(
                "tenant",
                Some(tenant),
                Outcome::Fail,
                format!("tenant `{tenant}` does not exist{help}"),
            )
        });
        return Err(verdict(t, false, Reason::UnknownTenant, || {
            format!("tenant `{tenant}` does not exist")
        }));
    };
    if spec.spec.status == TenantStatus::Suspended {
        t.step(|| {
            step(
                "tenant status",
                Some(tenant),
                Outcome::Fail,
                format!("tenant `{tenant}` is suspended: its members cannot sign in"),
            )
        });
        return Err(verdict(t, false, Reason::TenantSuspended, || {
            format!("tenant `{tenant}` is suspended")
        }));
    }
    Ok(())
}

/// Where user `email` (normalised) stands in `tenant`, or the step that refuses: the user
/// exists and is not blocked; a `super_admin` holds everything in any existing tenant; the
/// tenant exists and is not suspended; the user is a member; its role exists.
pub fn standing<'s, T: Trace>(
    state: &'s State,
    email: &'s str,
    tenant: &'s str,
    t: &mut T,
) -> Result<Standing<'s>, Verdict> {
    let u = user(state, email, t)?;
    let membership = state.memberships.get(&keys::join(&[email, tenant]));
    if u.spec.system_role == Some(SystemRole::SuperAdmin) {
        if !state.tenants.contains_key(tenant) {
            active_tenant(state, tenant, t)?;
        }
        super_admin_step(email, t);
        return Ok(Standing {
            tenant,
            user: Some(email),
            role: membership.map(|m| m.spec.role.as_str()),
            super_admin: true,
            permissions: PermSet::all(),
            mask: PermSet::all(),
            workspaces: Workspaces::All,
        });
    }
    active_tenant(state, tenant, t)?;
    let Some(m) = membership else {
        t.step(|| {
            step(
                "membership",
                Some(tenant),
                Outcome::Fail,
                format!("`{email}` is not a member of tenant `{tenant}`"),
            )
        });
        return Err(verdict(t, false, Reason::NotMember, || {
            format!("`{email}` is not a member of tenant `{tenant}`")
        }));
    };
    let role = m.spec.role.as_str();
    t.step(|| {
        step(
            "membership",
            Some(tenant),
            Outcome::Pass,
            format!("member of `{tenant}` with role `{role}`"),
        )
    });
    holding(state, tenant, Some(email), role, &m.spec.workspaces, t)
}

/// The step that says `email` is a `super_admin`.
pub(super) fn super_admin_step<T: Trace>(email: &str, t: &mut T) {
    t.step(|| {
        step(
            "system role",
            None,
            Outcome::Pass,
            format!("`{email}` is `super_admin`: administers every tenant"),
        )
    });
}

/// Where holding `role` in `tenant` puts `user` (or a token alone): the role's
/// permissions, and every workspace or those `listed`; refused if the role does not exist.
fn holding<'s, T: Trace>(
    state: &'s State,
    tenant: &'s str,
    user: Option<&'s str>,
    role: &'s str,
    listed: &'s [String],
    t: &mut T,
) -> Result<Standing<'s>, Verdict> {
    let Some((permissions, all)) = role_permissions(state, role) else {
        t.step(|| {
            step(
                "role",
                Some(tenant),
                Outcome::Fail,
                format!("role `{role}` does not exist"),
            )
        });
        return Err(verdict(t, false, Reason::UnknownRole, || {
            format!("role `{role}` does not exist")
        }));
    };
    Ok(Standing {
        tenant,
        user,
        role: Some(role),
        super_admin: false,
        permissions,
        mask: PermSet::all(),
        workspaces: if all {
            Workspaces::All
        } else {
            Workspaces::Listed(listed)
        },
    })
}

impl<'s> Standing<'s> {
    /// Where a token of `tenant` with `role` and no user stands: the role's permissions,
    /// every workspace if the role sees all of them (none otherwise: no membership lists
    /// any). Refused when the tenant is suspended or the role does not exist.
    pub fn of_role<T: Trace>(
        state: &'s State,
        tenant: &'s str,
        role: &'s str,
        t: &mut T,
    ) -> Result<Standing<'s>, Verdict> {
        if state.tenants.contains_key(tenant) {
            active_tenant(state, tenant, t)?;
        }
        holding(state, tenant, None, role, &[], t)
    }

    /// This standing narrowed by a token's own `role`: only the permissions both hold, and
    /// every workspace only if both see every workspace (else those the membership lists).
    /// A role that does not exist leaves nothing.
    pub fn narrowed(mut self, state: &'s State, role: &str) -> Standing<'s> {
        let (mask, all) = role_permissions(state, role).unwrap_or((PermSet::EMPTY, false));
        self.permissions = self.permissions.and(mask);
        self.mask = self.mask.and(mask);
        if !all && self.workspaces == Workspaces::All {
            self.workspaces = match self.user {
                Some(u) => Workspaces::Listed(
                    state
                        .memberships
                        .get(&keys::join(&[u, self.tenant]))
                        .map_or(&[][..], |m| m.spec.workspaces.as_slice()),
                ),
                None => Workspaces::Listed(&[]),
            };
        }
        self
    }

    /// Whether the permission `name` is held in the tenant (on the workspaces seen, for one
    /// that applies on a workspace).
    pub fn holds(&self, name: &str) -> bool {
        self.permissions.contains(name)
    }

    /// Whether the role sees workspace `workspace` (grants aside).
    pub fn sees(&self, workspace: &str) -> bool {
        match self.workspaces {
            Workspaces::All => true,
            Workspaces::Listed(l) => l.iter().any(|w| w == workspace),
        }
    }

    /// Whether permission `name` is held here, on `workspace` when given (the role, or a
    /// grant there): the decision without its trace.
    pub fn may(&self, state: &State, name: &str, workspace: Option<&str>) -> bool {
        catalog::permission(name)
            .is_some_and(|p| permission::decide(state, self, p, workspace, &mut Quiet).allowed)
    }

    /// The decision of [`Standing::may`] with its trace, for the words of a refusal.
    pub fn explain(&self, state: &State, name: &str, workspace: Option<&str>) -> Verdict {
        let mut steps = Vec::new();
        match catalog::permission(name) {
            Some(p) => permission::decide(state, self, p, workspace, &mut steps),
            None => verdict(&steps, false, Reason::UnknownPermission, || {
                format!("`{name}` is not a permission")
            }),
        }
    }

    /// Who holds this standing, in words: `` `bob@acme.example` (`member` of `acme`) ``.
    pub fn holder(&self) -> String {
        match (self.user, self.role) {
            (Some(u), _) if self.super_admin => format!("`{u}` (`super_admin`)"),
            (Some(u), Some(r)) => format!("`{u}` (`{r}` of `{}`)", self.tenant),
            (Some(u), None) => format!("`{u}`"),
            (None, Some(r)) => format!("a `{r}` token of `{}`", self.tenant),
            (None, None) => format!("a token of `{}`", self.tenant),
        }
    }
}
