//! Which rule violations refuse a write, once its mutations are applied: rule 6 on the net
//! effect of the write, every error the write introduces (save a new tenant without members
//! yet, and a limit lowered below usage the client accepted), and any growth of a tenant
//! already over its limit.

use crate::model::{keys, AnySpec, Kind, State};
use crate::rules::{self, Violation};
use crate::server::authz;
use crate::server::error::ApiError;

use super::journal::Journal;
use super::WriteRequest;

/// Checks `state` after the write journaled in `journal`; returns its violations, or the
/// refusal.
pub(super) fn check(
    state: &State,
    req: &WriteRequest,
    journal: &Journal,
    before_violations: &[Violation],
) -> Result<Vec<Violation>, ApiError> {
    // Rule 6, on the net effect of the write.
    let net = journal.net_changes(state, &[Kind::User, Kind::Membership]);
    let changes: Vec<(Kind, &str, Option<&AnySpec>, Option<&AnySpec>)> = net
        .iter()
        .map(|(k, key, b, a)| (*k, key.as_str(), b.as_ref(), a.as_ref()))
        .collect();
    let mut refused = authz::self_protection(&req.principal, &changes);
    let after = rules::check(state);
    // A tenant already over a limit (an accepted rule-9 risk) may not grow further.
    for v in &after {
        if v.code == "limit_exceeded"
            && v.kind == Kind::Tenant
            && usage_grew(state, journal, &v.key)
        {
            let known = before_violations.iter().any(|b| {
                b.code == v.code && b.kind == v.kind && b.key == v.key && b.field == v.field
            });
            if known {
                refused.push(v.clone());
            }
        }
    }
    let new = rules::new_errors(before_violations, after.clone());
    for v in new {
        let exempt = match v.code {
            // A tenant created by this write has no members yet.
            "no_org_admin" => {
                v.kind == Kind::Tenant && !journal.existed_before(state, Kind::Tenant, &v.key)
            }
            "limit_exceeded" => {
                req.allow_limit_below_usage
                    && v.kind == Kind::Tenant
                    && limit_lowered(state, journal, &v.key)
            }
            _ => false,
        };
        if !exempt {
            refused.push(v);
        }
    }
    if !refused.is_empty() {
        let n = refused.len();
        let first = refused[0].message.clone();
        return Err(ApiError::Rules {
            message: format!("the write breaks {n} rule(s) of the platform: {first}"),
            violations: refused,
        });
    }
    Ok(after)
}

/// Whether tenant `t`'s effective limits went down in this write while its usage did not
/// grow (rule 9: the risk a client accepts with `allow_limit_below_usage`).
fn limit_lowered(state: &State, journal: &Journal, t: &str) -> bool {
    let effective = |tenant: Option<AnySpec>,
                     plan_of: &dyn Fn(&str) -> Option<AnySpec>|
     -> Option<crate::model::Limits> {
        let Some(AnySpec::Tenant(ts)) = tenant else {
            return None;
        };
        let plan = match plan_of(&ts.plan) {
            Some(AnySpec::Plan(p)) => p.limits,
            _ => Default::default(),
        };
        Some(ts.limits.over(&plan))
    };
    let before = effective(journal.spec_before(state, Kind::Tenant, t), &|p| {
        journal.spec_before(state, Kind::Plan, p)
    });
    let after = effective(state.get(Kind::Tenant, t).map(|(_, s)| s), &|p| {
        state.get(Kind::Plan, p).map(|(_, s)| s)
    });
    let (Some(b), Some(a)) = (before, after) else {
        return false;
    };
    let lower = |b: Option<u32>, a: Option<u32>| match (b, a) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(a)) => a < b,
    };
    let lowered = lower(b.users, a.users) || lower(b.workspaces, a.workspaces);
    lowered && !usage_grew(state, journal, t)
}

/// Whether this write added members or workspaces to tenant `t`.
fn usage_grew(state: &State, journal: &Journal, t: &str) -> bool {
    journal.touched.iter().any(|(k, key)| {
        matches!(k, Kind::Membership | Kind::Workspace)
            && keys::tenant_of(*k, key) == Some(t)
            && state.contains(*k, key)
            && !journal.existed_before(state, *k, key)
    })
}
