//! A write's transaction: the revision bump (the cross-process lock), the catch-up with
//! other processes, the mutations on the spare copy, the rules where the write reaches, the
//! rows, the audit and the change log persisted together, then the copy published.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::model::{Kind, State};

use super::journal::Journal;
use super::snapshot::body_of;
use super::{apply, people, Engine, WriteOutcome, WriteRequest};
use crate::server::error::ApiError;
use crate::server::sensitive;
use crate::server::store::Tx;

/// A write touching this many resources or more is persisted as a bulk write
/// ([`Tx::begin_bulk`]).
const BULK_WRITE: usize = 10_000;

impl Engine {
    /// Runs a write to completion even if the caller goes away (a dropped request must not
    /// leave the in-memory state half-applied).
    pub async fn write(self: &Arc<Self>, req: WriteRequest) -> Result<WriteOutcome, ApiError> {
        let engine = Arc::clone(self);
        match tokio::spawn(async move { engine.write_inner(req).await }).await {
            Ok(r) => r,
            Err(e) => Err(ApiError::Internal(format!("write task failed: {e}"))),
        }
    }

    async fn write_inner(&self, mut req: WriteRequest) -> Result<WriteOutcome, ApiError> {
        let mut guard = self.writer.lock().await;
        let w = &mut *guard;
        let mut tx = self.db.begin().await?;
        let new_rev = tx.bump_revision().await?;
        let prev_rev = new_rev - 1;
        if self.current.load().state.revision != prev_rev {
            // Another process wrote since: its changes first (this transaction holds the
            // write lock, so nothing moves meanwhile).
            self.catch_up_in(w, &mut tx, prev_rev).await?;
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
        let mut snap = self.take_spare(w).await;
        let mut journal = Journal::for_mutations(&req.mutations);
        let t_apply = Instant::now();
        let result = apply::apply_all(&mut snap, &mut req, &mut journal, &w.violations);
        let apply_us = t_apply.elapsed().as_micros() as u64;
        let (results, recheck) = match result {
            Ok(r) => r,
            Err(e) => {
                journal.undo(&mut snap);
                Self::give_back(w, snap);
                tx.rollback().await?;
                return Err(e);
            }
        };
        if req.dry_run {
            journal.undo(&mut snap);
            Self::give_back(w, snap);
            tx.rollback().await?;
            return Ok(WriteOutcome {
                revision: prev_rev,
                applied: req.mutations.len(),
                results,
            });
        }
        let t_persist = Instant::now();
        // The bulk settings only make the write faster: without them it is the same write.
        let bulk = if journal.touched.len() >= BULK_WRITE {
            tx.begin_bulk().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot enlarge the page cache for a bulk write");
                None
            })
        } else {
            None
        };
        let persisted = Self::persist(&mut tx, &snap.state, &journal, new_rev, &req).await;
        let mut mail_queued = false;
        let persisted = match persisted {
            Ok(queued) => {
                mail_queued = queued;
                match tx.end_bulk(bulk).await {
                    Ok(()) => tx.commit().await.map_err(ApiError::from),
                    Err(e) => {
                        let _ = tx.rollback().await;
                        Err(e.into())
                    }
                }
            }
            Err(e) => {
                let _ = tx.end_bulk(bulk).await;
                let _ = tx.rollback().await;
                Err(e)
            }
        };
        if let Err(e) = persisted {
            journal.undo(&mut snap);
            Self::give_back(w, snap);
            return Err(e);
        }
        let persist_us = t_persist.elapsed().as_micros() as u64;
        snap.state.revision = new_rev;
        let rechecked = recheck.len();
        w.violations.commit(recheck);
        let touched = std::mem::take(&mut journal.touched);
        let changed = touched.len();
        let changes = snap.commit_json(touched.into_iter());
        self.publish(w, snap, changes);
        if mail_queued {
            self.mail_queued();
        }
        let applied = req.mutations.len();
        tracing::info!(
            revision = new_rev,
            operations = applied,
            changes = changed,
            rechecked,
            token = %req.principal.token_id,
            apply_us,
            persist_us,
            "write applied"
        );
        if changed >= BULK_WRITE {
            // Freeing the journal and the request of a bulk write (hundreds of thousands of
            // audit entries and specs) takes a while: not while the client waits.
            tokio::task::spawn_blocking(move || drop((journal, req)));
        }
        Ok(WriteOutcome {
            revision: new_rev,
            applied,
            results,
        })
    }

    /// Writes what the write touched, its change log, its sensitive fields, its audit entries
    /// (sensitive values masked), an accepted invitation and what it does to people
    /// (`people`) and to registers and records (`data`). Returns whether e-mail was queued.
    async fn persist(
        tx: &mut Tx,
        state: &State,
        journal: &Journal,
        revision: i64,
        req: &WriteRequest,
    ) -> Result<bool, ApiError> {
        // The people rows are built while the resource statements run (see `people::prepare`).
        let (persisted, people) = futures_util::future::join(
            Self::persist_resources(tx, state, journal, revision, req),
            people::prepare(state, journal, req),
        )
        .await;
        persisted?;
        people::persist(tx, people, revision, req).await
    }

    /// The resource side of [`Engine::persist`]: everything but people.
    async fn persist_resources(
        tx: &mut Tx,
        state: &State,
        journal: &Journal,
        revision: i64,
        req: &WriteRequest,
    ) -> Result<(), ApiError> {
        super::data::persist(tx, state, journal, req).await?;
        let mut upserts: Vec<(Kind, &str)> = Vec::with_capacity(journal.touched.len());
        let mut deletes: HashMap<Kind, Vec<&str>> = HashMap::new();
        for (kind, key) in &journal.touched {
            if state.contains(*kind, key) {
                upserts.push((*kind, key));
            } else {
                deletes.entry(*kind).or_default().push(key);
            }
        }
        // Delete children first, upsert parents first: no ordering constraint exists in the
        // schema, but keep the natural order for readers of the log.
        for kind in Kind::ALL.iter().rev() {
            if let Some(keys) = deletes.get(kind) {
                tx.delete(*kind, keys).await?;
            }
        }
        // Each body is serialised from the state as its statement is built.
        tx.upsert(&upserts, |kind, key| body_of(state, kind, key))
            .await?;
        let touched: Vec<(Kind, &str)> = journal
            .touched
            .iter()
            .map(|(k, key)| (*k, key.as_str()))
            .collect();
        tx.record_changes(revision, &touched).await?;
        // Sensitive fields: declared ones replace what was known, deleted resources lose
        // theirs, and no audit entry holds a sensitive value.
        let known = tx.sensitive_fields().await?;
        // Nothing known and nothing declared: no statement to make, nothing to look up.
        let none = sensitive::none_sensitive(&known, &req.sensitive);
        for (kind, key) in journal.touched.iter().filter(|_| !none) {
            let k = (*kind, key.clone());
            let fields = match req.sensitive.get(&k) {
                Some(declared) if state.contains(*kind, key) => declared.as_slice(),
                _ if known.contains_key(&k) && !state.contains(*kind, key) => &[],
                _ => continue,
            };
            // What is known already costs no statement (an apply from empty declares an
            // empty list for each of its resources, where nothing is known).
            if known.get(&k).map_or(&[][..], Vec::as_slice) == fields {
                continue;
            }
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
