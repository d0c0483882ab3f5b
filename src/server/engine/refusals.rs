//! Which rule violations refuse a write, once its mutations are applied: rule 6 on the net
//! effect of the write, every error the write introduces (save a new tenant without members
//! yet, and a limit lowered below usage the client accepted), and any growth of a tenant
//! already over its limit.

use crate::model::{keys, AnySpec, Kind, State};
use crate::rules::{self, limits, Recheck, Violations};
use crate::server::authz;
use crate::server::error::ApiError;

use super::journal::Journal;
use super::snapshot::Snapshot;
use super::WriteRequest;

/// Checks `snap` after the write journaled in `journal`, where the write reaches: returns
/// the recheck of the rules (to keep as the state's violations once the write commits), or
/// the refusal. `violations` are those of the state before the write.
pub(super) fn check(
    snap: &Snapshot,
    req: &WriteRequest,
    journal: &Journal,
    violations: &Violations,
) -> Result<Recheck, ApiError> {
    let state = &snap.state;
    // Rule 6, on the net effect of the write: only a token acting as a user can lock that
    // user out (the net effect copies the specs before and after of every user and
    // membership the write touched, hundreds of thousands in an apply from empty).
    let mut refused = if req.principal.user.is_some() {
        let net = journal.net_changes(state, &[Kind::User, Kind::Membership]);
        let changes: Vec<(Kind, &str, Option<&AnySpec>, Option<&AnySpec>)> = net
            .iter()
            .map(|(k, key, b, a)| (*k, key.as_str(), b.as_ref(), a.as_ref()))
            .collect();
        authz::self_protection(&req.principal, state, &changes)
    } else {
        Vec::new()
    };
    let recheck = violations.recheck(state, &snap.index, &journal.changes(state));
    let before_violations = violations.before(&recheck);
    // A tenant already over a limit (an accepted rule-9 risk) may not grow further.
    for v in recheck.after() {
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
    let new = rules::new_errors(&before_violations, recheck.after().cloned().collect());
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
    Ok(recheck)
}

/// Whether this write lowered a limit of tenant `t` below its usage without adding to that
/// usage: rule 9 ([`rules::limits::lowered_below_usage`]), the risk a client accepts with
/// `allow_limit_below_usage`.
fn limit_lowered(state: &State, journal: &Journal, t: &str) -> bool {
    let limits =
        |tenant: Option<AnySpec>, billing_plan: Option<AnySpec>| match (tenant, billing_plan) {
            (Some(AnySpec::Tenant(ts)), Some(AnySpec::Plan(p))) => {
                Some(limits::effective(&ts, Some(&p)))
            }
            (Some(AnySpec::Tenant(ts)), _) => Some(limits::effective(&ts, None)),
            _ => None,
        };
    let before = journal.spec_before(state, Kind::Tenant, t);
    let before_plan = match &before {
        Some(AnySpec::Tenant(ts)) => journal.spec_before(state, Kind::Plan, &ts.plan),
        _ => None,
    };
    let after = state.get(Kind::Tenant, t).map(|(_, s)| s);
    let after_plan = match &after {
        Some(AnySpec::Tenant(ts)) => state.get(Kind::Plan, &ts.plan).map(|(_, s)| s),
        _ => None,
    };
    let (Some(was), Some(to)) = (limits(before, before_plan), limits(after, after_plan)) else {
        return false;
    };
    !limits::lowered_below_usage(t, &was, &to, limits::Usage::of(state, t)).is_empty()
        && !usage_grew(state, journal, t)
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
