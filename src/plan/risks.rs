//! Plan-time risks: what the plan predicts apply or the platform will refuse, for a human to
//! see before apply — the delete guard, a replace of a protected resource, rule 6 (no
//! self-lockout) and rule 9 (a limit lowered below live usage).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{
    Action, Plan, PlanOptions, Risk, LIMIT_BELOW_USAGE, PROTECTED_REPLACE, SELF_LOCKOUT,
    TOO_MANY_DELETES,
};
use crate::model::keys;
use crate::model::{Kind, Limits, State, UserStatus};
use crate::rules;

/// A replace deletes the old resource: a risk when it is protected.
pub(super) fn protected_replace(live: &State, kind: Kind, old: &str, new: &str) -> Option<Risk> {
    live.meta(kind, old)
        .is_some_and(|m| m.protected)
        .then(|| Risk {
            code: PROTECTED_REPLACE.into(),
            kind,
            key: old.to_string(),
            message: format!(
                "{kind} `{old}` is protected, and replacing it by `{new}` deletes it; apply `protected: false` on it first, or drop `previously:`"
            ),
        })
}

/// The delete guard: no plan deletes more than `max_percent` of a kind's live resources.
pub(super) fn delete_guard(plan: &Plan, live: &State, max_percent: u8) -> Vec<Risk> {
    let mut by_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        *by_kind.entry(c.kind).or_default() += 1;
    }
    by_kind
        .into_iter()
        .filter_map(|(kind, n)| {
            let total = live.count(kind);
            (n * 100 > usize::from(max_percent) * total).then(|| Risk {
                code: TOO_MANY_DELETES.into(),
                kind,
                key: "*".into(),
                message: format!(
                    "the plan deletes {n} of {total} live {} ({} %), more than the {max_percent} % allowed; check the deletes, then pass --max-delete-percent {}",
                    kind.plural(),
                    n * 100 / total.max(1),
                    (n * 100).div_ceil(total.max(1)).min(100),
                ),
            })
        })
        .collect()
}

/// Rule 6: the identity running the apply cannot remove, block or demote itself.
pub(super) fn self_lockout(plan: &Plan, live: &State, opts: &PlanOptions) -> Vec<Risk> {
    let Some(me) = opts.identity.user.as_deref() else {
        return Vec::new();
    };
    let me = me.to_lowercase();
    let mut out = Vec::new();
    let mut risk = |kind: Kind, key: &str, what: String| {
        out.push(Risk {
            code: SELF_LOCKOUT.into(),
            kind,
            key: key.to_string(),
            message: format!("the identity running the apply (`{me}`) cannot {what} (rule 6); run the apply with another identity"),
        });
    };
    for c in &plan.changes {
        let live_key = c.previous_key.as_deref().unwrap_or(&c.key);
        match (c.kind, c.action) {
            (Kind::User, Action::Delete | Action::Replace) if live_key == me => {
                risk(c.kind, live_key, "delete itself".into())
            }
            (Kind::User, Action::Update) if c.key == me => {
                for f in &c.fields {
                    if f.path == "status"
                        && f.after
                            == Some(serde_json::to_value(UserStatus::Blocked).unwrap_or_default())
                    {
                        risk(c.kind, &c.key, "block itself".into());
                    }
                    if f.path == "system_role" && f.before.is_some() && f.after.is_none() {
                        risk(c.kind, &c.key, "remove its own system role".into());
                    }
                }
            }
            (Kind::Membership, Action::Delete)
                if keys::split2(live_key).is_some_and(|(u, _)| u == me) =>
            {
                risk(c.kind, live_key, "remove its own membership".into())
            }
            (Kind::Membership, Action::Update)
                if keys::split2(&c.key).is_some_and(|(u, _)| u == me) =>
            {
                let before = live.memberships.get(live_key).map(|e| e.spec.role.as_str());
                for f in c.fields.iter().filter(|f| f.path == "role") {
                    let after = f.after.as_ref().and_then(Value::as_str);
                    if demotes(before, after) {
                        risk(
                            c.kind,
                            &c.key,
                            format!(
                                "demote itself from `{}` to `{}`",
                                before.unwrap_or("?"),
                                after.unwrap_or("?")
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether a role change lowers administrative power: org_admin > user_admin > the rest.
fn demotes(before: Option<&str>, after: Option<&str>) -> bool {
    let power = |r: Option<&str>| match r {
        Some("org_admin") => 2,
        Some("user_admin") => 1,
        _ => 0,
    };
    power(after) < power(before)
}

fn effective_limits(state: &State, tenant: &str, fallback: &State) -> Option<Limits> {
    let t = state.tenants.get(tenant)?;
    let plan = state
        .plans
        .get(&t.spec.plan)
        .or_else(|| fallback.plans.get(&t.spec.plan));
    Some(
        t.spec
            .limits
            .over(&plan.map(|p| p.spec.limits.clone()).unwrap_or_default()),
    )
}

/// Rule 9: a tenant limit lowered below the tenant's live usage.
pub(super) fn limits_below_usage(plan: &Plan, desired: &State, live: &State) -> Vec<Risk> {
    let members = rules::members_by_tenant(live);
    let mut out = Vec::new();
    // The live key of each desired tenant (a renamed tenant is compared with its old self).
    let mut live_key: HashMap<&str, &str> = HashMap::new();
    for c in plan.changes.iter().filter(|c| c.kind == Kind::Tenant) {
        if let Some(p) = &c.previous_key {
            live_key.insert(c.key.as_str(), p.as_str());
        }
    }
    for tenant in desired.tenants.keys() {
        let lt = live_key.get(tenant.as_str()).copied().unwrap_or(tenant);
        let (Some(after), Some(before)) = (
            effective_limits(desired, tenant, live),
            effective_limits(live, lt, live),
        ) else {
            continue;
        };
        let users = members.get(lt).map_or(0, Vec::len);
        let workspaces = live.keys_in(Kind::Workspace, &format!("{lt}/")).count();
        for (name, limit, was, usage, unit) in [
            ("users", after.users, before.users, users, "members"),
            (
                "workspaces",
                after.workspaces,
                before.workspaces,
                workspaces,
                "workspaces",
            ),
        ] {
            let Some(limit) = limit else { continue };
            if (limit as usize) < usage && was.is_none_or(|w| w > limit) {
                out.push(Risk {
                    code: LIMIT_BELOW_USAGE.into(),
                    kind: Kind::Tenant,
                    key: tenant.clone(),
                    message: format!(
                        "the {name} limit of tenant `{tenant}` goes from {} to {limit}, below its {usage} live {unit}; apply refuses it without --allow-limit-below-usage",
                        was.map_or("unlimited".to_string(), |w| w.to_string())
                    ),
                });
            }
        }
    }
    out
}
