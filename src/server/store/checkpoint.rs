//! A bulk write's WAL checkpoint, moved off its response. SQLite checkpoints the WAL inside
//! the COMMIT of the write that grows it past `wal_autocheckpoint` pages: for an apply from
//! empty, copying about 300 MB into the database file before the client is answered. A
//! bulk write turns the automatic checkpoint off on its connection ([`defer`]); when that
//! connection goes back to the pool ([`after_release`], which sqlx runs in a task of its
//! own), it is turned on again and the WAL is checkpointed there.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::SqliteConnection;

/// SQLite's default `wal_autocheckpoint`, which every connection has but a bulk write's.
pub(super) const AUTOCHECKPOINT: i64 = 1000;

/// Connections (of any database of the process) whose automatic checkpoint a bulk write
/// turned off and that were not released since. While there are none, a release makes no
/// statement.
static DEFERRED: AtomicUsize = AtomicUsize::new(0);

/// Turns the automatic checkpoint off on `conn` until it is released.
pub(super) async fn defer(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut *conn)
        .await?;
    DEFERRED.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// Run by the pool on each connection given back: one whose checkpoint a bulk write
/// deferred gets its automatic checkpoint back and checkpoints the WAL (PASSIVE: it waits
/// for no reader or writer; what it cannot copy now, a later checkpoint does).
pub(super) fn after_release(
    conn: &mut SqliteConnection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if DEFERRED.load(Ordering::Acquire) == 0 {
            return Ok(true);
        }
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *conn)
            .await?;
        if pages == 0 {
            sqlx::query(super::sql(format!(
                "PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT}"
            )))
            .execute(&mut *conn)
            .await?;
            DEFERRED.fetch_sub(1, Ordering::AcqRel);
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut *conn)
                .await?;
        }
        Ok(true)
    })
}
