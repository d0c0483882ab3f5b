//! Runs a [`Plan`] through the [`Client`]: one atomic batch by default (all or nothing, with
//! the plan's revision as precondition), or resource by resource with N requests in flight
//! (`--parallelism`) for platforms without batches. Never re-diffs: it sends the plan's ops.

mod lock;
mod progress;
pub mod saved;
mod wire;

pub use lock::Lease;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::{self, PutBody};
use crate::client::{Client, ClientError};
use crate::plan::{Plan, Verb, Write};

use progress::Reporter;
pub use progress::{seconds, Progress};
pub use wire::{batch_request, BatchView};

/// How apply writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One atomic batch.
    Batch,
    /// One request per resource, at most this many at a time.
    Resources { parallelism: usize },
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Operations sent and accepted.
    pub operations: usize,
    /// The platform's revision afterwards, when known.
    pub revision: Option<i64>,
}

/// Why an apply failed. Nothing was written unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the platform changed since this plan was made (planned at revision {planned}, the platform is now at revision {live}); nothing was applied")]
    Stale { planned: i64, live: i64 },
    #[error("a resource changed since this plan was made: {0}; nothing was applied")]
    StaleVersion(String),
    #[error("the platform refused the changes; nothing was applied:\n{}", .0.iter().map(|v| format!("  - {v}")).collect::<Vec<_>>().join("\n"))]
    Rejected(Vec<String>),
    #[error("the platform refused the changes, which this token may not make; nothing was applied:\n  - {0}")]
    NotPermitted(String),
    #[error("{0}")]
    Locked(String),
    #[error("the apply lock was lost (another apply holds it now) after {done} of {total} operations; the rest was not applied")]
    LockLost { done: usize, total: usize },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{done} of {total} operations were applied before {op} failed: {source}")]
    Partial {
        done: usize,
        total: usize,
        op: String,
        source: ClientError,
    },
}

impl ApplyError {
    /// What to do next, shown apart from the message.
    pub fn help(&self) -> &'static str {
        match self {
            ApplyError::Stale { .. } | ApplyError::StaleVersion(_) => "run `tenantctl plan` again (and `--out` a new plan file), review it, then apply it",
            ApplyError::Rejected(_) => "fix the configuration (`tenantctl validate` shows most problems), then plan again",
            ApplyError::NotPermitted(_) => "apply these changes with a token allowed to make them (the message says who may), or leave them out of the configuration",
            ApplyError::Locked(_) => "another apply is running: wait for it to finish (a lease not renewed ends by itself), then plan and apply again",
            ApplyError::LockLost { .. } | ApplyError::Partial { .. } => "run `tenantctl apply` again with the same configuration: it plans from the live state and finishes the work",
            ApplyError::Client(_) => "check the endpoint, the token and the network, then run apply again",
        }
    }
}

/// The violations in a 422 `rule_violation` body, as lines.
fn violations(e: &ClientError) -> Vec<String> {
    let ClientError::Api { body, .. } = e else {
        return Vec::new();
    };
    let list = body
        .details
        .get("violations")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<String> = list
        .iter()
        .map(|v| {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
            let place = [s("kind"), s("key")]
                .iter()
                .filter(|x| !x.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "{} [{}]{}",
                s("message"),
                s("code"),
                if place.is_empty() {
                    String::new()
                } else {
                    format!(" ({place})")
                }
            )
        })
        .collect();
    if out.is_empty() {
        out.push(body.message.clone());
    }
    out
}

fn classify(e: ClientError, planned: i64) -> ApplyError {
    match e.code() {
        Some("stale_revision") => {
            let live = match &e {
                ClientError::Api { body, .. } => body
                    .details
                    .get("actual")
                    .or_else(|| body.details.get("revision"))
                    .and_then(|v| v.as_i64())
                    .unwrap_or(-1),
                _ => -1,
            };
            ApplyError::Stale { planned, live }
        }
        Some("stale_version") => ApplyError::StaleVersion(match &e {
            ClientError::Api { body, .. } => body.message.clone(),
            _ => e.to_string(),
        }),
        Some("rule_violation") => ApplyError::Rejected(violations(&e)),
        Some("resource_protected") => ApplyError::Rejected(violations(&e)),
        Some("forbidden") => ApplyError::NotPermitted(match &e {
            ClientError::Api { body, .. } => body.message.clone(),
            _ => e.to_string(),
        }),
        _ => ApplyError::Client(e),
    }
}

/// The wire form of a put's sensitive fields: always sent, so the platform forgets fields
/// that are no longer sensitive.
fn sensitive(op: &Write) -> Vec<api::SensitiveField> {
    op.sensitive
        .iter()
        .map(|f| api::SensitiveField {
            pointer: f.pointer.clone(),
            source: f.source.clone(),
        })
        .collect()
}

/// Applies `plan` under the platform's apply lock (taken first, released at the end, also
/// on failure). `progress` says how a resource-by-resource apply shows its progress.
pub async fn apply(
    plan: &Plan,
    client: Arc<Client>,
    mode: Mode,
    allow_limit_below_usage: bool,
    progress: Progress,
) -> Result<Applied, ApplyError> {
    let lease = Lease::acquire(client.clone()).await?;
    let out = apply_locked(
        plan,
        client,
        mode,
        allow_limit_below_usage,
        progress,
        &lease,
    )
    .await;
    lease.release().await;
    out
}

async fn apply_locked(
    plan: &Plan,
    client: Arc<Client>,
    mode: Mode,
    allow_limit_below_usage: bool,
    progress: Progress,
    lease: &Lease,
) -> Result<Applied, ApplyError> {
    match mode {
        Mode::Batch => {
            let req = batch_request(plan, allow_limit_below_usage);
            let resp = client
                .batch(&req)
                .await
                .map_err(|e| classify(e, plan.revision))?;
            Ok(Applied {
                operations: resp.applied,
                revision: Some(resp.revision),
            })
        }
        Mode::Resources { parallelism } => {
            resources(
                plan,
                client,
                parallelism.max(1),
                allow_limit_below_usage,
                progress,
                lease,
            )
            .await
        }
    }
}

/// One op over the single-resource endpoints. Idempotent: a delete of an absent resource,
/// or a put that finds the resource already as planned (a retried write that landed), is a
/// success.
async fn run_op(client: &Client, op: &Write) -> Result<(), ClientError> {
    match op.verb {
        Verb::Delete => match client.delete(op.kind, &op.key, op.if_version).await {
            Err(e) if e.status() == Some(404) => Ok(()),
            other => other,
        },
        Verb::Put | Verb::Adopt => {
            let spec = op.spec.clone().unwrap_or(serde_json::Value::Null);
            let body = PutBody {
                spec: spec.clone(),
                protected: op.protected,
                managed: Some(true),
                sensitive: (op.verb == Verb::Put).then(|| sensitive(op)),
            };
            match client.put(op.kind, &op.key, &body, op.if_version).await {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(412) => match client.get(op.kind, &op.key).await? {
                    Some(r)
                        if r.spec == spec
                            && r.managed
                            && op.protected.is_none_or(|p| p == r.protected) =>
                    {
                        Ok(())
                    }
                    _ => Err(e),
                },
                Err(e) => Err(e),
            }
        }
    }
}

async fn resources(
    plan: &Plan,
    client: Arc<Client>,
    parallelism: usize,
    allow_limit_below_usage: bool,
    progress: Progress,
    lease: &Lease,
) -> Result<Applied, ApplyError> {
    let _ = allow_limit_below_usage; // the single-resource endpoints check rule 9 on their own terms
    let live = client.state().await?;
    if live.revision != plan.revision {
        return Err(ApplyError::Stale {
            planned: plan.revision,
            live: live.revision,
        });
    }
    // A tenant-scoped token may be refused a write the plan could not foresee (a
    // `user_admin` changes `member`s only): the platform checks the whole plan first, so a
    // refusal comes before any write.
    if plan.out_of_scope.is_some() {
        let mut check = batch_request(plan, true);
        check.dry_run = true;
        if let Err(e) = client.batch(&check).await {
            if e.code() != Some("rule_violation") {
                return Err(classify(e, plan.revision));
            }
        }
    }
    let ops: Vec<(u8, Write)> = plan
        .writes()
        .into_iter()
        .map(|(r, o)| (r, o.clone()))
        .collect();
    let total = ops.len();
    let reporter = Reporter::start(progress, total);
    // Groups of consecutive ops with the same phase and rank: independent of each other.
    let mut groups: Vec<Vec<Write>> = Vec::new();
    let mut last: Option<(bool, u8)> = None;
    for (rank, op) in ops {
        let key = (op.verb == Verb::Delete, rank);
        if last != Some(key) {
            groups.push(Vec::new());
            last = Some(key);
        }
        if let Some(g) = groups.last_mut() {
            g.push(op);
        }
    }
    let sem = Arc::new(Semaphore::new(parallelism));
    let mut done = 0usize;
    for group in groups {
        if lease.lost() {
            reporter.finish();
            return Err(ApplyError::LockLost { done, total });
        }
        let mut set = JoinSet::new();
        for op in group {
            let client = client.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let r = run_op(&client, &op).await;
                (op, r)
            });
        }
        let mut failure: Option<(Write, ClientError)> = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {
                    done += 1;
                    reporter.inc();
                }
                Ok((op, Err(e))) => {
                    if failure.is_none() {
                        failure = Some((op, e));
                        // Let the requests in flight finish; start no more.
                        sem.close();
                    }
                }
                Err(join) => {
                    reporter.finish();
                    return Err(ApplyError::Partial {
                        done,
                        total,
                        op: "a request".into(),
                        source: ClientError::Decode {
                            method: "-".into(),
                            url: "-".into(),
                            message: join.to_string(),
                        },
                    });
                }
            }
        }
        if let Some((op, source)) = failure {
            reporter.finish();
            let name = format!(
                "{} {} {}",
                match op.verb {
                    Verb::Put => "put",
                    Verb::Adopt => "adopt",
                    Verb::Delete => "delete",
                },
                op.kind,
                op.key
            );
            if done == 0 {
                return Err(classify(source, plan.revision));
            }
            return Err(ApplyError::Partial {
                done,
                total,
                op: name,
                source,
            });
        }
    }
    reporter.finish();
    let revision = client.state().await.ok().map(|s| s.revision);
    Ok(Applied {
        operations: done,
        revision,
    })
}
