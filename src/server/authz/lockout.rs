//! Rule 6 on the platform: a token acting as a user cannot remove, block or demote that
//! user. What counts as a lockout (and the ranking of roles) is [`rules::self_lockout`]'s,
//! the same the plan flags as a `self_lockout` risk; this only words the refusal.

use crate::diagnostic::Severity;
use crate::model::{keys, AnySpec, Kind, State};
use crate::rules::{self, SelfLockout, Violation};

use super::Principal;

/// The refusals of rule 6 for a write by `principal`. `changes` lists each resource the
/// write touched: kind, key, its spec before and after the write; `after` is the state the
/// write leaves. A membership that goes with its tenant (the organisation deleted, which
/// document 003 lets its admin do) is no lockout: there is nothing left to be locked out of.
pub fn self_protection(
    principal: &Principal,
    after: &State,
    changes: &[(Kind, &str, Option<&AnySpec>, Option<&AnySpec>)],
) -> Vec<Violation> {
    let Some(me) = principal.user.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &(kind, key, before, spec_after) in changes {
        let tenant_gone = kind == Kind::Membership
            && keys::tenant_of(kind, key).is_some_and(|t| !after.tenants.contains_key(t));
        if tenant_gone {
            continue;
        }
        for lockout in rules::self_lockout(me, kind, key, before, spec_after) {
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
