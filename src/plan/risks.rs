//! Plan-time risks: what the plan predicts apply or the platform will refuse, for a human to
//! see before apply — the delete guard, a replace of a protected resource, rule 6 (no
//! self-lockout) and rule 9 (a limit lowered below live usage).

use std::collections::{BTreeMap, HashMap};

use super::{
    Action, Plan, PlanOptions, Risk, LIMIT_BELOW_USAGE, PROTECTED_REPLACE, SELF_LOCKOUT,
    TOO_MANY_DELETES,
};
use crate::model::{Kind, State};
use crate::rules::{self, SelfLockout};

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
            acknowledged: None,
        })
}

/// The delete guard: no plan deletes more than `max_percent` of a kind's live resources.
/// Like every risk an `acknowledge:` entry may approve, its message is what the risk is, `; `,
/// then how to approve it (dropped once it is approved).
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
                    "the plan deletes {n} of {total} live {} ({} %), more than the {max_percent} % allowed; check the deletes, then acknowledge them in the configuration (`acknowledge: [{{code: {TOO_MANY_DELETES}, kind: {kind}}}]`) or plan with --max-delete-percent {}",
                    kind.plural(),
                    n * 100 / total.max(1),
                    (n * 100).div_ceil(total.max(1)).min(100),
                ),
                acknowledged: None,
            })
        })
        .collect()
}

/// Rule 6: the identity running the apply cannot remove, block or demote itself. What locks
/// it out is [`rules::self_lockout`]'s decision, the same the server refuses.
pub(super) fn self_lockout(
    plan: &Plan,
    desired: &State,
    live: &State,
    opts: &PlanOptions,
) -> Vec<Risk> {
    let Some(me) = opts.identity.user.as_deref() else {
        return Vec::new();
    };
    let me = me.to_lowercase();
    let mut out = Vec::new();
    for c in &plan.changes {
        let live_key = c.previous_key.as_deref().unwrap_or(&c.key);
        let gone = match (c.kind, c.action) {
            (Kind::User, Action::Delete | Action::Replace) | (Kind::Membership, Action::Delete) => {
                true
            }
            (Kind::User | Kind::Membership, Action::Update) => false,
            _ => continue,
        };
        let before = live.get(c.kind, live_key).map(|(_, s)| s);
        let after = if gone {
            None
        } else {
            desired.get(c.kind, &c.key).map(|(_, s)| s)
        };
        for lockout in rules::self_lockout(&me, c.kind, live_key, before.as_ref(), after.as_ref()) {
            let what = match lockout {
                SelfLockout::DeleteUser => "delete itself".to_string(),
                SelfLockout::BlockUser => "block itself".into(),
                SelfLockout::DropSystemRole => "remove its own system role".into(),
                SelfLockout::RemoveMembership => "remove its own membership".into(),
                SelfLockout::Demote { from, to } => {
                    format!("demote itself from `{from}` to `{to}`")
                }
            };
            out.push(Risk {
                code: SELF_LOCKOUT.into(),
                kind: c.kind,
                key: if gone { live_key } else { &c.key }.to_string(),
                message: format!("the identity running the apply (`{me}`) cannot {what} (rule 6); run the apply with another identity"),
                acknowledged: None,
            });
        }
    }
    out
}

/// Rule 9: a tenant limit lowered below the tenant's live usage ([`rules::limits::below_usage`]).
/// The message: what, `; `, how to approve it (see [`delete_guard`]).
pub(super) fn limits_below_usage(plan: &Plan, desired: &State, live: &State) -> Vec<Risk> {
    // The live key of each desired tenant (a renamed tenant is compared with its old self).
    let live_key: HashMap<&str, &str> = plan
        .changes
        .iter()
        .filter(|c| c.kind == Kind::Tenant)
        .filter_map(|c| Some((c.key.as_str(), c.previous_key.as_deref()?)))
        .collect();
    rules::limits::below_usage(desired, live, &live_key)
        .into_iter()
        .map(|b| Risk {
            code: LIMIT_BELOW_USAGE.into(),
            kind: Kind::Tenant,
            key: b.tenant.to_string(),
            message: format!(
                "the {} limit of tenant `{}` goes from {} to {}, below its {} live {}; apply refuses it unless it is acknowledged in the configuration (`acknowledge: [{{code: {LIMIT_BELOW_USAGE}, kind: tenant, key: {}}}]`) or planned with --allow-limit-below-usage",
                b.limit,
                b.tenant,
                b.was.map_or("unlimited".to_string(), |w| w.to_string()),
                b.to,
                b.usage,
                b.unit,
                b.tenant,
            ),
            acknowledged: None,
        })
        .collect()
}
