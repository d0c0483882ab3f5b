//! Several `serve` processes over one database: a process that sees a newer revision than
//! its own applies the changes since its revision from the change log (a full reload only
//! when it is too far behind), and on PostgreSQL a listener applies them as soon as another
//! process's write commits (`LISTEN`/`NOTIFY`), instead of at the next request.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use crate::model::Kind;
use crate::rules::{Touched, Violations};
use crate::server::error::ApiError;
use crate::server::store::{Db, Tx, CHANNEL};

use super::snapshot::Snapshot;
use super::{Engine, Writer};

impl Engine {
    /// Brings the current snapshot up to revision `seen` (or the database's latest) if it is
    /// older.
    pub async fn catch_up(&self, seen: i64) -> Result<(), ApiError> {
        let mut guard = self.writer.lock().await;
        if self.current.load().state.revision >= seen {
            return Ok(());
        }
        let mut tx = self.db.begin_read().await?;
        let rev = tx.revision().await?;
        if rev > self.current.load().state.revision {
            self.catch_up_in(&mut guard, &mut tx, rev).await?;
        }
        tx.rollback().await?;
        Ok(())
    }

    /// Applies, in `tx`'s view of the database, every change after the current snapshot's
    /// revision and publishes the result as revision `rev`; reloads the whole state when the
    /// change log does not reach back far enough.
    pub(super) async fn catch_up_in(
        &self,
        w: &mut Writer,
        tx: &mut Tx,
        rev: i64,
    ) -> Result<(), ApiError> {
        let since = self.current.load().state.revision;
        let Some(changed) = tx.changes_since(since).await? else {
            let mut state = tx.load_state().await?;
            state.revision = rev;
            tracing::info!(from = since, to = rev, "reloaded the whole state");
            w.violations = Violations::of(&state);
            let snap = Snapshot::new(state);
            self.publish(w, snap, Vec::new());
            // The old snapshot is too far behind to serve as the spare: the next write
            // copies the current one.
            w.spare = None;
            return Ok(());
        };
        let mut snap = self.take_spare(w).await;
        let existed: Vec<bool> = changed
            .iter()
            .map(|(kind, key, _)| snap.state.contains(*kind, key))
            .collect();
        for (kind, key, value) in &changed {
            snap.set(*kind, key, value.clone());
        }
        snap.state.revision = rev;
        let touched: Vec<Touched> = changed
            .iter()
            .zip(existed)
            .map(|((kind, key, value), existed)| Touched {
                kind: *kind,
                key,
                existed,
                exists: value.is_some(),
            })
            .collect();
        let recheck = w.violations.recheck(&snap.state, &snap.index, &touched);
        w.violations.commit(recheck);
        let keys: Vec<(Kind, String)> = changed.into_iter().map(|(k, key, _)| (k, key)).collect();
        let n = keys.len();
        let changes = snap.commit_json(keys.into_iter());
        self.publish(w, snap, changes);
        tracing::debug!(
            from = since,
            to = rev,
            changes = n,
            "caught up by the change log"
        );
        Ok(())
    }
}

/// On PostgreSQL, listens for the revisions other processes commit and catches up with each
/// at once. The task ends when the engine is dropped or the pool closes; abort it to stop
/// it sooner.
pub fn listen(engine: &Arc<Engine>) -> Option<JoinHandle<()>> {
    let Db::Postgres(pool) = &engine.db else {
        return None;
    };
    let pool = pool.clone();
    let weak: Weak<Engine> = Arc::downgrade(engine);
    Some(tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other processes' writes");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "cannot listen for other processes' writes");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            loop {
                let seen = match listener.try_recv().await {
                    Ok(Some(n)) => n.payload().parse::<i64>().unwrap_or(i64::MAX),
                    // The connection was lost and is back: a notification may have been missed.
                    Ok(None) => i64::MAX,
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the listener of other processes' writes");
                        break;
                    }
                };
                let Some(engine) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = engine.catch_up(seen).await {
                    tracing::warn!(error = %e, "cannot catch up with another process's write");
                }
            }
        }
    }))
}
