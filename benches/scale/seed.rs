//! Apply from empty at every size. Up to `large` it is `tenantctl apply`: one atomic batch.
//! The batch of `xlarge` (about 2.9 million operations, some 400 MB of JSON) is over the
//! platform's batch body limit (`BATCH_BODY_LIMIT`, 64 MB), so there it is sent as the
//! plan's operations in consecutive batches that each leave the platform valid: the
//! catalog, users by 100,000, each thousand tenants with everything under them and their
//! memberships, then the users' model grants.

use std::collections::HashMap;
use std::sync::Arc;

use tenantctl::apply::{self, BatchView, Mode};
use tenantctl::client::Client;
use tenantctl::model::{keys, Kind};
use tenantctl::plan::Plan;

use super::Error;

/// Users per batch, and tenants per batch (with their children and memberships).
const USERS_PER_BATCH: usize = 100_000;
const TENANTS_PER_BATCH: usize = 1_000;

/// Applies `plan` from an empty platform; returns the operations applied and the batches
/// sent.
pub async fn apply_from_empty(plan: &Plan, client: Arc<Client>) -> Result<(usize, usize), Error> {
    let request = apply::batch_request(plan, false);
    let bytes = serde_json::to_vec(&request)?.len();
    // The smoke run of `small` under `cargo test` (a debug build) splits too, so that the
    // split is checked: every batch accepted, and the no-op plan after it empty.
    let in_batches = bytes > tenantctl::server::http::BATCH_BODY_LIMIT || cfg!(debug_assertions);
    if !in_batches {
        drop(request);
        let applied =
            apply::apply(plan, client, Mode::Batch, false, apply::Progress::Hidden).await?;
        return Ok((applied.operations, 1));
    }
    let batches = split(request);
    let mut operations = 0;
    let n = batches.len();
    for b in batches {
        operations += client.batch(&b).await?.applied;
    }
    Ok((operations, n))
}

/// The group of an operation: 0 the catalog, then user batches, then tenant batches, then
/// the users' model grants.
fn split(request: BatchView<'_>) -> Vec<BatchView<'_>> {
    let mut tenants: Vec<&str> = request
        .operations
        .iter()
        .filter(|o| o.kind == Kind::Tenant)
        .map(|o| o.key)
        .collect();
    tenants.sort_unstable();
    let tenant_batch: HashMap<String, usize> = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i / TENANTS_PER_BATCH))
        .collect();
    let user_batches = request
        .operations
        .iter()
        .filter(|o| o.kind == Kind::User)
        .count()
        .div_ceil(USERS_PER_BATCH);
    let tenant_batches = tenants.len().div_ceil(TENANTS_PER_BATCH);
    let mut groups: Vec<BatchView<'_>> = (0..2 + user_batches + tenant_batches)
        .map(|_| BatchView {
            expected_revision: None,
            allow_limit_below_usage: false,
            dry_run: false,
            operations: Vec::new(),
        })
        .collect();
    let last = groups.len() - 1;
    let mut users = 0;
    for op in request.operations {
        let tenant = match op.kind {
            Kind::Tenant | Kind::Workspace | Kind::TenantModel | Kind::Grant => {
                op.key.split('/').next()
            }
            Kind::Membership => keys::split2(op.key).map(|(_, t)| t),
            _ => None,
        };
        let g = match (op.kind, tenant) {
            (Kind::Plan | Kind::Model | Kind::Role, _) => 0,
            (Kind::User, _) => {
                users += 1;
                1 + (users - 1) / USERS_PER_BATCH
            }
            (Kind::UserModel, _) => last,
            (_, Some(t)) => 1 + user_batches + tenant_batch.get(t).copied().unwrap_or(0),
            (_, None) => last,
        };
        groups[g].operations.push(op);
    }
    groups.retain(|g| !g.operations.is_empty());
    groups
}
