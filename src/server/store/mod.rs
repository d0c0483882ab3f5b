//! Database access for the platform: one SQL dialect that SQLite and PostgreSQL both speak
//! (`$N` placeholders, `ON CONFLICT`, `RETURNING`), run through two typed pools. The
//! migrations in `migrations/` are embedded and shared by both backends.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Pool, Postgres, Row, SqlSafeStr, Sqlite, Transaction};

use crate::model::{keys, AnySpec, Kind, Meta, State};

/// An error of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use `sqlite://PATH` or `postgres://…`")]
    BadUrl(String),
    #[error("cannot create the directory `{path}` of the SQLite database: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored resource `{kind}/{key}` is corrupt: {message}")]
    Corrupt {
        kind: String,
        key: String,
        message: String,
    },
}

/// The embedded migrations, shared by SQLite and PostgreSQL.
fn migrator() -> Migrator {
    let sql: &'static str = include_str!("../../../migrations/0001_init.sql");
    Migrator::with_migrations(vec![Migration::new(
        1,
        Cow::Borrowed("init"),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )])
}

/// A pool over one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(Pool<Sqlite>),
    Postgres(Pool<Postgres>),
}

/// Runs the same code over either pool or transaction type.
macro_rules! dispatch {
    ($value:expr, $p:ident => $body:expr) => {
        match $value {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
        }
    };
}

macro_rules! dispatch_tx {
    ($value:expr, $t:ident => $body:expr) => {
        match $value {
            Tx::Sqlite($t) => $body,
            Tx::Postgres($t) => $body,
        }
    };
}

/// A write transaction on either backend.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub scope: String,
    pub role: String,
    pub user: Option<String>,
}

/// One row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub revision: i64,
    pub token_id: String,
    pub op: String,
    pub kind: String,
    pub key: String,
    pub tenant: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub change_set: Option<String>,
    pub commit: Option<String>,
}

/// An invitation as stored.
#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub tenant: String,
    pub role: String,
    pub workspaces: Vec<String>,
    pub message: Option<String>,
    pub status: String,
    pub invited_by: String,
    pub created_at: String,
    pub accepted_at: Option<String>,
}

/// The current time as RFC 3339 text (UTC, seconds precision is not enough for ordering,
/// so nanoseconds are kept).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Rows per multi-row INSERT: keeps the parameter count below SQLite's 32766.
const CHUNK: usize = 2000;

/// `(…),(…)` placeholders for a multi-row statement. SQLite gets anonymous `?` (its named
/// `$N` parameters are looked up linearly at parse time, which is quadratic for thousands of
/// them); PostgreSQL gets `$N` starting after `offset`.
fn placeholders(rows: usize, cols: usize, sqlite: bool, offset: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            if sqlite {
                s.push('?');
            } else {
                s.push('$');
                s.push_str(&(offset + r * cols + c + 1).to_string());
            }
        }
        s.push(')');
    }
    s
}

fn sql(s: String) -> AssertSqlSafe<String> {
    AssertSqlSafe(s)
}

/// A row to upsert into `resources`.
pub struct ResourceRow<'a> {
    pub kind: Kind,
    pub key: &'a str,
    pub meta: Meta,
    pub body: String,
}

/// Who wrote, for audit entries written alongside a change that is not a resource.
#[derive(Debug, Clone)]
pub struct AuditCtx {
    pub revision: i64,
    pub token_id: String,
    pub change_set: Option<String>,
    pub commit: Option<String>,
}

/// An audit entry to insert (the id is allocated at insert).
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub op: String,
    pub kind: String,
    pub key: String,
    pub tenant: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Db {
    /// Opens (and creates, for SQLite) the database at `url`, then runs the migrations.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        let db = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            if path.is_empty() {
                return Err(StoreError::BadUrl(url.to_string()));
            }
            if path != ":memory:" {
                if let Some(parent) = std::path::Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent).map_err(|source| {
                            StoreError::CreateDir {
                                path: parent.display().to_string(),
                                source,
                            }
                        })?;
                    }
                }
            }
            let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let m = migrator();
        dispatch!(&db, p => m.run(p).await?);
        Ok(db)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        dispatch!(self, p => p.close().await)
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// The state's current revision.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        Ok(
            dispatch!(self, p => sqlx::query_scalar::<_, i64>("SELECT revision FROM meta WHERE id = 1").fetch_one(p).await?),
        )
    }

    /// Loads every resource and the revision (outside a write).
    pub async fn load_state(&self) -> Result<State, StoreError> {
        let mut tx = self.begin().await?;
        let state = tx.load_state().await?;
        tx.rollback().await?;
        Ok(state)
    }

    /// Whether any token exists (a new database has none).
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        let n: i64 = dispatch!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(p).await?);
        Ok(n > 0)
    }

    /// Stores a token by the SHA-256 hash of its secret, and its audit entries, in one
    /// transaction.
    pub async fn insert_token(
        &self,
        row: &TokenRow,
        hash: &str,
        description: Option<&str>,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let now = now();
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO tokens (id, hash, scope, role, user_email, description, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)")
            .bind(&row.id).bind(hash).bind(&row.scope).bind(&row.role).bind(&row.user).bind(description).bind(&now)
            .execute(&mut **t).await.map(|_| ())?);
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// The token whose secret hashes to `hash`.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = dispatch!(self, p => {
            let r = sqlx::query("SELECT id, scope, role, user_email FROM tokens WHERE hash = $1").bind(hash).fetch_optional(p).await?;
            match r {
                Some(r) => Some(TokenRow { id: r.try_get("id")?, scope: r.try_get("scope")?, role: r.try_get("role")?, user: r.try_get("user_email")? }),
                None => None,
            }
        });
        Ok(row)
    }

    /// Audit entries visible through `tenant` (None: all), newest first, ids below `before`.
    pub async fn audit_page(
        &self,
        tenant: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let before = before.unwrap_or(i64::MAX);
        let q = if tenant.is_some() {
            "SELECT id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha FROM audit WHERE id < $1 AND tenant = $3 ORDER BY id DESC LIMIT $2"
        } else {
            "SELECT id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2"
        };
        let rows = dispatch!(self, p => {
            let mut query = sqlx::query(q).bind(before).bind(limit);
            if let Some(t) = tenant {
                query = query.bind(t);
            }
            let rows = query.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(AuditRow {
                    id: r.try_get("id")?, at: r.try_get("at")?, revision: r.try_get("revision")?, token_id: r.try_get("token_id")?,
                    op: r.try_get("op")?, kind: r.try_get("kind")?, key: r.try_get("rkey")?, tenant: r.try_get("tenant")?,
                    before: r.try_get("before_json")?, after: r.try_get("after_json")?, change_set: r.try_get("change_set")?,
                    commit: r.try_get("commit_sha")?,
                });
            }
            out
        });
        Ok(rows)
    }

    /// Creation times of the users, by e-mail.
    pub async fn user_created(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows = dispatch!(self, p => {
            let rows = sqlx::query("SELECT rkey, created_at FROM resources WHERE kind = 'user'").fetch_all(p).await?;
            let mut out = std::collections::HashMap::with_capacity(rows.len());
            for r in rows {
                out.insert(r.try_get::<String, _>("rkey")?, r.try_get::<String, _>("created_at")?);
            }
            out
        });
        Ok(rows)
    }

    /// Inserts invitations and their audit entries, in one transaction.
    pub async fn insert_invitations(
        &self,
        rows: &[InvitationRow],
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => {
            for r in rows {
                let ws = serde_json::to_string(&r.workspaces).unwrap_or_else(|_| "[]".into());
                sqlx::query("INSERT INTO invitations (id, email, tenant, role, workspaces, message, status, invited_by, created_at, accepted_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
                    .bind(&r.id).bind(&r.email).bind(&r.tenant).bind(&r.role).bind(ws).bind(&r.message).bind(&r.status)
                    .bind(&r.invited_by).bind(&r.created_at).bind(&r.accepted_at)
                    .execute(&mut **t).await?;
            }
        });
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// Invitations of `tenant` (None: all), oldest first.
    pub async fn invitations(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        let q = if tenant.is_some() {
            "SELECT * FROM invitations WHERE tenant = $1 ORDER BY created_at, id"
        } else {
            "SELECT * FROM invitations ORDER BY created_at, id"
        };
        let rows = dispatch!(self, p => {
            let mut query = sqlx::query(q);
            if let Some(t) = tenant {
                query = query.bind(t);
            }
            let rows = query.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(invitation_from_row(&r)?);
            }
            out
        });
        Ok(rows)
    }

    /// One invitation.
    pub async fn invitation(&self, id: &str) -> Result<Option<InvitationRow>, StoreError> {
        let row = dispatch!(self, p => {
            match sqlx::query("SELECT * FROM invitations WHERE id = $1").bind(id).fetch_optional(p).await? {
                Some(r) => Some(invitation_from_row(&r)?),
                None => None,
            }
        });
        Ok(row)
    }

    /// Stores a password reset by the hash of its secret, and its audit entries, in one
    /// transaction.
    pub async fn insert_password_reset(
        &self,
        id: &str,
        email: &str,
        hash: &str,
        expires_at: &str,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let now = now();
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO password_resets (id, email, hash, created_at, expires_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(id).bind(email).bind(hash).bind(&now).bind(expires_at).execute(&mut **t).await.map(|_| ())?);
        tx.audit(audit).await?;
        tx.commit().await
    }
}

/// What redeeming a password reset found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The reset was valid and is now used; the user's e-mail.
    Ok(String),
    Unknown,
    Used,
    Expired,
}

impl Db {
    /// Marks the password reset whose secret hashes to `hash` as used, once.
    pub async fn redeem_password_reset(&self, hash: &str) -> Result<Redeemed, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<(String, String, Option<String>)> = dispatch_tx!(&mut tx, t => {
            match sqlx::query("SELECT email, expires_at, used_at FROM password_resets WHERE hash = $1").bind(hash).fetch_optional(&mut **t).await? {
                Some(r) => Some((r.try_get("email")?, r.try_get("expires_at")?, r.try_get("used_at")?)),
                None => None,
            }
        });
        let Some((email, expires_at, used_at)) = row else {
            tx.rollback().await?;
            return Ok(Redeemed::Unknown);
        };
        if used_at.is_some() {
            tx.rollback().await?;
            return Ok(Redeemed::Used);
        }
        let rfc = &time::format_description::well_known::Rfc3339;
        let expired = time::OffsetDateTime::parse(&expires_at, rfc)
            .map_or(true, |e| e <= time::OffsetDateTime::now_utc());
        if expired {
            tx.rollback().await?;
            return Ok(Redeemed::Expired);
        }
        let now = now();
        let n = dispatch_tx!(&mut tx, t => sqlx::query("UPDATE password_resets SET used_at = $1 WHERE hash = $2 AND used_at IS NULL")
            .bind(&now).bind(hash).execute(&mut **t).await?.rows_affected());
        tx.commit().await?;
        Ok(if n == 1 {
            Redeemed::Ok(email)
        } else {
            Redeemed::Used
        })
    }
}

fn invitation_from_row<R: Row>(r: &R) -> Result<InvitationRow, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let ws: String = r.try_get("workspaces")?;
    Ok(InvitationRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        tenant: r.try_get("tenant")?,
        role: r.try_get("role")?,
        workspaces: serde_json::from_str(&ws).unwrap_or_default(),
        message: r.try_get("message")?,
        status: r.try_get("status")?,
        invited_by: r.try_get("invited_by")?,
        created_at: r.try_get("created_at")?,
        accepted_at: r.try_get("accepted_at")?,
    })
}

impl Tx {
    async fn audit(&mut self, audit: Option<(&AuditCtx, &[NewAudit])>) -> Result<(), StoreError> {
        match audit {
            Some((ctx, entries)) => {
                self.insert_audit(
                    ctx.revision,
                    &ctx.token_id,
                    entries,
                    ctx.change_set.as_deref(),
                    ctx.commit.as_deref(),
                )
                .await
            }
            None => Ok(()),
        }
    }

    fn is_sqlite(&self) -> bool {
        matches!(self, Tx::Sqlite(_))
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        dispatch_tx!(self, t => t.commit().await?);
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        dispatch_tx!(self, t => t.rollback().await?);
        Ok(())
    }

    /// Takes the write lock (the `meta` row) and grows the revision; returns the new one.
    pub async fn bump_revision(&mut self) -> Result<i64, StoreError> {
        Ok(
            dispatch_tx!(self, t => sqlx::query_scalar::<_, i64>("UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision").fetch_one(&mut **t).await?),
        )
    }

    /// Loads every resource and the revision, inside this transaction.
    pub async fn load_state(&mut self) -> Result<State, StoreError> {
        let mut state = State::default();
        dispatch_tx!(self, t => {
            state.revision = sqlx::query_scalar::<_, i64>("SELECT revision FROM meta WHERE id = 1").fetch_one(&mut **t).await?;
            let rows = sqlx::query("SELECT kind, rkey, body, version, managed, protected FROM resources").fetch_all(&mut **t).await?;
            for r in rows {
                let kind_s: String = r.try_get("kind")?;
                let key: String = r.try_get("rkey")?;
                let body: String = r.try_get("body")?;
                let corrupt = |message: String| StoreError::Corrupt { kind: kind_s.clone(), key: key.clone(), message };
                let kind = Kind::parse(&kind_s).ok_or_else(|| corrupt("unknown kind".into()))?;
                let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
                let spec = AnySpec::from_value(kind, value).map_err(|e| corrupt(e.to_string()))?;
                let meta = Meta { version: r.try_get("version")?, managed: r.try_get("managed")?, protected: r.try_get("protected")? };
                state.insert(key, meta, spec);
            }
        });
        Ok(state)
    }

    /// Upserts resources, in multi-row statements.
    pub async fn upsert(&mut self, rows: &[ResourceRow<'_>]) -> Result<(), StoreError> {
        let now = now();
        for chunk in rows.chunks(CHUNK) {
            let q = format!(
                "INSERT INTO resources (kind, rkey, tenant, body, version, managed, protected, created_at, updated_at) VALUES {} \
                 ON CONFLICT (kind, rkey) DO UPDATE SET tenant = excluded.tenant, body = excluded.body, version = excluded.version, \
                 managed = excluded.managed, protected = excluded.protected, updated_at = excluded.updated_at",
                placeholders(chunk.len(), 9, self.is_sqlite(), 0)
            );
            dispatch_tx!(self, t => {
                let mut query = sqlx::query(sql(q));
                for r in chunk {
                    query = query.bind(r.kind.as_str()).bind(r.key).bind(keys::tenant_of(r.kind, r.key)).bind(r.body.as_str())
                        .bind(r.meta.version).bind(r.meta.managed).bind(r.meta.protected).bind(now.as_str()).bind(now.as_str());
                }
                query.execute(&mut **t).await?;
            });
        }
        Ok(())
    }

    /// Deletes resources of one kind.
    pub async fn delete(&mut self, kind: Kind, keys: &[&str]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CHUNK) {
            let sqlite = self.is_sqlite();
            let list = placeholders(1, chunk.len(), sqlite, 1);
            let first = if sqlite { "?" } else { "$1" };
            let q = format!("DELETE FROM resources WHERE kind = {first} AND rkey IN {list}");
            dispatch_tx!(self, t => {
                let mut query = sqlx::query(sql(q)).bind(kind.as_str());
                for k in chunk {
                    query = query.bind(*k);
                }
                query.execute(&mut **t).await?;
            });
        }
        Ok(())
    }

    /// Appends audit entries, allocating their ids from `meta.audit_seq`.
    pub async fn insert_audit(
        &mut self,
        revision: i64,
        token_id: &str,
        entries: &[NewAudit],
        change_set: Option<&str>,
        commit: Option<&str>,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let n = entries.len() as i64;
        let last: i64 = dispatch_tx!(self, t => sqlx::query_scalar::<_, i64>("UPDATE meta SET audit_seq = audit_seq + $1 WHERE id = 1 RETURNING audit_seq").bind(n).fetch_one(&mut **t).await?);
        let mut id = last - n + 1;
        let now = now();
        for chunk in entries.chunks(CHUNK) {
            let q = format!(
                "INSERT INTO audit (id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha) VALUES {}",
                placeholders(chunk.len(), 12, self.is_sqlite(), 0)
            );
            dispatch_tx!(self, t => {
                let mut query = sqlx::query(sql(q));
                for e in chunk {
                    query = query.bind(id).bind(now.as_str()).bind(revision).bind(token_id).bind(e.op.as_str()).bind(e.kind.as_str())
                        .bind(e.key.as_str()).bind(e.tenant.as_deref()).bind(e.before.as_deref()).bind(e.after.as_deref())
                        .bind(change_set).bind(commit);
                    id += 1;
                }
                query.execute(&mut **t).await?;
            });
        }
        Ok(())
    }

    /// Marks an invitation accepted (inside the write that creates its membership).
    pub async fn accept_invitation(&mut self, id: &str) -> Result<bool, StoreError> {
        let now = now();
        let n = dispatch_tx!(self, t => sqlx::query("UPDATE invitations SET status = 'accepted', accepted_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(&now).bind(id).execute(&mut **t).await?.rows_affected());
        Ok(n == 1)
    }
}
