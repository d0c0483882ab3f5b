//! The write path and the in-memory state. The whole [`State`] lives in memory, twice: the
//! committed snapshot readers see (swapped at each commit, never locked) and a spare copy a
//! write works on. A write takes the writer's lock, grows the revision in the database (the
//! cross-process write lock), catches up with what other processes wrote, applies its
//! mutations to the spare copy with an undo log, checks the access matrix and the rules
//! where the write reaches, persists what it touched with the change log in the same
//! transaction, and publishes the copy; on any failure it undoes everything: all or
//! nothing. The previous snapshot becomes the spare once its last reader lets it go, and
//! gets the write's changes before the next write (two copies, one write apart).
//!
//! This file holds the engine, reads and the swap of the copies; `write` the write's
//! transaction, `replica` the catch-up with other processes, `snapshot` one copy (with its
//! serialised resources), `apply` the mutations (and cascades), `journal` what they changed,
//! `refusals` which rule violations refuse the write, `data` what it does to registers and
//! records, and `identity` the shape of keys.

mod apply;
mod data;
mod identity;
mod journal;
pub mod people;
mod refusals;
mod replica;
mod snapshot;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::api::SensitiveField;
use crate::model::{AnySpec, Kind, State};
use crate::rules::Violations;

use super::authz::{Actor, Principal};
use super::error::ApiError;
use super::store::Db;

pub use apply::Applied;
pub use identity::check_key;
pub use replica::listen;
use snapshot::{Change, Snapshot};

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
    /// Delete the registers and records of the workspaces the write deletes (without it, a
    /// workspace that holds any is refused).
    pub cascade: bool,
    /// Check everything, write nothing (the write is undone and rolled back).
    pub dry_run: bool,
    pub change_set: Option<String>,
    pub commit: Option<String>,
    /// An invitation to mark accepted in the same transaction.
    pub accept_invitation: Option<String>,
    /// Whether the users this write creates are sent an invitation (all writes but the
    /// acceptance of an invitation, which creates its user active).
    pub invite_created_users: bool,
    /// A password to set, activating its user's account (an accepted invitation).
    pub activate: Option<Activation>,
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
            cascade: false,
            dry_run: false,
            change_set: None,
            commit: None,
            accept_invitation: None,
            invite_created_users: true,
            activate: None,
            sensitive: HashMap::new(),
        }
    }
}

/// A user's account made active, with its password's argon2id hash.
#[derive(Debug, Clone)]
pub struct Activation {
    pub email: String,
    pub password_hash: String,
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub revision: i64,
    pub applied: usize,
    /// For a write of one mutation: whether it created its resource, and the resource
    /// afterwards (empty for a write of several).
    pub results: Vec<Applied>,
}

/// The writer's side: what only one write (or catch-up) at a time touches.
struct Writer {
    /// The copy readers no longer see (None after a failure left it half-updated: the next
    /// write copies the current one).
    spare: Option<Arc<Snapshot>>,
    /// The changes committed in the current snapshot and not yet in the spare.
    pending: Vec<Change>,
    /// The rule violations of the current snapshot.
    violations: Violations,
}

/// The platform's state and its write path.
pub struct Engine {
    pub db: Db,
    /// The last committed state: what every read sees.
    current: ArcSwap<Snapshot>,
    writer: tokio::sync::Mutex<Writer>,
    /// The whole state document, by revision (what makes GET /state fast for system tokens).
    document: Mutex<Option<(i64, snapshot::StateDocument)>>,
    /// Woken when a write of this process queued e-mail (the outbox's sender waits on it).
    mail: Arc<tokio::sync::Notify>,
}

impl Engine {
    /// Loads the state from `db`.
    pub async fn load(db: Db) -> Result<Engine, ApiError> {
        let state = db.load_state().await?;
        let violations = Violations::of(&state);
        let snap = Snapshot::new(state);
        let spare = snap.clone();
        Ok(Engine {
            db,
            current: ArcSwap::from_pointee(snap),
            writer: tokio::sync::Mutex::new(Writer {
                spare: Some(Arc::new(spare)),
                pending: Vec::new(),
                violations,
            }),
            document: Mutex::new(None),
            mail: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The last committed snapshot, brought up to the database's revision first if another
    /// process wrote since (one query of the revision; the catch-up applies the changes).
    async fn synced(&self) -> Result<Arc<Snapshot>, ApiError> {
        let rev = self.db.revision().await?;
        let snap = self.current.load_full();
        if snap.state.revision >= rev {
            return Ok(snap);
        }
        drop(snap);
        self.catch_up(rev).await?;
        Ok(self.current.load_full())
    }

    /// What the outbox's sender waits on: notified when this process queues e-mail.
    pub fn mail_wakeup(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.mail)
    }

    /// Wakes the outbox's sender (after e-mail was queued outside a write).
    pub fn mail_queued(&self) {
        self.mail.notify_one();
    }

    /// The revision of the last committed snapshot, as this process knows it (no query).
    pub fn revision(&self) -> i64 {
        self.current.load().state.revision
    }

    /// Runs `f` on the current state.
    pub async fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, ApiError> {
        let snap = self.synced().await?;
        Ok(f(&snap.state))
    }

    /// The serialized state visible to `principal` (cached per revision for the system).
    pub async fn state_json(
        &self,
        principal: &Principal,
    ) -> Result<snapshot::StateDocument, ApiError> {
        let snap = self.synced().await?;
        let rev = snap.state.revision;
        // The whole document (cached) only for a principal that acts as the system: a
        // system token acting as a user who is not a super admin reads nothing.
        let whole = matches!(principal.actor(&snap.state)?, Actor::System);
        if whole {
            let cached = self.document.lock().ok().and_then(|c| {
                c.as_ref()
                    .filter(|(r, _)| *r == rev)
                    .map(|(_, b)| b.clone())
            });
            if let Some(bytes) = cached {
                let data = self.db.data_usage().await?;
                let usage = snap.usage_json(None, &data);
                return Ok(snapshot::with_usage(&bytes, &usage));
            }
        }
        let p = principal.clone();
        let data = match p.tenant() {
            Some(t) => std::iter::once((t.to_string(), self.db.data_usage_of(t).await?)).collect(),
            None => self.db.data_usage().await?,
        };
        let (bytes, usage) = tokio::task::spawn_blocking(move || {
            let usage = snap.usage_json(p.tenant(), &data);
            snap.document_for(&p).map(|doc| (doc, usage))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("state document task failed: {e}")))??;
        if whole {
            if let Ok(mut cache) = self.document.lock() {
                if cache.as_ref().is_none_or(|(r, _)| *r < rev) {
                    *cache = Some((rev, bytes.clone()));
                }
            }
        }
        Ok(snapshot::with_usage(&bytes, &usage))
    }

    /// Takes the spare copy for a write, once no reader holds it any more, with the changes
    /// it misses applied: an exact copy of the current snapshot, that readers do not see.
    async fn take_spare(&self, w: &mut Writer) -> Snapshot {
        let current = self.current.load_full();
        let Some(mut spare) = w.spare.take() else {
            w.pending.clear();
            return (*current).clone();
        };
        let mut snap = loop {
            match Arc::try_unwrap(spare) {
                Ok(s) => break s,
                Err(still_read) => {
                    spare = still_read;
                    tokio::time::sleep(Duration::from_micros(50)).await;
                }
            }
        };
        snap.apply(&w.pending);
        w.pending.clear();
        snap.state.revision = current.state.revision;
        snap
    }

    /// Makes `snap` the current snapshot; the one it replaces becomes the spare, which
    /// misses `changes`.
    fn publish(&self, w: &mut Writer, snap: Snapshot, changes: Vec<Change>) {
        let old = self.current.swap(Arc::new(snap));
        w.spare = Some(old);
        w.pending = changes;
    }

    /// Gives back the spare taken for a write that did not commit (undone: equal to the
    /// current snapshot).
    fn give_back(w: &mut Writer, snap: Snapshot) {
        w.spare = Some(Arc::new(snap));
    }
}
