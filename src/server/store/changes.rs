//! The `changes` table: which resources each committed write changed, by revision, so that
//! another process over the same database catches up by the change instead of reloading
//! the whole state; and on PostgreSQL the notification that tells the other processes at
//! once. `meta.changes_since` is the oldest revision from which the log is complete: a
//! process at an older revision reloads.

use std::collections::BTreeMap;

use crate::model::{AnySpec, Kind, Meta};

use super::resources::parse_resource;
use super::{insert_verb, placeholders, sql, Db, StoreError, Tx, CHUNK};

/// The PostgreSQL channel on which every write announces its revision.
pub const CHANNEL: &str = "tenantctl_revision";

/// A write that changes more resources than this is not logged resource by resource: the
/// other processes reload the whole state instead (as they do when further behind than
/// this many changed resources).
pub const LOG_LIMIT: usize = 20_000;

/// How many revisions of the log are kept.
const KEEP: i64 = 10_000;

/// A resource as the database holds it now: None when deleted.
pub type Current = (Kind, String, Option<(Meta, AnySpec)>);

impl Db {
    /// Starts a transaction that reads one consistent view of the database (on PostgreSQL,
    /// `REPEATABLE READ`; a SQLite transaction reads one snapshot from its first read).
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(t) = &mut tx {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut **t)
                .await?;
        }
        Ok(tx)
    }
}

impl Tx {
    /// The state's revision as this transaction sees it.
    pub async fn revision(&mut self) -> Result<i64, StoreError> {
        Ok(
            dispatch_tx!(self, t => sqlx::query_scalar::<_, i64>("SELECT revision FROM meta WHERE id = 1").fetch_one(&mut **t).await?),
        )
    }

    /// Records the resources the write of `revision` changed (or, past [`LOG_LIMIT`], that
    /// the log restarts at `revision`), prunes the log every thousand revisions, and on
    /// PostgreSQL announces the revision on [`CHANNEL`] when the transaction commits.
    pub async fn record_changes(
        &mut self,
        revision: i64,
        touched: &[(Kind, &str)],
    ) -> Result<(), StoreError> {
        if touched.len() > LOG_LIMIT {
            dispatch_tx!(self, t => sqlx::query(sql(format!("DELETE FROM changes WHERE revision < {revision}"))).execute(&mut **t).await.map(|_| ())?);
            dispatch_tx!(self, t => sqlx::query(sql(format!("UPDATE meta SET changes_since = {revision} WHERE id = 1"))).execute(&mut **t).await.map(|_| ())?);
        } else {
            let sqlite = self.is_sqlite();
            dispatch_tx!(self, t => pipelined!(&mut **t, touched.chunks(CHUNK), |chunk: &[(Kind, &str)]| {
                let q = format!(
                    "{} INTO changes (revision, kind, rkey) VALUES {}", insert_verb(sqlite),
                    placeholders(chunk.len(), 3, sqlite, 0)
                );
                let mut query = sqlx::query(sql(q));
                for (kind, key) in chunk {
                    query = query.bind(revision).bind(kind.as_str()).bind(*key);
                }
                query
            }));
        }
        if revision % 1000 == 0 && revision > KEEP {
            let below = revision - KEEP;
            dispatch_tx!(self, t => sqlx::query(sql(format!("DELETE FROM changes WHERE revision <= {below}"))).execute(&mut **t).await.map(|_| ())?);
            dispatch_tx!(self, t => sqlx::query(sql(format!("UPDATE meta SET changes_since = {below} WHERE id = 1 AND changes_since < {below}"))).execute(&mut **t).await.map(|_| ())?);
        }
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(revision.to_string())
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Every resource changed after revision `since`, as it is now; None when the log does
    /// not reach back that far or when more than [`LOG_LIMIT`] resources changed (then the
    /// caller reloads the whole state).
    pub async fn changes_since(&mut self, since: i64) -> Result<Option<Vec<Current>>, StoreError> {
        let from: i64 = dispatch_tx!(self, t => sqlx::query_scalar("SELECT changes_since FROM meta WHERE id = 1").fetch_one(&mut **t).await?);
        if since < from {
            return Ok(None);
        }
        let limit = LOG_LIMIT as i64 + 1;
        let keys: Vec<(String, String)> = dispatch_tx!(self, t => sqlx::query_as(sql(format!(
            "SELECT DISTINCT kind, rkey FROM changes WHERE revision > {since} LIMIT {limit}"
        ))).fetch_all(&mut **t).await?);
        if keys.len() > LOG_LIMIT {
            return Ok(None);
        }
        let mut by_kind: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for (kind_s, key) in keys {
            let kind = Kind::parse(&kind_s).ok_or_else(|| {
                StoreError::corrupt(format!("change `{kind_s}/{key}`"), "unknown kind")
            })?;
            by_kind.entry(kind).or_default().push(key);
        }
        let mut out = Vec::new();
        for (kind, keys) in by_kind {
            for chunk in keys.chunks(CHUNK) {
                let sqlite = self.is_sqlite();
                let list = placeholders(1, chunk.len(), sqlite, 1);
                let first = if sqlite { "?" } else { "$1" };
                let q = format!("SELECT kind, rkey, body, version, managed, protected FROM resources WHERE kind = {first} AND rkey IN {list}");
                type Row = (String, String, String, i64, bool, bool);
                let rows: Vec<Row> = dispatch_tx!(self, t => {
                    let mut query = sqlx::query_as(sql(q)).bind(kind.as_str());
                    for k in chunk {
                        query = query.bind(k.as_str());
                    }
                    query.fetch_all(&mut **t).await?
                });
                let mut found: BTreeMap<String, (Meta, AnySpec)> = BTreeMap::new();
                for (kind_s, key, body, version, managed, protected) in rows {
                    let meta = Meta {
                        version,
                        managed,
                        protected,
                    };
                    let (_, key, spec) = parse_resource(&kind_s, key, &body)?;
                    found.insert(key, (meta, spec));
                }
                for k in chunk {
                    let value = found.remove(k);
                    out.push((kind, k.clone(), value));
                }
            }
        }
        Ok(Some(out))
    }
}
