//! The platform's rules (PRODUCT.md §2) over a [`State`]: pure functions, no I/O. `validate`
//! runs them on the desired state and places each [`Violation`] at its YAML line; the server
//! runs them on the state a write would produce and refuses the write if it adds an error;
//! the plan runs the plan-time rules (6, 9) as risks. One rule, one implementation:
//!
//! - [`check`] — the rules that need no platform (1–5, 8) over one state, and
//!   [`Violations`], the same check kept up to date write by write (the server's);
//! - [`self_lockout`] — rule 6, with the one ranking of roles ([`role_rank`]);
//! - [`invitation`] — rule 8's checks of an invitation request;
//! - [`limits`] — effective limits, and rule 9 (limits lowered below live usage);
//! - [`access`] — "can user X do P": the one access decision, with its trace.

pub mod access;
mod check;
mod incremental;
pub mod invitation;
pub mod limits;
mod lockout;
mod names;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::diagnostic::Severity;
use crate::model::catalog;
use crate::model::keys;
use crate::model::{Kind, State, WorkspaceScope};

pub use check::{check, check_resource};
pub use incremental::{Recheck, Touched, Violations};
pub use invitation::{MAX_INVITATION_BATCH, MAX_INVITATION_WORKSPACES};
pub use lockout::{demotes, role_rank, self_lockout, SelfLockout};
pub use names::{
    did_you_mean, invalid_email_message, invalid_key_message, is_valid_email, is_valid_key,
    EMAIL_PATTERN, INVALID_KEY_HELP, INVALID_USER_HELP, KEY_PATTERN, USER_KEY_PATTERN,
};

/// One broken rule, located by resource and field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Violation {
    /// Stable code, without the `tenantctl::` prefix (`unknown_plan`).
    pub code: &'static str,
    pub severity: Severity,
    pub kind: Kind,
    pub key: String,
    /// Path of the offending field inside the resource's spec, `/`-separated
    /// (`plan`, `workspaces/2`); `None` points at the resource itself.
    pub field: Option<String>,
    pub message: String,
    /// What to do about it; a did-you-mean for misspelt references.
    pub help: Option<String>,
}

/// The built-in tenant role that administers a tenant.
pub const ORG_ADMIN: &str = "org_admin";

/// Whether `role` names a built-in or custom role of `state`.
pub fn role_exists(state: &State, role: &str) -> bool {
    catalog::builtin_role(role).is_some() || state.roles.contains_key(role)
}

/// Whether `role` can name a role: a built-in role, or a key (a custom role's identity).
pub fn is_role_name(role: &str) -> bool {
    catalog::builtin_role(role).is_some() || is_valid_key(role)
}

/// Whether members holding `role` see every workspace of their tenant.
pub fn role_sees_all_workspaces(state: &State, role: &str) -> bool {
    match catalog::builtin_role(role) {
        Some(b) => b.all_workspaces,
        None => state
            .roles
            .get(role)
            .is_some_and(|r| r.spec.workspaces == WorkspaceScope::All),
    }
}

/// Members of each tenant: tenant → [(email, role)]. One pass over the memberships.
pub fn members_by_tenant(state: &State) -> HashMap<&str, Vec<(&str, &str)>> {
    let mut out: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for (key, m) in &state.memberships {
        if let Some((user, tenant)) = keys::split2(key) {
            out.entry(tenant)
                .or_default()
                .push((user, m.spec.role.as_str()));
        }
    }
    out
}

/// Violations of `after` that `before` did not have, errors only: what a write introduces.
pub fn new_errors(before: &[Violation], after: Vec<Violation>) -> Vec<Violation> {
    let old: std::collections::HashSet<(&'static str, Kind, &str, Option<&str>)> = before
        .iter()
        .map(|v| (v.code, v.kind, v.key.as_str(), v.field.as_deref()))
        .collect();
    after
        .into_iter()
        .filter(|v| {
            v.severity == Severity::Error
                && !old.contains(&(v.code, v.kind, v.key.as_str(), v.field.as_deref()))
        })
        .collect()
}

/// Counts violations by severity.
pub fn counts(vs: &[Violation]) -> BTreeMap<Severity, usize> {
    let mut out = BTreeMap::new();
    for v in vs {
        *out.entry(v.severity).or_default() += 1;
    }
    out
}
