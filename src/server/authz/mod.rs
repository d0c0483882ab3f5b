//! Who may read and change what on the platform. Every request is made by a [`Principal`]
//! (a token today; a session later), resolved once per request on the state into an
//! [`Actor`]: a system actor may do everything; any other acts inside one tenant with a
//! [`Standing`] from the one access decision ([`crate::rules::access`]):
//!
//! - a token created with `--user E` (scope `tenant:T`) acts as E in T: exactly E's access
//!   (user status, tenant status, membership, role and its workspaces, grants), narrowed by
//!   the token's own role when it has one; a session of E in T will be the same principal;
//! - a token of `tenant:T` without a user acts with its role (built-in or custom) alone;
//! - a system token acting as a user acts with the system's access only while that user is
//!   an active `super_admin`.
//!
//! Each action of the API needs a permission of the catalog (PRODUCT.md §2 rule 10 and the
//! 003 capability table, the 002 matrix for projects): `reads.rs` says what each kind needs
//! to be read, `writes.rs` what each change needs, `data.rs` what a request on registers and records needs. A resource of another tenant answers
//! 404, so a tenant principal never learns whether it exists; a resource it may see but not
//! change answers 403. `lockout.rs` is rule 6: a token acting as a user can never remove,
//! block or demote that user.

mod data;
mod lockout;
mod reads;
#[cfg(test)]
mod tests;
mod writes;

pub use lockout::self_protection;
pub use reads::{redact, sees_model_grants};

use crate::model::{State, SystemRole, UserStatus};
use crate::rules::access::{self, Quiet, Standing};

use super::error::ApiError;

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

/// The authenticated caller, as its credential says: where it acts, its own role and the
/// user it acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub scope: Scope,
    /// The token's own role (built-in or custom): what a tenant token without a user acts
    /// with, and what narrows a user's access; `None` for a token acting with its user's
    /// access whole (and for system tokens, whose role means nothing).
    pub role: Option<String>,
    /// The user the token acts as (rule 6; its access, for a tenant token).
    pub user: Option<String>,
}

/// The answer to "may this principal read that".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The principal may read it.
    Visible,
    /// Its name only (a workspace seen by a role holding `project.list_names`, the "**" of
    /// document 002): see [`redact`].
    Names,
    /// Inside the principal's tenant, but its access does not let it read it.
    Forbidden,
    /// Outside the principal's tenant: answered as if it did not exist.
    Hidden,
}

/// A principal resolved on a state: what it may do there.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'s> {
    /// Everything.
    System,
    /// Inside one tenant, with what the access decision says it holds.
    Tenant(Standing<'s>),
}

impl Principal {
    /// User `email` acting in `tenant` with exactly its own access: a token created with
    /// `--scope tenant:T --user E` and no role, or a session of E in T (`id` names it in
    /// the audit log).
    pub fn user_in(id: impl Into<String>, tenant: &str, email: &str) -> Principal {
        Principal {
            token_id: id.into(),
            scope: Scope::Tenant(tenant.to_string()),
            role: None,
            user: Some(email.to_string()),
        }
    }

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

    /// What this principal may do on `state`, or why it may do nothing (a blocked user, a
    /// suspended tenant, a user who is no longer a member, a role that does not exist).
    pub fn actor<'s>(&'s self, state: &'s State) -> Result<Actor<'s>, ApiError> {
        let refused = |why: String| ApiError::forbidden(format!("this token has no access: {why}"));
        match (&self.scope, self.user.as_deref()) {
            (Scope::System, None) => Ok(Actor::System),
            (Scope::System, Some(u)) => match state.users.get(u) {
                Some(e)
                    if e.spec.system_role == Some(SystemRole::SuperAdmin)
                        && e.spec.status == UserStatus::Active =>
                {
                    Ok(Actor::System)
                }
                Some(e) if e.spec.status == UserStatus::Blocked => {
                    Err(refused(format!("it acts as `{u}`, who is blocked")))
                }
                _ => Err(refused(format!(
                    "a system token acting as `{u}` needs `{u}` to be an active `super_admin`"
                ))),
            },
            (Scope::Tenant(t), Some(u)) => {
                let s = access::standing(state, u, t, &mut Quiet).map_err(|_| {
                    let mut steps = Vec::new();
                    let v = access::standing(state, u, t, &mut steps).err();
                    refused(format!(
                        "it acts as `{u}` in `{t}`, and {}",
                        v.map_or_else(String::new, |v| v.message)
                    ))
                })?;
                Ok(Actor::Tenant(match self.role.as_deref() {
                    Some(r) => s.narrowed(state, r),
                    None => s,
                }))
            }
            (Scope::Tenant(t), None) => {
                let Some(r) = self.role.as_deref() else {
                    return Err(refused(format!("a token of `{t}` needs a role or a user")));
                };
                Standing::of_role(state, t, r, &mut Quiet)
                    .map(Actor::Tenant)
                    .map_err(|_| {
                        let mut steps = Vec::new();
                        let v = Standing::of_role(state, t, r, &mut steps).err();
                        refused(v.map_or_else(String::new, |v| v.message))
                    })
            }
        }
    }

    /// [`Actor::visibility`] of this principal on `state`; a principal with no access sees
    /// its tenant's resources as forbidden.
    pub fn visibility(&self, state: &State, kind: crate::model::Kind, key: &str) -> Visibility {
        match self.actor(state) {
            Ok(a) => a.visibility(state, kind, key),
            Err(_) => match self.tenant() {
                Some(t) if crate::model::keys::tenant_of(kind, key).is_some_and(|k| k != t) => {
                    Visibility::Hidden
                }
                _ => Visibility::Forbidden,
            },
        }
    }

    /// [`Actor::require`] of this principal on `state`.
    pub fn require(&self, state: &State, permission: &str) -> Result<(), ApiError> {
        self.actor(state)?.require(state, permission)
    }
}

impl Actor<'_> {
    /// The tenant it acts in (`None`: the system).
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Actor::System => None,
            Actor::Tenant(s) => Some(s.tenant),
        }
    }

    /// Ok when permission `name` is held in the tenant (always for the system); a 403 with
    /// the decision's words otherwise.
    pub fn require(&self, state: &State, name: &str) -> Result<(), ApiError> {
        self.require_on(state, name, None)
    }

    /// [`Actor::require`] on one workspace of the tenant.
    pub fn require_on(
        &self,
        state: &State,
        name: &str,
        workspace: Option<&str>,
    ) -> Result<(), ApiError> {
        match self {
            Actor::System => Ok(()),
            Actor::Tenant(s) if s.may(state, name, workspace) => Ok(()),
            Actor::Tenant(s) => Err(ApiError::forbidden(format!(
                "denied: {}",
                s.explain(state, name, workspace).message
            ))),
        }
    }

    /// May it ask the access decision about `user` in `tenant` (`GET /api/v1/access`)?
    /// The system may; a principal of `tenant` may about itself, or about anyone when it
    /// sees the tenant's users (`users.read`).
    pub fn may_ask_about(&self, state: &State, user: &str, tenant: &str) -> Result<(), ApiError> {
        match self {
            Actor::System => Ok(()),
            Actor::Tenant(s) if s.tenant != tenant => Err(ApiError::not_found(format!(
                "tenant `{tenant}` does not exist"
            ))),
            Actor::Tenant(s) if s.user == Some(user) => Ok(()),
            Actor::Tenant(_) => self.require(state, "users.read"),
        }
    }
}
