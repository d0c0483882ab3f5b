//! The write path and the in-memory state. The whole [`State`] lives in memory (loaded at
//! start, reloaded when another process moved the database's revision); a write takes the
//! lock, grows the revision in the database (the cross-process write lock), applies its
//! mutations to the state with an undo log, checks the access matrix and the platform's
//! rules, persists what it touched in the same transaction, and undoes everything on any
//! failure: all or nothing.
//!
//! This file holds the state, reads and the write's transaction; `apply` applies the
//! mutations (and cascades deletes), `journal` records what they changed, `refusals` decides
//! which rule violations refuse the write, and `identity` checks the shape of keys.

mod apply;
mod identity;
mod journal;
mod refusals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::RwLock;

use crate::api::SensitiveField;
use crate::model::{AnySpec, Kind, State};
use crate::rules::{self, Violation};

use super::authz::Principal;
use super::error::ApiError;
use super::sensitive;
use super::store::{Db, ResourceRow, Tx};

pub use apply::Applied;
pub use identity::check_key;
use journal::Journal;

/// What a mutation does to its resource.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Create or replace. `managed`/`protected` None keeps the current flag (or the default
    /// on create: managed, unprotected).
    Put {
        spec: AnySpec,
        protected: Option<bool>,
        managed: Option<bool>,
    },
    Delete,
    /// Mark as managed without changing the spec.
    Adopt,
}

/// One change of one resource requested by a write (the server's form of an operation of
/// the API, checked and typed).
#[derive(Debug, Clone)]
pub struct Mutation {
    pub kind: Kind,
    pub key: String,
    /// The version the resource must have (0: must not exist).
    pub if_version: Option<i64>,
    pub effect: Effect,
}

/// A write: mutations applied in one transaction.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub principal: Principal,
    pub mutations: Vec<Mutation>,
    pub expected_revision: Option<i64>,
    pub allow_limit_below_usage: bool,
    /// Check everything, write nothing (the write is undone and rolled back).
    pub dry_run: bool,
    pub change_set: Option<String>,
    pub commit: Option<String>,
    /// An invitation to mark accepted in the same transaction.
    pub accept_invitation: Option<String>,
    /// The sensitive fields the write declares, by resource: they replace what the platform
    /// knew of that resource (a resource not listed keeps its own).
    pub sensitive: HashMap<(Kind, String), Vec<SensitiveField>>,
}

impl WriteRequest {
    pub fn new(principal: Principal, mutations: Vec<Mutation>) -> WriteRequest {
        WriteRequest {
            principal,
            mutations,
            expected_revision: None,
            allow_limit_below_usage: false,
            dry_run: false,
            change_set: None,
            commit: None,
            accept_invitation: None,
            sensitive: HashMap::new(),
        }
    }
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub revision: i64,
    pub applied: usize,
    /// For each mutation: whether it created its resource, and the resource afterwards.
    pub results: Vec<Applied>,
}

struct Inner {
    state: State,
    /// The rule violations of `state` (computed lazily, kept per revision).
    violations: Option<Arc<Vec<Violation>>>,
}

/// The platform's state and its write path.
pub struct Engine {
    pub db: Db,
    inner: RwLock<Inner>,
    /// The serialized full state, by revision (what makes GET /state fast).
    state_json: Mutex<Option<(i64, Bytes)>>,
}

impl Engine {
    /// Loads the state from `db`.
    pub async fn load(db: Db) -> Result<Engine, ApiError> {
        let state = db.load_state().await?;
        Ok(Engine {
            db,
            inner: RwLock::new(Inner {
                state,
                violations: None,
            }),
            state_json: Mutex::new(None),
        })
    }

    /// Reloads the state if another process wrote to the database since we last looked.
    async fn sync(&self) -> Result<(), ApiError> {
        let rev = self.db.revision().await?;
        if rev == self.inner.read().await.state.revision {
            return Ok(());
        }
        let mut inner = self.inner.write().await;
        if inner.state.revision != rev {
            let state = self.db.load_state().await?;
            inner.state = state;
            inner.violations = None;
        }
        Ok(())
    }

    /// Runs `f` on the current state.
    pub async fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, ApiError> {
        self.sync().await?;
        let inner = self.inner.read().await;
        Ok(f(&inner.state))
    }

    /// The serialized state visible to `principal` (cached per revision for system tokens).
    pub async fn state_json(&self, principal: &Principal) -> Result<Bytes, ApiError> {
        principal.require_admin()?;
        self.sync().await?;
        let inner = self.inner.read().await;
        if !principal.is_system() {
            let filtered = principal.filter_state(&inner.state)?;
            return serde_json::to_vec(&filtered)
                .map(Bytes::from)
                .map_err(|e| ApiError::Internal(e.to_string()));
        }
        let rev = inner.state.revision;
        if let Ok(cache) = self.state_json.lock() {
            if let Some((r, bytes)) = cache.as_ref() {
                if *r == rev {
                    return Ok(bytes.clone());
                }
            }
        }
        let bytes = Bytes::from(
            serde_json::to_vec(&inner.state).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
        if let Ok(mut cache) = self.state_json.lock() {
            *cache = Some((rev, bytes.clone()));
        }
        Ok(bytes)
    }

    /// Runs a write to completion even if the caller goes away (a dropped request must not
    /// leave the in-memory state half-applied).
    pub async fn write(self: &Arc<Self>, req: WriteRequest) -> Result<WriteOutcome, ApiError> {
        let engine = Arc::clone(self);
        match tokio::spawn(async move { engine.write_inner(req).await }).await {
            Ok(r) => r,
            Err(e) => Err(ApiError::Internal(format!("write task failed: {e}"))),
        }
    }

    async fn write_inner(&self, req: WriteRequest) -> Result<WriteOutcome, ApiError> {
        let mut guard = self.inner.write().await;
        let inner = &mut *guard;
        let mut tx = self.db.begin().await?;
        let new_rev = tx.bump_revision().await?;
        let prev_rev = new_rev - 1;
        if inner.state.revision != prev_rev {
            inner.state = tx.load_state().await?;
            inner.state.revision = prev_rev;
            inner.violations = None;
        }
        if let Some(expected) = req.expected_revision {
            if expected != prev_rev {
                tx.rollback().await?;
                return Err(ApiError::Conflict {
                    code: "stale_revision",
                    message: format!(
                        "the state is at revision {prev_rev}, not {expected}: plan again"
                    ),
                    details: json!({ "expected": expected, "actual": prev_rev }),
                });
            }
        }
        let before_violations = match &inner.violations {
            Some(v) => Arc::clone(v),
            None => {
                let v = Arc::new(rules::check(&inner.state));
                inner.violations = Some(Arc::clone(&v));
                v
            }
        };
        let state = &mut inner.state;
        let mut journal = Journal::default();
        let t_apply = std::time::Instant::now();
        let result = apply::apply_all(state, &req, &mut journal, &before_violations);
        let apply_ms = t_apply.elapsed().as_millis() as u64;
        let (results, after_violations) = match result {
            Ok(r) => r,
            Err(e) => {
                journal.undo(state);
                tx.rollback().await?;
                return Err(e);
            }
        };
        if req.dry_run {
            journal.undo(state);
            tx.rollback().await?;
            return Ok(WriteOutcome {
                revision: prev_rev,
                applied: req.mutations.len(),
                results,
            });
        }
        let t_persist = std::time::Instant::now();
        let persisted = Self::persist(&mut tx, state, &journal, new_rev, &req).await;
        let persisted = match persisted {
            Ok(()) => tx.commit().await.map_err(ApiError::from),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        };
        if let Err(e) = persisted {
            journal.undo(state);
            return Err(e);
        }
        state.revision = new_rev;
        inner.violations = Some(Arc::new(after_violations));
        let applied = req.mutations.len();
        let persist_ms = t_persist.elapsed().as_millis() as u64;
        tracing::info!(
            revision = new_rev,
            operations = applied,
            changes = journal.touched.len(),
            token = %req.principal.token_id,
            apply_ms,
            persist_ms,
            "write applied"
        );
        Ok(WriteOutcome {
            revision: new_rev,
            applied,
            results,
        })
    }

    /// Writes what the write touched, its audit entries and an accepted invitation.
    async fn persist(
        tx: &mut Tx,
        state: &State,
        journal: &Journal,
        revision: i64,
        req: &WriteRequest,
    ) -> Result<(), ApiError> {
        let mut upserts: Vec<ResourceRow<'_>> = Vec::new();
        let mut deletes: HashMap<Kind, Vec<&str>> = HashMap::new();
        for (kind, key) in &journal.touched {
            match state.get(*kind, key) {
                Some((meta, spec)) => upserts.push(ResourceRow {
                    kind: *kind,
                    key,
                    meta,
                    body: spec.to_value().to_string(),
                }),
                None => deletes.entry(*kind).or_default().push(key),
            }
        }
        // Delete children first, upsert parents first: no ordering constraint exists in the
        // schema, but keep the natural order for readers of the log.
        for kind in Kind::ALL.iter().rev() {
            if let Some(keys) = deletes.get(kind) {
                tx.delete(*kind, keys).await?;
            }
        }
        tx.upsert(&upserts).await?;
        // Sensitive fields: declared ones replace what was known, deleted resources lose
        // theirs, and no audit entry holds a sensitive value.
        let known = tx.sensitive_fields().await?;
        for (kind, key) in &journal.touched {
            let k = (*kind, key.clone());
            let fields = match req.sensitive.get(&k) {
                Some(declared) if state.contains(*kind, key) => declared.as_slice(),
                _ if known.contains_key(&k) && !state.contains(*kind, key) => &[],
                _ => continue,
            };
            tx.set_sensitive(*kind, key, fields).await?;
        }
        let audit = sensitive::mask_audit(&journal.audit, &known, &req.sensitive);
        tx.insert_audit(
            revision,
            &req.principal.token_id,
            &audit,
            req.change_set.as_deref(),
            req.commit.as_deref(),
        )
        .await?;
        if let Some(id) = &req.accept_invitation {
            if !tx.accept_invitation(id).await? {
                return Err(ApiError::Conflict {
                    code: "invitation_not_pending",
                    message: format!("invitation `{id}` is no longer pending"),
                    details: json!({ "id": id }),
                });
            }
        }
        Ok(())
    }
}
