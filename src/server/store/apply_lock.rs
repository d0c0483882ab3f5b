//! The `apply_lock` table: the platform's apply lock, one lease at a time (at most one row).
//! Taking it is one statement (an upsert that only replaces an expired lease), so two
//! `serve` processes on one database cannot both win.

use sqlx::Row;

use super::{Db, StoreError};

/// The lock as stored. Times are RFC 3339 text, except the lease's end, in milliseconds
/// since the Unix epoch (compared as an integer by both backends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    pub lock_id: String,
    pub holder: String,
    pub token_id: String,
    pub change_set: Option<String>,
    pub acquired_at: String,
    pub renewed_at: String,
    pub expires_ms: i64,
    pub ttl_seconds: i64,
}

/// The outcome of taking or renewing the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// Ours now.
    Held(LockRow),
    /// Someone else's unexpired lease.
    Busy(LockRow),
    /// No lock with that id (released, or expired and taken).
    Missing,
}

const COLUMNS: &str =
    "lock_id, holder, token_id, change_set, acquired_at, renewed_at, expires_ms, ttl_seconds";

fn row_of<R: Row>(r: &R) -> Result<LockRow, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(LockRow {
        lock_id: r.try_get("lock_id")?,
        holder: r.try_get("holder")?,
        token_id: r.try_get("token_id")?,
        change_set: r.try_get("change_set")?,
        acquired_at: r.try_get("acquired_at")?,
        renewed_at: r.try_get("renewed_at")?,
        expires_ms: r.try_get("expires_ms")?,
        ttl_seconds: r.try_get("ttl_seconds")?,
    })
}

impl Db {
    /// The lock row, expired or not.
    pub async fn apply_lock(&self) -> Result<Option<LockRow>, StoreError> {
        let q = format!("SELECT {COLUMNS} FROM apply_lock WHERE id = 1");
        let row = dispatch!(self, p => match sqlx::query(super::sql(q)).fetch_optional(p).await? {
            Some(r) => Some(row_of(&r)?),
            None => None,
        });
        Ok(row)
    }

    /// Takes the lock as `new` unless an unexpired lease (`expires_ms` > `now_ms`) holds it.
    pub async fn acquire_apply_lock(
        &self,
        new: &LockRow,
        now_ms: i64,
    ) -> Result<LockOutcome, StoreError> {
        // A lease released between the refused upsert and the read is taken on a retry.
        for _ in 0..3 {
            let q = format!(
                "INSERT INTO apply_lock (id, {COLUMNS}) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET lock_id = excluded.lock_id, holder = excluded.holder, \
                 token_id = excluded.token_id, change_set = excluded.change_set, acquired_at = excluded.acquired_at, \
                 renewed_at = excluded.renewed_at, expires_ms = excluded.expires_ms, ttl_seconds = excluded.ttl_seconds \
                 WHERE apply_lock.expires_ms <= $9 RETURNING lock_id"
            );
            let won: Option<String> = dispatch!(self, p => sqlx::query_scalar(super::sql(q))
                .bind(&new.lock_id).bind(&new.holder).bind(&new.token_id).bind(&new.change_set)
                .bind(&new.acquired_at).bind(&new.renewed_at).bind(new.expires_ms).bind(new.ttl_seconds)
                .bind(now_ms)
                .fetch_optional(p).await?);
            if won.is_some() {
                return Ok(LockOutcome::Held(new.clone()));
            }
            if let Some(current) = self.apply_lock().await? {
                if current.expires_ms > now_ms {
                    return Ok(LockOutcome::Busy(current));
                }
            }
        }
        Ok(LockOutcome::Missing)
    }

    /// Extends the lease of lock `lock_id` to `now_ms` + its ttl (`ttl_seconds`, or the one
    /// it was taken with).
    pub async fn renew_apply_lock(
        &self,
        lock_id: &str,
        now: &str,
        now_ms: i64,
        ttl_seconds: Option<i64>,
    ) -> Result<LockOutcome, StoreError> {
        let q = format!(
            "UPDATE apply_lock SET renewed_at = $1, ttl_seconds = COALESCE($2, ttl_seconds), \
             expires_ms = $3 + 1000 * COALESCE($2, ttl_seconds) WHERE id = 1 AND lock_id = $4 RETURNING {COLUMNS}"
        );
        let row = dispatch!(self, p => match sqlx::query(super::sql(q))
            .bind(now).bind(ttl_seconds).bind(now_ms).bind(lock_id)
            .fetch_optional(p).await? {
            Some(r) => Some(row_of(&r)?),
            None => None,
        });
        Ok(match row {
            Some(r) => LockOutcome::Held(r),
            None => match self.apply_lock().await? {
                Some(other) if other.expires_ms > now_ms => LockOutcome::Busy(other),
                _ => LockOutcome::Missing,
            },
        })
    }

    /// Releases lock `lock_id`; whether it was held.
    pub async fn release_apply_lock(&self, lock_id: &str) -> Result<bool, StoreError> {
        let n = dispatch!(self, p => sqlx::query("DELETE FROM apply_lock WHERE id = 1 AND lock_id = $1")
            .bind(lock_id).execute(p).await?.rows_affected());
        Ok(n > 0)
    }
}
