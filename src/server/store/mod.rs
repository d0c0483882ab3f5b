//! Database access for the platform: one SQL dialect that SQLite and PostgreSQL both speak
//! (`$N` placeholders, `ON CONFLICT`, `RETURNING`), run through two typed pools (one
//! exception: PostgreSQL upserts resources from one array per column, see `Tx::upsert`). The
//! migrations in `migrations/` are embedded and shared by both backends (one exception:
//! `0170_audit_rowid` rebuilds SQLite's audit table and does nothing on PostgreSQL). This file holds the
//! connection, the transaction and the revision (the cross-process write lock); each table
//! has a module of its own. Rows carry typed values: a stored value that does not parse is a
//! [`StoreError::Corrupt`], never a default.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Pool, Postgres, SqlSafeStr, Sqlite, Transaction};

use crate::model::State;

/// Runs the same code over either pool.
macro_rules! dispatch {
    ($value:expr, $p:ident => $body:expr) => {
        match $value {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
        }
    };
}

/// Runs the same code over either transaction type.
macro_rules! dispatch_tx {
    ($value:expr, $t:ident => $body:expr) => {
        match $value {
            Tx::Sqlite($t) => $body,
            Tx::Postgres($t) => $body,
        }
    };
}

/// Runs on `$conn` the statement `$build` makes of each item of `$items`, in order, each
/// built while the one before runs: SQLite runs a statement on its connection's own thread
/// and PostgreSQL in its own process, so building the next thousands of rows (their values
/// copied into the arguments) overlaps with inserting the last ones. Stops at the first
/// error. `pipelined!(conn, results, build; try)` takes items that may be errors (made as
/// they are needed, so their work overlaps too).
macro_rules! pipelined {
    ($conn:expr, $items:expr, $build:expr) => {
        pipelined!($conn, $items.into_iter().map(Ok::<_, StoreError>), $build; try)
    };
    ($conn:expr, $items:expr, $build:expr; try) => {{
        let mut items = $items.into_iter();
        let build = $build;
        let mut next = items.next().transpose()?.map(&build);
        while let Some(query) = next.take() {
            let (done, built) = futures_util::future::join(query.execute(&mut *$conn), async {
                items.next().transpose().map(|item| item.map(&build))
            })
            .await;
            done?;
            next = built?;
        }
    }};
}

mod accounts;
mod apply_lock;
mod audit;
pub mod catalog;
mod changes;
mod checkpoint;
mod invitations;
mod outbox;
mod password_resets;
mod records;
mod registries;
mod resources;
mod sensitive;
mod sessions;
mod throttle;
mod tokens;

pub use accounts::{ms_to_rfc3339, AccountRow, LAST_ACTIVE_EVERY_MS};
pub use apply_lock::{LockOutcome, LockRow};
pub use audit::{AuditCtx, AuditOp, AuditRow, AuditSubject, NewAudit};
pub use changes::{Current, CHANNEL, LOG_LIMIT};
pub use invitations::{InvitationRow, InvitationStatus, InvitedTenant, LinkState, Origin};
pub use outbox::{MailRow, NewMail, OutboxCounts, KIND_INVITATION, KIND_PASSWORD_RESET};
pub use password_resets::{NewReset, Redeemed, ResetOrigin, ResetRow, RESET_SEQ_INCIDENT};
pub use records::{NewRecord, RecordRow};
pub use registries::{Changed, Created, DataUsage, RegistryRow};
pub use resources::ResourceRow;
pub use sensitive::SensitiveMap;
pub use sessions::{ended_audit, Ended, SessionLife, SessionRow, SLIDE_EVERY_MS};
pub use throttle::{Attempt, ThrottlePolicy};
pub use tokens::{Revoked, TokenEntry, TokenLife, TokenRow};

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
    #[error("cannot create the SQLite database `{path}`: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error("there is no SQLite database at `{0}`")]
    NoDatabase(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value that does not parse: `what` names the row (``resource `plan/free` ``,
    /// ``token `tok_…` ``).
    #[error("stored {what} is corrupt: {message}")]
    Corrupt { what: String, message: String },
}

impl StoreError {
    fn corrupt(what: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Creates a new SQLite database file readable by its owner only (0600 on Unix): it holds
/// every user and every token hash. SQLite gives its `-wal` and `-shm` files the database
/// file's permissions. An existing file is left as it is.
fn create_private(path: &str) -> Result<(), StoreError> {
    let file = path.split('?').next().unwrap_or(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::CreateFile {
            path: file.to_string(),
            source,
        }),
    }
}

/// A migration's SQL: one text for both backends, or one for each when a backend needs a
/// change the other does not (a SQLite table rebuild).
#[derive(Clone, Copy)]
enum MigrationSql {
    Both(&'static str),
    Each {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

use MigrationSql::{Both, Each};

/// The embedded migrations, shared by SQLite and PostgreSQL: (version, name, SQL). Each
/// helper of a round numbers its own in its range (see `migrations/`).
const MIGRATIONS: &[(i64, &str, MigrationSql)] = &[
    (
        1,
        "init",
        Both(include_str!("../../../migrations/0001_init.sql")),
    ),
    (
        100,
        "apply_lock",
        Both(include_str!("../../../migrations/0100_apply_lock.sql")),
    ),
    (
        101,
        "sensitive_fields",
        Both(include_str!(
            "../../../migrations/0101_sensitive_fields.sql"
        )),
    ),
    (
        120,
        "mail_invitations",
        Both(include_str!(
            "../../../migrations/0120_mail_invitations.sql"
        )),
    ),
    (
        130,
        "sessions",
        Both(include_str!("../../../migrations/0130_sessions.sql")),
    ),
    (
        135,
        "password_reset_origin",
        Both(include_str!(
            "../../../migrations/0135_password_reset_origin.sql"
        )),
    ),
    (
        150,
        "registries",
        Both(include_str!("../../../migrations/0150_registries.sql")),
    ),
    (
        160,
        "changes",
        Both(include_str!("../../../migrations/0160_changes.sql")),
    ),
    (
        170,
        "audit_rowid",
        Each {
            sqlite: include_str!("../../../migrations/0170_audit_rowid.sql"),
            postgres: include_str!("../../../migrations/0170_audit_rowid.postgres.sql"),
        },
    ),
    (
        195,
        "token_expiry",
        Both(include_str!("../../../migrations/0195_token_expiry.sql")),
    ),
];

/// The migrations this binary embeds, as (version, name): the schema version a backup
/// records.
pub fn migrations() -> Vec<(i64, &'static str)> {
    MIGRATIONS
        .iter()
        .map(|&(version, name, _)| (version, name))
        .collect()
}

/// The migrations up to version `until`, as the backend `sqlite` (or PostgreSQL) runs them.
fn migrator(sqlite: bool, until: i64) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .filter(|m| m.0 <= until)
            .map(|&(version, name, sql)| {
                let sql = match sql {
                    Both(s) => s,
                    Each { sqlite: s, .. } if sqlite => s,
                    Each { postgres: s, .. } => s,
                };
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// A pool over one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(Pool<Sqlite>),
    Postgres(Pool<Postgres>),
}

/// A write transaction on either backend.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// The current time as RFC 3339 text (UTC, seconds precision is not enough for ordering,
/// so nanoseconds are kept).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// The current time in milliseconds since the Unix epoch (compared as integers in SQL).
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The page cache a bulk write may use on SQLite, in KiB (SQLite allocates it as it is
/// used).
const BULK_CACHE_KIB: i64 = 256 * 1024;

/// Rows per multi-row INSERT: keeps the parameter count below SQLite's 32766.
const CHUNK: usize = 2000;

/// Rows per PostgreSQL statement that binds one array per column.
const PG_CHUNK: usize = 10_000;

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

/// The verb of a multi-row insert (`{verb} INTO …`). SQLite's default conflict handling
/// (ABORT) makes a statement that writes many rows keep a statement journal, to take back its
/// own rows if one breaks a constraint: a copy of every page it touches again, about a tenth
/// of SQLite's time in an apply from empty. FAIL keeps none; every caller writes in a transaction that
/// is rolled back whole on an error, so the rows a failed statement leaves never commit.
/// (An `ON CONFLICT` clause still decides for its own target.)
fn insert_verb(sqlite: bool) -> &'static str {
    if sqlite {
        "INSERT OR FAIL"
    } else {
        "INSERT"
    }
}

fn sql(s: String) -> AssertSqlSafe<String> {
    AssertSqlSafe(s)
}

impl Db {
    /// Opens (and creates, for SQLite) the database at `url`, then runs the migrations.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        let db = Db::open(url, true).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Opens the database at `url` without migrating it. With `create` false, a SQLite file
    /// that does not exist is an error ([`StoreError::NoDatabase`]) rather than a new one.
    pub async fn open(url: &str, create: bool) -> Result<Db, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            if path.is_empty() {
                return Err(StoreError::BadUrl(url.to_string()));
            }
            let file = path.split('?').next().unwrap_or(path);
            if !create && path != ":memory:" && !std::path::Path::new(file).exists() {
                return Err(StoreError::NoDatabase(file.to_string()));
            }
            if create && path != ":memory:" {
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
                create_private(path)?;
            }
            let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                .create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                // A multi-row statement keeps the pages it changes in a statement journal
                // (to undo itself alone); in memory, instead of a temporary file past 64 KiB.
                .pragma("temp_store", "memory")
                .foreign_keys(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .after_release(checkpoint::after_release)
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::BadUrl(url.to_string()))
        }
    }

    /// Runs the migrations this binary embeds that the database has not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let m = migrator(matches!(self, Db::Sqlite(_)), i64::MAX);
        dispatch!(self, p => m.run(p).await?);
        Ok(())
    }

    /// The engine's name: `sqlite` or `postgres`.
    pub fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Starts a read-only transaction that sees one consistent snapshot of the whole
    /// database (REPEATABLE READ on PostgreSQL; on SQLite, in WAL mode, a read transaction
    /// sees the database as of its first read).
    pub async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
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
}

impl Tx {
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

    /// For a write of many rows on SQLite: lets the page cache hold every page the
    /// transaction dirties (up to [`BULK_CACHE_KIB`]) instead of spilling them to the WAL
    /// mid-transaction and reading them back (an apply from empty of 100,000 users dirties
    /// about 300 MB), and checkpoints the WAL after the commit, not inside it (`checkpoint`).
    /// Returns the cache size to restore with [`Tx::end_bulk`]; nothing on PostgreSQL.
    pub async fn begin_bulk(&mut self) -> Result<Option<i64>, StoreError> {
        let Tx::Sqlite(t) = self else {
            return Ok(None);
        };
        let size: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut **t)
            .await?;
        sqlx::query(sql(format!("PRAGMA cache_size = -{BULK_CACHE_KIB}")))
            .execute(&mut **t)
            .await?;
        sqlx::query("PRAGMA cache_spill = OFF")
            .execute(&mut **t)
            .await?;
        checkpoint::defer(t).await?;
        Ok(Some(size))
    }

    /// Gives the connection back its cache size (from [`Tx::begin_bulk`]) and spilling.
    pub async fn end_bulk(&mut self, size: Option<i64>) -> Result<(), StoreError> {
        let (Tx::Sqlite(t), Some(size)) = (self, size) else {
            return Ok(());
        };
        sqlx::query("PRAGMA cache_spill = ON")
            .execute(&mut **t)
            .await?;
        sqlx::query(sql(format!("PRAGMA cache_size = {size}")))
            .execute(&mut **t)
            .await?;
        Ok(())
    }

    /// Takes the write lock (the `meta` row) and grows the revision; returns the new one.
    pub async fn bump_revision(&mut self) -> Result<i64, StoreError> {
        Ok(
            dispatch_tx!(self, t => sqlx::query_scalar::<_, i64>("UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision").fetch_one(&mut **t).await?),
        )
    }
}

#[cfg(test)]
mod tests;
