//! What a write does to the platform's data (registers and records, `store::registries`)
//! beside the resources, in the write's transaction. A workspace the write deletes (itself,
//! or with its tenant) that holds registers is refused unless the write cascades, and then
//! its registers and records go with it. A registers or records limit the write lowers below
//! what the tenant holds is rule 9 ([`limits::lowered_below_usage`], the comparison the plan
//! makes), refused unless the client accepted it. Each tenant concerned is locked first
//! ([`Tx::lock_tenant`]), so no create slips between the check and the commit.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::model::{keys, AnySpec, Kind, State};
use crate::rules::limits;
use crate::server::error::ApiError;
use crate::server::store::Tx;

use super::journal::Journal;
use super::WriteRequest;

pub(super) async fn persist(
    tx: &mut Tx,
    state: &State,
    journal: &Journal,
    req: &WriteRequest,
) -> Result<(), ApiError> {
    deleted_workspaces(tx, state, journal, req.cascade).await?;
    if !req.allow_limit_below_usage {
        lowered_limits(tx, state, journal).await?;
    }
    Ok(())
}

/// Refuses (or, with `cascade`, carries out) the deletion of workspaces that hold data.
async fn deleted_workspaces(
    tx: &mut Tx,
    state: &State,
    journal: &Journal,
    cascade: bool,
) -> Result<(), ApiError> {
    let mut by_tenant: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (kind, key) in &journal.touched {
        if *kind == Kind::Workspace && !state.contains(*kind, key) {
            if let Some((t, w)) = keys::split2(key) {
                by_tenant.entry(t).or_default().push(w);
            }
        }
    }
    for (t, ws) in by_tenant {
        tx.lock_tenant(t).await?;
        let usage = tx.data_usage_of(t).await?;
        if usage.registries == 0 && usage.records == 0 {
            continue;
        }
        let held = tx.workspace_data(t, &ws).await?;
        if held.is_empty() {
            continue;
        }
        if cascade {
            for w in held.keys() {
                tx.delete_workspace_data(t, w).await?;
            }
            continue;
        }
        let (w, n) = held
            .iter()
            .next()
            .map(|(w, n)| (w.clone(), *n))
            .unwrap_or_default();
        let more = match held.len() {
            1 => String::new(),
            k => format!(" (and {} more workspaces hold data)", k - 1),
        };
        return Err(ApiError::Conflict {
            code: "workspace_not_empty",
            message: format!(
                "workspace `{t}/{w}` holds {} register(s) and {} record(s){more}: deleting it \
                 would delete them. Delete them first, or delete the workspace alone with \
                 `?cascade=true`, which deletes its registers and records too",
                n.registries, n.records
            ),
            details: json!({
                "tenant": t,
                "workspace": w,
                "registries": n.registries,
                "records": n.records,
                "workspaces": held.keys().collect::<Vec<_>>(),
            }),
        });
    }
    Ok(())
}

/// Refuses a registers or records limit lowered below what its tenant holds (rule 9).
async fn lowered_limits(tx: &mut Tx, state: &State, journal: &Journal) -> Result<(), ApiError> {
    let plans: BTreeSet<&str> = journal
        .touched
        .iter()
        .filter(|(k, _)| *k == Kind::Plan)
        .map(|(_, key)| key.as_str())
        .collect();
    let mut tenants: BTreeSet<&str> = journal
        .touched
        .iter()
        .filter(|(k, _)| *k == Kind::Tenant)
        .map(|(_, key)| key.as_str())
        .collect();
    if !plans.is_empty() {
        tenants.extend(
            state
                .tenants
                .iter()
                .filter(|(_, e)| plans.contains(e.spec.plan.as_str()))
                .map(|(k, _)| k.as_str()),
        );
    }
    let mut refused = Vec::new();
    for t in tenants {
        let Some(AnySpec::Tenant(after)) = state.get(Kind::Tenant, t).map(|(_, s)| s) else {
            continue;
        };
        let Some(AnySpec::Tenant(before)) = journal.spec_before(state, Kind::Tenant, t) else {
            continue;
        };
        let plan_after = state.plans.get(&after.plan).map(|p| p.spec.clone());
        let plan_before = match journal.spec_before(state, Kind::Plan, &before.plan) {
            Some(AnySpec::Plan(p)) => Some(p),
            _ => None,
        };
        let was = limits::effective(&before, plan_before.as_ref());
        let to = limits::effective(&after, plan_after.as_ref());
        let lowered = |a: Option<u32>, b: Option<u32>| b.is_some_and(|b| a.is_none_or(|a| a > b));
        if !lowered(was.registries, to.registries) && !lowered(was.records, to.records) {
            continue;
        }
        tx.lock_tenant(t).await?;
        let usage = tx.data_usage_of(t).await?;
        let usage = limits::Usage {
            registries: usize::try_from(usage.registries).unwrap_or(usize::MAX),
            records: usize::try_from(usage.records).unwrap_or(usize::MAX),
            ..limits::Usage::default()
        };
        refused.extend(
            limits::lowered_below_usage(t, &was, &to, usage)
                .iter()
                .map(|b| b.violation(&after)),
        );
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(ApiError::Rules {
        message: format!(
            "the write breaks {} rule(s) of the platform: {}",
            refused.len(),
            refused[0].message
        ),
        violations: refused,
    })
}
