//! What a principal may change, kind by kind. Inside its tenant:
//!
//! | change | needs |
//! |---|---|
//! | plans, models, roles, tenant models; a tenant's limits or status; creating tenants | the system |
//! | its tenant's name, description, contact | `organization.update` |
//! | its tenant's plan (the subscription) | `subscription.manage` |
//! | deleting its tenant | `organization.delete` |
//! | creating a workspace | `project.create` |
//! | renaming one, changing its description, deleting it | `project.rename`, `project.update`, `project.delete` there |
//! | grants | `users.assign_workspaces`, on a workspace its role sees |
//! | adding a member (a new user with it), removing one | `users.invite`, `users.remove`, and the role given or taken ([`may_give_role`]) |
//! | a member's role | `users.promote`, and both roles ([`may_give_role`]) |
//! | a member's workspaces | `users.assign_workspaces` |
//! | a user's properties; blocking; deleting; a password reset | `users.update`; `users.block`; `users.remove`; `users.update` — each only on a user whose role it may give, who belongs to its tenant only and holds no system role ([`Actor::may_manage_user`], the one rule for every action on a user) |
//! | direct model grants | `models.assign` |
//!
//! A user's system role is the system's alone.

use std::collections::HashSet;

use crate::model::{keys, AnySpec, Kind, State};
use crate::rules::access::may_give_role;

use super::{Actor, ApiError, Principal};

fn role_of(spec: Option<&AnySpec>) -> Option<&str> {
    match spec {
        Some(AnySpec::Membership(m)) => Some(&m.role),
        _ => None,
    }
}

impl Actor<'_> {
    /// Ok when it may give or take back `role` in its tenant (always for the system).
    pub fn may_give(&self, state: &State, role: &str) -> Result<(), ApiError> {
        match self {
            Actor::System => Ok(()),
            Actor::Tenant(s) => may_give_role(state, s, role)
                .map_err(|why| ApiError::forbidden(format!("denied: {why}"))),
        }
    }

    /// May it invite into (or accept an invitation to) `tenant` with `role`: the tenant is
    /// its own (else 404), it holds `users.invite`, and it may give `role`.
    pub fn may_invite(&self, state: &State, tenant: &str, role: &str) -> Result<(), ApiError> {
        let missing = || ApiError::NotFound {
            message: format!("tenant `{tenant}` does not exist"),
            details: serde_json::json!({ "kind": "tenant", "key": tenant }),
        };
        if !state.tenants.contains_key(tenant) || self.tenant().is_some_and(|t| t != tenant) {
            return Err(missing());
        }
        self.require(state, "users.invite")?;
        self.may_give(state, role)
    }

    /// May it change user `email` with `permission` (`users.update`, `users.block`,
    /// `users.remove`, `models.assign`): the one rule for every action on a user — edit,
    /// block, unblock, delete, password reset, ending its sessions. The system may. A tenant
    /// principal may only for a user who is a member of its tenant (else 404), holds no
    /// system role and belongs to no other tenant (else 403: only the system changes
    /// them), when it holds `permission` and may give the user's role there — so a
    /// `user_admin` (no `users.promote`) changes plain `member`s only.
    pub fn may_manage_user(
        &self,
        state: &State,
        email: &str,
        permission: &str,
    ) -> Result<(), ApiError> {
        let Actor::Tenant(s) = self else {
            return Ok(());
        };
        let t = s.tenant;
        let prefix = format!("{email}/");
        let mut role_in_t = None;
        let mut other = false;
        for k in state.keys_in(Kind::Membership, &prefix) {
            if keys::tenant_of(Kind::Membership, k) == Some(t) {
                role_in_t = state.memberships.get(k).map(|m| m.spec.role.as_str());
            } else {
                other = true;
            }
        }
        let Some(role) = role_in_t else {
            return Err(ApiError::not_found(format!(
                "user `{email}` does not exist"
            )));
        };
        if state
            .users
            .get(email)
            .is_some_and(|u| u.spec.system_role.is_some())
        {
            return Err(ApiError::forbidden(format!(
                "denied: `{email}` holds a system role; only the system changes them"
            )));
        }
        if other {
            return Err(ApiError::forbidden(format!(
                "denied: `{email}` is also a member of other tenants; only the system changes them"
            )));
        }
        self.require(state, permission)?;
        self.may_give(state, role)
    }

    /// Checks one write of `kind/key` from `before` to `after` (None: absent), on the state
    /// as it is before the write; a refusal names the resource. Users created by a tenant
    /// principal are collected in `created_users` for [`Principal::check_created_users`].
    pub fn check_write(
        &self,
        state: &State,
        kind: Kind,
        key: &str,
        before: Option<&AnySpec>,
        after: Option<&AnySpec>,
        created_users: &mut HashSet<String>,
    ) -> Result<(), ApiError> {
        self.write_needs(state, kind, key, before, after, created_users)
            .map_err(|e| match e {
                ApiError::Forbidden(m) => ApiError::Forbidden(format!("{kind} `{key}`: {m}")),
                other => other,
            })
    }

    fn write_needs(
        &self,
        state: &State,
        kind: Kind,
        key: &str,
        before: Option<&AnySpec>,
        after: Option<&AnySpec>,
        created_users: &mut HashSet<String>,
    ) -> Result<(), ApiError> {
        let Actor::Tenant(s) = self else {
            return Ok(());
        };
        let t = s.tenant;
        let hidden = || ApiError::not_found(format!("{kind} `{key}` does not exist"));
        let system_only = |what: &str| {
            ApiError::forbidden(format!("denied: only the system {what} (system tokens)"))
        };
        if matches!(
            kind,
            Kind::Workspace | Kind::TenantModel | Kind::Grant | Kind::Membership
        ) && keys::tenant_of(kind, key) != Some(t)
        {
            return Err(hidden());
        }
        match kind {
            Kind::Plan | Kind::Model | Kind::Role => {
                Err(system_only(&format!("changes {}s", kind)))
            }
            Kind::TenantModel => Err(system_only("grants models to tenants")),
            Kind::Tenant if key != t => Err(hidden()),
            Kind::Tenant => match (before, after) {
                (Some(_), None) => self.require(state, "organization.delete"),
                (Some(AnySpec::Tenant(b)), Some(AnySpec::Tenant(a))) => {
                    if a.limits != b.limits || a.status != b.status {
                        return Err(system_only("changes a tenant's limits or status"));
                    }
                    if a.plan != b.plan {
                        self.require(state, "subscription.manage")?;
                    }
                    let mut same = a.clone();
                    same.plan.clone_from(&b.plan);
                    if same != *b || a == b {
                        self.require(state, "organization.update")?;
                    }
                    Ok(())
                }
                _ => Err(system_only("creates tenants")),
            },
            Kind::Workspace => {
                let w = keys::split2(key).map_or(key, |(_, w)| w);
                match (before, after) {
                    (None, _) => self.require(state, "project.create"),
                    (Some(_), None) => self.require_on(state, "project.delete", Some(w)),
                    (Some(AnySpec::Workspace(b)), Some(AnySpec::Workspace(a))) => {
                        if a.display_name != b.display_name {
                            self.require_on(state, "project.rename", Some(w))?;
                        }
                        if a.description != b.description || a == b {
                            self.require_on(state, "project.update", Some(w))?;
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
            Kind::Grant => {
                let w = keys::split_grant(key).map_or("", |(_, w, _)| w);
                self.require(state, "users.assign_workspaces")?;
                if s.sees(w) {
                    Ok(())
                } else {
                    Err(ApiError::forbidden(format!(
                        "denied: {} does not see workspace `{w}`",
                        s.holder()
                    )))
                }
            }
            Kind::Membership => match (role_of(before), role_of(after)) {
                (None, Some(a)) => {
                    self.require(state, "users.invite")?;
                    self.may_give(state, a)
                }
                (Some(b), None) => {
                    self.require(state, "users.remove")?;
                    self.may_give(state, b)
                }
                (Some(b), Some(a)) => {
                    if a != b {
                        self.require(state, "users.promote")?;
                        self.may_give(state, b)?;
                        self.may_give(state, a)?;
                    }
                    let ws = |x: Option<&AnySpec>| match x {
                        Some(AnySpec::Membership(m)) => Some(m.workspaces.clone()),
                        _ => None,
                    };
                    if ws(before) != ws(after) || before == after {
                        self.require(state, "users.assign_workspaces")?;
                    }
                    Ok(())
                }
                (None, None) => Ok(()),
            },
            Kind::User => {
                let system_role = |x: Option<&AnySpec>| match x {
                    Some(AnySpec::User(u)) => u.system_role,
                    _ => None,
                };
                let role_changes = after.is_some() && system_role(after) != system_role(before);
                let refuse_role = || Err(system_only("changes a user's system role"));
                let Some(b) = before else {
                    if role_changes {
                        return refuse_role();
                    }
                    // A new user: it must become a member of the tenant in the same write.
                    self.require(state, "users.invite")?;
                    created_users.insert(key.to_string());
                    return Ok(());
                };
                if created_users.contains(key) {
                    return if role_changes { refuse_role() } else { Ok(()) };
                }
                // An existing user: whether it may change that user at all comes first, so
                // a user it may not see stays hidden.
                match (b, after) {
                    (_, None) => self.may_manage_user(state, key, "users.remove"),
                    (AnySpec::User(b), Some(AnySpec::User(a))) => {
                        if a.status != b.status {
                            self.may_manage_user(state, key, "users.block")?;
                        }
                        let mut same = a.clone();
                        same.status = b.status;
                        if same != *b || a == b {
                            self.may_manage_user(state, key, "users.update")?;
                        }
                        if role_changes {
                            return refuse_role();
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
            Kind::UserModel => {
                let Some((u, _)) = keys::split2(key) else {
                    return Err(hidden());
                };
                if !created_users.contains(u) {
                    self.may_manage_user(state, u, "models.assign")?;
                } else {
                    self.require(state, "models.assign")?;
                }
                Ok(())
            }
        }
    }
}

impl Principal {
    /// [`Actor::may_manage_user`] for this principal on `state`: the rule for every action
    /// on a user (reset, block, unblock, edit, delete, ending its sessions).
    pub fn may_manage_user(
        &self,
        state: &State,
        email: &str,
        permission: &str,
    ) -> Result<(), ApiError> {
        self.actor(state)?.may_manage_user(state, email, permission)
    }

    /// Checks one write (see [`Actor::check_write`]) for this principal on `state`.
    pub fn check_write(
        &self,
        state: &State,
        kind: Kind,
        key: &str,
        before: Option<&AnySpec>,
        after: Option<&AnySpec>,
        created_users: &mut HashSet<String>,
    ) -> Result<(), ApiError> {
        self.actor(state)?
            .check_write(state, kind, key, before, after, created_users)
    }

    /// At the end of a write by a tenant principal: every user it created is a member of
    /// its tenant.
    pub fn check_created_users(
        &self,
        after: &State,
        created_users: &HashSet<String>,
    ) -> Result<(), ApiError> {
        let Some(t) = self.tenant() else {
            return Ok(());
        };
        for u in created_users {
            if after.users.contains_key(u) && !after.memberships.contains_key(&keys::join(&[u, t]))
            {
                return Err(ApiError::forbidden(format!(
                    "a token of tenant `{t}` can only create users who become members of `{t}`; add the membership `{u}/{t}` in the same batch"
                )));
            }
        }
        Ok(())
    }
}
