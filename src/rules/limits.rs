//! Limits: a tenant's effective limits (its own overrides over its billing plan's, rule 3),
//! and rule 9: a limit lowered below the tenant's live usage.

use std::collections::HashMap;

use crate::model::{Kind, Limits, PlanSpec, State, TenantSpec};

use super::{members_by_tenant, Violation};
use crate::diagnostic::Severity;

/// The limits that apply to a tenant: each limit it sets itself, else its billing plan's.
pub fn effective(tenant: &TenantSpec, billing_plan: Option<&PlanSpec>) -> Limits {
    match billing_plan {
        Some(p) => tenant.limits.over(&p.limits),
        None => tenant.limits.over(&Limits::default()),
    }
}

/// The effective limits of tenant `tenant` of `state`, its billing plan looked up in `state`
/// and then in `fallback` (a desired state may leave out the plans it does not change).
/// `None` when the tenant does not exist.
pub fn effective_limits(state: &State, tenant: &str, fallback: &State) -> Option<Limits> {
    let t = state.tenants.get(tenant)?;
    let billing_plan = state
        .plans
        .get(&t.spec.plan)
        .or_else(|| fallback.plans.get(&t.spec.plan));
    Some(effective(&t.spec, billing_plan.map(|p| &p.spec)))
}

/// One limit of a tenant lowered below its live usage (rule 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BelowUsage<'a> {
    /// The desired tenant key.
    pub tenant: &'a str,
    /// Which limit: `users`, `workspaces`, `registries` or `records`.
    pub limit: &'static str,
    /// What is counted against it: `members`, `workspaces`, `registries` or `records`.
    pub unit: &'static str,
    /// The live limit (`None`: unlimited).
    pub was: Option<u32>,
    /// The desired limit.
    pub to: u32,
    /// The live usage, above `to`.
    pub usage: usize,
}

impl BelowUsage<'_> {
    /// The server's refusal of this lowered limit (`limit_exceeded` on the tenant), for a
    /// client that did not accept the risk; `tenant` is the tenant's spec after the write.
    pub fn violation(&self, tenant: &TenantSpec) -> Violation {
        let own = match self.limit {
            "users" => tenant.limits.users,
            "workspaces" => tenant.limits.workspaces,
            "registries" => tenant.limits.registries,
            _ => tenant.limits.records,
        };
        Violation {
            code: "limit_exceeded",
            severity: Severity::Error,
            kind: Kind::Tenant,
            key: self.tenant.to_string(),
            field: Some(match own {
                Some(_) => format!("limits/{}", self.limit),
                None => "plan".to_string(),
            }),
            message: format!(
                "tenant `{}` has {} {} but its {} limit would be {}",
                self.tenant, self.usage, self.unit, self.limit, self.to
            ),
            help: Some(format!(
                "raise `limits.{}`, or accept the risk in the plan (`acknowledge:` \
                 `limit_below_usage`, or --allow-limit-below-usage)",
                self.limit
            )),
        }
    }
}

/// A tenant's usage of its four limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Members of the tenant.
    pub users: usize,
    /// Workspaces of the tenant.
    pub workspaces: usize,
    /// Registers of the tenant (platform data: known from a live state's `usage`, or from
    /// the platform's database).
    pub registries: usize,
    /// Records of the tenant (likewise).
    pub records: usize,
}

impl Usage {
    /// Tenant `tenant`'s usage in `state`: members and workspaces counted in it, registers
    /// and records from its `usage` (none in a desired state or the server's own copy).
    pub fn of(state: &State, tenant: &str) -> Usage {
        let prefix = format!("{tenant}/");
        Usage {
            users: state
                .memberships
                .keys()
                .filter(|k| crate::model::keys::split2(k).is_some_and(|(_, t)| t == tenant))
                .count(),
            workspaces: state.keys_in(Kind::Workspace, &prefix).count(),
            ..Usage::of_data(state, tenant)
        }
    }

    /// Registers and records of `tenant` from `state.usage` (members and workspaces zero).
    pub fn of_data(state: &State, tenant: &str) -> Usage {
        let data = state.usage.get(tenant).copied().unwrap_or_default();
        Usage {
            registries: usize::try_from(data.registries).unwrap_or(usize::MAX),
            records: usize::try_from(data.records).unwrap_or(usize::MAX),
            ..Usage::default()
        }
    }
}

/// A create refused by a limit: tenant `tenant` is at `value` of `limit` and uses `usage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded<'a> {
    pub tenant: &'a str,
    /// `registries` or `records` (or `users`, `workspaces`).
    pub limit: &'static str,
    pub value: u32,
    pub usage: u64,
}

impl Exceeded<'_> {
    /// The refusal in words, with what to do about it.
    pub fn message(&self) -> String {
        format!(
            "tenant `{}` may have at most {} {} (its plan and its own limits) and has {}: \
             raise `limits.{}` on the tenant, move it to a larger plan, or delete some",
            self.tenant, self.value, self.limit, self.usage, self.limit
        )
    }
}

/// Rule 9, the one comparison: each limit that goes from `was` to `to` (a missing limit is
/// unlimited) and ends below `usage`, where it was not already at or below that value. The plan calls it with the desired and live limits and the live usage;
/// the server with the limits before and after a write and the usage after it.
pub fn lowered_below_usage<'a>(
    tenant: &'a str,
    was: &Limits,
    to: &Limits,
    usage: Usage,
) -> Vec<BelowUsage<'a>> {
    [
        ("users", "members", was.users, to.users, usage.users),
        (
            "workspaces",
            "workspaces",
            was.workspaces,
            to.workspaces,
            usage.workspaces,
        ),
        (
            "registries",
            "registries",
            was.registries,
            to.registries,
            usage.registries,
        ),
        ("records", "records", was.records, to.records, usage.records),
    ]
    .into_iter()
    .filter_map(|(limit, unit, was, to, usage)| {
        let to = to?;
        ((to as usize) < usage && was.is_none_or(|w| w > to)).then_some(BelowUsage {
            tenant,
            limit,
            unit,
            was,
            to,
            usage,
        })
    })
    .collect()
}

/// Rule 9: every limit of a desired tenant that goes down to below its live usage. A tenant
/// renamed by the change is compared with its live self: `live_key` maps a desired tenant
/// key to its live key when they differ.
pub fn below_usage<'a>(
    desired: &'a State,
    live: &State,
    live_key: &HashMap<&str, &str>,
) -> Vec<BelowUsage<'a>> {
    // The members are counted only when some limit goes down (none does in most plans).
    let mut members = None;
    let mut out = Vec::new();
    for tenant in desired.tenants.keys() {
        let lt = live_key.get(tenant.as_str()).copied().unwrap_or(tenant);
        let (Some(after), Some(before)) = (
            effective_limits(desired, tenant, live),
            effective_limits(live, lt, live),
        ) else {
            continue;
        };
        // Below any usage: whether a limit is lowered at all.
        let unbounded = Usage {
            users: usize::MAX,
            workspaces: usize::MAX,
            registries: usize::MAX,
            records: usize::MAX,
        };
        if lowered_below_usage(tenant, &before, &after, unbounded).is_empty() {
            continue;
        }
        let members = members.get_or_insert_with(|| members_by_tenant(live));
        let data = Usage::of_data(live, lt);
        let usage = Usage {
            users: members.get(lt).map_or(0, Vec::len),
            workspaces: live.keys_in(Kind::Workspace, &format!("{lt}/")).count(),
            ..data
        };
        out.extend(lowered_below_usage(tenant, &before, &after, usage));
    }
    out
}
