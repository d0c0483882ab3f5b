//! Who may read and change what (PRODUCT.md §2 rule 10, and rule 6). The access matrix:
//!
//! | scope × role | reads | writes |
//! |---|---|---|
//! | `system` (any role) | everything | everything |
//! | `tenant:T` `org_admin` | plans, models, roles (the catalog); tenant T; T's workspaces, tenant models, grants, memberships; users who are members of T and their user models | T's workspaces, grants, memberships; users who are members of T only (and their user models), new users who become members of T; tenant T itself except `plan`, `limits`, `status` (no create, no delete) |
//! | `tenant:T` `user_admin` | catalog; tenant T; T's workspaces and memberships; members of T | memberships of T with role `member` only (create, delete, change workspaces; never promote or demote); new users for them; users whose only membership is a `member` one in T (delete) |
//! | `tenant:T` `billing_admin` | catalog; tenant T; T's memberships; members of T | tenant T's `plan` (billing) only |
//! | `tenant:T` `member` | nothing (403) | nothing (403) |
//!
//! Plans, models, roles and tenant models are written by system tokens only. A resource of
//! another tenant answers 404, so a tenant token never learns whether it exists; a resource
//! the token may see but not change answers 403. A token acting as a user (rule 6) can never
//! remove that user's memberships, delete it, block it or lower its role.

use std::collections::HashSet;

use crate::api::Reach;
use crate::diagnostic::Severity;
use crate::model::{keys, AnySpec, Kind, State};
use crate::rules::{self, SelfLockout, Violation};

use super::error::ApiError;
use super::scope;

/// The role of a token inside its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    OrgAdmin,
    UserAdmin,
    BillingAdmin,
    Member,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "org_admin" => Role::OrgAdmin,
            "user_admin" => Role::UserAdmin,
            "billing_admin" => Role::BillingAdmin,
            "member" => Role::Member,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::OrgAdmin => "org_admin",
            Role::UserAdmin => "user_admin",
            Role::BillingAdmin => "billing_admin",
            Role::Member => "member",
        }
    }
}

/// Where a token acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    System,
    Tenant(String),
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        if s == "system" {
            return Some(Scope::System);
        }
        let t = s.strip_prefix("tenant:")?;
        crate::rules::is_valid_key(t).then(|| Scope::Tenant(t.to_string()))
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::System => f.write_str("system"),
            Scope::Tenant(t) => write!(f, "tenant:{t}"),
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub scope: Scope,
    pub role: Role,
    /// The user the token acts as (rule 6).
    pub user: Option<String>,
}

/// The answer to "may this token read that".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The token may read it.
    Visible,
    /// Visible to the token's scope, but its role may not.
    Forbidden,
    /// Outside the token's scope: answered as if it did not exist.
    Hidden,
}

impl Principal {
    pub fn is_system(&self) -> bool {
        self.scope == Scope::System
    }

    /// The tenant of a tenant-scoped token.
    pub fn tenant(&self) -> Option<&str> {
        match &self.scope {
            Scope::System => None,
            Scope::Tenant(t) => Some(t),
        }
    }

    /// Whether the token may use administrative endpoints at all (members may not).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Member && !self.is_system() {
            return Err(ApiError::forbidden(
                "a `member` token has no administrative access",
            ));
        }
        Ok(())
    }

    /// Whether the token may read `kind/key` in `state`: visible, forbidden or hidden. The
    /// kind's read reach is [`scope::reach`]'s; a resource of another tenant is hidden.
    pub fn visibility(&self, state: &State, kind: Kind, key: &str) -> Visibility {
        let Scope::Tenant(t) = &self.scope else {
            return Visibility::Visible;
        };
        if self.role == Role::Member {
            return Visibility::Forbidden;
        }
        match scope::reach(&self.scope, self.role, kind).0 {
            Reach::All => Visibility::Visible,
            _ if !scope::in_tenant(state, kind, key, t) => Visibility::Hidden,
            Reach::Tenant => Visibility::Visible,
            Reach::None => Visibility::Forbidden,
        }
    }

    /// The part of `state` this token may read (the whole state for a system token).
    pub fn filter_state(&self, state: &State) -> Result<State, ApiError> {
        self.require_admin()?;
        let mut out = State {
            revision: state.revision,
            ..State::default()
        };
        for &kind in Kind::ALL {
            for key in state.keys(kind) {
                if self.visibility(state, kind, key) == Visibility::Visible {
                    if let Some((meta, spec)) = state.get(kind, key) {
                        out.insert(key.to_string(), meta, spec);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Checks one write of `kind/key` from `before` to `after` (None: absent) against the
    /// matrix, on the state as it is before the write. Users created by a tenant token are
    /// returned in `created_users` for [`Principal::check_created_users`].
    pub fn check_write(
        &self,
        state: &State,
        kind: Kind,
        key: &str,
        before: Option<&AnySpec>,
        after: Option<&AnySpec>,
        created_users: &mut HashSet<String>,
    ) -> Result<(), ApiError> {
        let Scope::Tenant(t) = &self.scope else {
            return Ok(());
        };
        let role = self.role;
        let hidden = || ApiError::not_found(format!("{kind} `{key}` does not exist"));
        let forbid = |why: &str| {
            ApiError::forbidden(format!(
                "a `{}` token of tenant `{t}` cannot {why} ({kind} `{key}`)",
                role.as_str()
            ))
        };
        // The kind's write reach first: a kind the token may not change at all.
        let (_, write, note) = scope::reach(&self.scope, role, kind);
        if write == Reach::None {
            let new_user = |u: &str| created_users.contains(u);
            let mine = scope::in_tenant(state, kind, key, t)
                || match kind {
                    Kind::User => before.is_none() || new_user(key),
                    Kind::UserModel => keys::split2(key).is_some_and(|(u, _)| new_user(u)),
                    _ => false,
                };
            if !mine && role != Role::Member {
                return Err(hidden());
            }
            return Err(ApiError::forbidden(format!(
                "a `{}` token of tenant `{t}` cannot change {kind} `{key}` (who may change {}: {})",
                role.as_str(),
                kind.plural(),
                note.unwrap_or("a system token")
            )));
        }
        match kind {
            Kind::Plan | Kind::Model | Kind::Role | Kind::TenantModel => {
                Err(forbid(&format!("change {}", kind.plural())))
            }
            Kind::Tenant => {
                if key != t {
                    return Err(hidden());
                }
                let (Some(AnySpec::Tenant(b)), Some(AnySpec::Tenant(a))) = (before, after) else {
                    return Err(forbid("create or delete tenants"));
                };
                match role {
                    Role::OrgAdmin if a.plan == b.plan && a.limits == b.limits && a.status == b.status => Ok(()),
                    Role::OrgAdmin => Err(forbid("change the tenant's plan, limits or status (system or billing_admin tokens)")),
                    Role::BillingAdmin => {
                        let mut same = a.clone();
                        same.plan = b.plan.clone();
                        if same == *b {
                            Ok(())
                        } else {
                            Err(forbid("change anything of the tenant but its plan"))
                        }
                    }
                    _ => Err(forbid("change the tenant")),
                }
            }
            Kind::Workspace | Kind::Grant => {
                if keys::tenant_of(kind, key) != Some(t.as_str()) {
                    return Err(hidden());
                }
                if role == Role::OrgAdmin {
                    Ok(())
                } else {
                    Err(forbid(&format!("change {kind}s")))
                }
            }
            Kind::Membership => {
                if keys::tenant_of(kind, key) != Some(t.as_str()) {
                    return Err(hidden());
                }
                let role_of = |s: Option<&AnySpec>| match s {
                    Some(AnySpec::Membership(m)) => Some(m.role.clone()),
                    _ => None,
                };
                match role {
                    Role::OrgAdmin => Ok(()),
                    Role::UserAdmin => {
                        let ok = |r: &Option<String>| r.as_deref().is_none_or(|r| r == "member");
                        if ok(&role_of(before)) && ok(&role_of(after)) {
                            Ok(())
                        } else {
                            Err(forbid("add, change or remove members other than `member`s, nor promote or demote"))
                        }
                    }
                    _ => Err(forbid("change memberships")),
                }
            }
            Kind::User => {
                let only_t = |state: &State| -> (bool, bool) {
                    let prefix = format!("{key}/");
                    let mut in_t = false;
                    let mut other = false;
                    for k in state.keys_in(Kind::Membership, &prefix) {
                        if keys::tenant_of(Kind::Membership, k) == Some(t.as_str()) {
                            in_t = true;
                        } else {
                            other = true;
                        }
                    }
                    (in_t, other)
                };
                if let Some(AnySpec::User(a)) = after {
                    let b_role = match before {
                        Some(AnySpec::User(b)) => b.system_role,
                        _ => None,
                    };
                    if a.system_role != b_role {
                        return Err(forbid("change a user's system role"));
                    }
                }
                if before.is_none() {
                    // A new user: allowed if it becomes a member of T (checked at the end).
                    return match role {
                        Role::OrgAdmin | Role::UserAdmin => {
                            created_users.insert(key.to_string());
                            Ok(())
                        }
                        _ => Err(forbid("create users")),
                    };
                }
                if created_users.contains(key) {
                    return Ok(());
                }
                let (in_t, other) = only_t(state);
                if !in_t {
                    return Err(hidden());
                }
                if other {
                    return Err(forbid(
                        "change a user who is also a member of other tenants (system tokens only)",
                    ));
                }
                match role {
                    Role::OrgAdmin => Ok(()),
                    Role::UserAdmin if after.is_none() => {
                        let m = state.memberships.get(&keys::join(&[key, t]));
                        if m.is_some_and(|m| m.spec.role == "member") {
                            Ok(())
                        } else {
                            Err(forbid("delete users other than `member`s"))
                        }
                    }
                    _ => Err(forbid("change users")),
                }
            }
            Kind::UserModel => {
                let Some((u, _)) = keys::split2(key) else {
                    return Err(hidden());
                };
                let prefix = format!("{u}/");
                let mut in_t = created_users.contains(u);
                let mut other = false;
                for k in state.keys_in(Kind::Membership, &prefix) {
                    if keys::tenant_of(Kind::Membership, k) == Some(t.as_str()) {
                        in_t = true;
                    } else {
                        other = true;
                    }
                }
                if !in_t {
                    return Err(hidden());
                }
                if role != Role::OrgAdmin {
                    return Err(forbid("change user models"));
                }
                if other {
                    return Err(forbid(
                        "change a user who is also a member of other tenants (system tokens only)",
                    ));
                }
                Ok(())
            }
        }
    }

    /// At the end of a write by a tenant token: every user it created is a member of its tenant.
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

/// Rule 6: a token acting as a user cannot remove, block or demote that user. `changes`
/// lists each resource the write touched: kind, key, its spec before and after the write.
/// What counts as a lockout (and the ranking of roles) is [`rules::self_lockout`]'s, the
/// same the plan flags as a `self_lockout` risk.
pub fn self_protection(
    principal: &Principal,
    changes: &[(Kind, &str, Option<&AnySpec>, Option<&AnySpec>)],
) -> Vec<Violation> {
    let Some(me) = principal.user.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &(kind, key, before, after) in changes {
        for lockout in rules::self_lockout(me, kind, key, before, after) {
            let message = match lockout {
                SelfLockout::DeleteUser => format!("the token acts as `{me}` and cannot delete it"),
                SelfLockout::BlockUser => format!("the token acts as `{me}` and cannot block it"),
                SelfLockout::DropSystemRole => {
                    format!("the token acts as `{me}` and cannot remove its system role")
                }
                SelfLockout::RemoveMembership => {
                    format!("the token acts as `{me}` and cannot remove its membership `{key}`")
                }
                SelfLockout::Demote { from, to } => format!(
                    "the token acts as `{me}` and cannot lower its role from `{from}` to `{to}`"
                ),
            };
            out.push(Violation {
                code: lockout.code(),
                severity: Severity::Error,
                kind,
                key: key.to_string(),
                field: None,
                message,
                help: Some("the identity that runs the change cannot remove, block or demote itself; use another token".into()),
            });
        }
    }
    out
}
