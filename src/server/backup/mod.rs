//! Backups of the whole platform (document 001: manual and scheduled backups, a restore
//! followed by an integrity check): [`backup`] writes one consistent snapshot of every
//! table the catalog lists, from SQLite or PostgreSQL, to a versioned, compressed file with
//! a checksum (`format`); [`verify`] checks a file through; [`restore`] loads one into an
//! empty database of either engine and checks it; `schedule` takes backups from `serve`.
//! The format is described in `docs/backup.md`.

pub mod format;
mod restore;
pub mod schedule;

pub use restore::restore;

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use tokio::sync::mpsc;

use crate::output_file::{self, Access};
use crate::rules::Violations;
use crate::server::store::catalog::{Table, Value, MIGRATIONS_TABLE};
use crate::server::store::{self, Db, StoreError};
use format::{ColumnHeader, Frame, Header, Reader, SchemaStep, TableHeader, Writer};

/// Rows per message between the database and the file.
const BATCH: usize = 512;

/// Why a backup, a restore or a verification failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] output_file::OutputError),
    #[error("`{path}` is not a tenantctl backup: {why}")]
    NotABackup { path: String, why: String },
    #[error("`{path}` is in backup format {found}; this tenantctl reads format {ours}")]
    #[diagnostic(help("verify and restore it with the tenantctl that wrote it"))]
    FormatVersion { path: String, found: u32, ours: u32 },
    #[error("`{path}` is damaged: its checksum does not match its content (the file was truncated or edited)")]
    #[diagnostic(help("use another copy of the backup: nothing can be restored from this one"))]
    Checksum { path: String },
    #[error("`{path}` is damaged: {message}")]
    Corrupt { path: String, message: String },
    #[error(
        "the database has no tenantctl schema (no `_sqlx_migrations` table): nothing to back up"
    )]
    NotAPlatform,
    #[error("the database was migrated by a newer tenantctl (migration {version} `{description}` is unknown to this one)")]
    #[diagnostic(help("back it up with the tenantctl that serves it"))]
    NewerDatabase { version: i64, description: String },
    #[error("the backup's schema ({backup}) is not this tenantctl's ({ours})")]
    #[diagnostic(help(
        "restore it with the tenantctl version that wrote it (tenantctl {written_by}), start `serve` on the restored database to migrate it, then back it up again"
    ))]
    Schema {
        backup: String,
        ours: String,
        written_by: String,
    },
    #[error("the database is not empty: it has {} table(s) ({})", tables.len(), tables.join(", "))]
    #[diagnostic(help(
        "restore into a new database: a SQLite path that does not exist yet, or a new PostgreSQL database (`createdb`)"
    ))]
    NotEmpty { tables: Vec<String> },
    #[error("the backup's tables do not match this schema's: {0}")]
    Tables(String),
    #[error("the integrity check after the restore failed, nothing was restored: {0}")]
    Integrity(String),
    #[error("the backup's writer stopped: {0}")]
    Task(String),
}

impl BackupError {
    fn corrupt(path: &str, message: impl Into<String>) -> BackupError {
        BackupError::Corrupt {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// What a backup, restore or verification did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub header: Header,
    /// The backup file's size.
    pub bytes: u64,
    pub elapsed: Duration,
}

/// How far a long backup or restore is: rows done of the total.
#[derive(Debug, Clone)]
pub struct Progress {
    pub table: String,
    pub rows: u64,
    pub total: u64,
}

/// What travels between the database and the file.
enum Msg {
    Table(usize),
    Rows(Vec<Vec<Value>>),
    End(u64),
}

/// The rule check's findings on a state, as a backup records them (`code kind/key`).
fn violations(state: &crate::model::State) -> Vec<String> {
    let mut v: Vec<String> = Violations::of(state)
        .all()
        .iter()
        .map(|v| format!("{} {}/{}", v.code, v.kind.as_str(), v.key))
        .collect();
    v.sort();
    v
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(store::now)
}

/// Writes a backup of `db` to `out` (through a temporary file renamed over it, 0600): one
/// read transaction, so the file is one consistent snapshot; rows stream from the database
/// to a compressing writer on another thread, a batch at a time.
pub async fn backup(
    db: &Db,
    out: &Path,
    mut progress: impl FnMut(&Progress),
) -> Result<Summary, BackupError> {
    let started = Instant::now();
    let mut tx = db.begin_snapshot().await?;
    if !tx
        .table_names()
        .await?
        .iter()
        .any(|n| n == MIGRATIONS_TABLE)
    {
        return Err(BackupError::NotAPlatform);
    }
    let applied = tx.applied_migrations().await?;
    let ours = store::migrations();
    if let Some((version, description)) = applied
        .iter()
        .find(|(v, _)| !ours.iter().any(|(o, _)| o == v))
    {
        return Err(BackupError::NewerDatabase {
            version: *version,
            description: description.clone(),
        });
    }
    let tables = tx.tables().await?;
    let mut headers = Vec::with_capacity(tables.len());
    for t in &tables {
        headers.push(TableHeader {
            name: t.name.clone(),
            rows: u64::try_from(tx.count(&t.name).await?).unwrap_or(0),
            columns: t
                .columns
                .iter()
                .map(|c| ColumnHeader {
                    name: c.name.clone(),
                    ty: c.ty.as_str().to_string(),
                    declared: c.declared.clone(),
                })
                .collect(),
        });
    }
    let state = tx.load_state().await?;
    let header = Header {
        created_at: now(),
        tenantctl_version: env!("CARGO_PKG_VERSION").to_string(),
        source_engine: db.engine().to_string(),
        schema: applied
            .into_iter()
            .map(|(version, description)| SchemaStep {
                version,
                description,
            })
            .collect(),
        revision: state.revision,
        violations: violations(&state),
        tables: headers,
    };
    drop(state);
    let total = header.rows();
    let (send, mut recv) = mpsc::channel::<Msg>(8);
    let file_header = header.clone();
    let path = out.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || {
        output_file::write_with(&path, Access::Private, |file| {
            let mut w = Writer::new(
                std::io::BufWriter::with_capacity(1 << 16, file),
                &file_header,
            )?;
            while let Some(m) = recv.blocking_recv() {
                match m {
                    Msg::Table(i) => w.table(i)?,
                    Msg::Rows(rows) => rows.iter().try_for_each(|r| w.row(r))?,
                    Msg::End(n) => w.end_table(n)?,
                }
            }
            let (buf, bytes) = w.finish()?;
            buf.into_inner().map_err(|e| e.into_error())?;
            Ok(bytes)
        })
    });
    let sent = send_rows(&mut tx, &tables, &header, &send, &mut progress, total).await;
    drop(send);
    let written = writer.await.map_err(|e| BackupError::Task(e.to_string()))?;
    tx.rollback().await?;
    // A write error stops the writer, which makes sending fail: report the write error.
    let bytes = written?;
    sent?;
    Ok(Summary {
        header,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Reads every table's rows in the snapshot and sends them to the writer.
async fn send_rows(
    tx: &mut store::Tx,
    tables: &[Table],
    header: &Header,
    send: &mpsc::Sender<Msg>,
    progress: &mut impl FnMut(&Progress),
    total: u64,
) -> Result<(), BackupError> {
    let closed = || BackupError::Task("the file writer ended early".into());
    let mut done = 0u64;
    for (i, t) in tables.iter().enumerate() {
        send.send(Msg::Table(i)).await.map_err(|_| closed())?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut n = 0u64;
        let mut rows = tx.rows(t);
        while let Some(row) = rows.try_next().await? {
            n += 1;
            batch.push(row);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                send.send(Msg::Rows(full)).await.map_err(|_| closed())?;
                done += BATCH as u64;
                progress(&Progress {
                    table: t.name.clone(),
                    rows: done,
                    total,
                });
            }
        }
        drop(rows);
        done += batch.len() as u64;
        if !batch.is_empty() {
            send.send(Msg::Rows(batch)).await.map_err(|_| closed())?;
        }
        if n != header.tables[i].rows {
            return Err(BackupError::Task(format!(
                "table `{}` changed during the backup ({} rows counted, {n} read)",
                t.name, header.tables[i].rows
            )));
        }
        send.send(Msg::End(n)).await.map_err(|_| closed())?;
        progress(&Progress {
            table: t.name.clone(),
            rows: done,
            total,
        });
    }
    Ok(())
}

/// Reads the frames of a backup through, checking their structure against the header
/// (each table once, in order, with as many rows as it says), handing them to `sink`.
fn read_all(
    mut r: Reader,
    path: &str,
    mut sink: impl FnMut(Msg) -> Result<(), BackupError>,
) -> Result<Header, BackupError> {
    let mut next = 0usize;
    let mut current: Option<(usize, u64)> = None;
    let mut batch = Vec::new();
    while let Some(frame) = r.next_frame()? {
        match frame {
            Frame::Table(i) => {
                if current.is_some() || i != next {
                    return Err(BackupError::corrupt(path, "its tables are out of order"));
                }
                current = Some((i, 0));
                sink(Msg::Table(i))?;
            }
            Frame::Row(values) => {
                if let Some((_, n)) = current.as_mut() {
                    *n += 1;
                }
                batch.push(values);
                if batch.len() == BATCH {
                    sink(Msg::Rows(std::mem::take(&mut batch)))?;
                }
            }
            Frame::End(count) => {
                if !batch.is_empty() {
                    sink(Msg::Rows(std::mem::take(&mut batch)))?;
                }
                let Some((i, n)) = current.take() else {
                    return Err(BackupError::corrupt(path, "a table ends that never began"));
                };
                let t = &r.header.tables[i];
                if n != count || n != t.rows {
                    return Err(BackupError::corrupt(
                        path,
                        format!(
                            "table `{}` has {n} rows, its header says {}",
                            t.name, t.rows
                        ),
                    ));
                }
                next += 1;
                sink(Msg::End(n))?;
            }
        }
    }
    if current.is_some() || next != r.header.tables.len() {
        return Err(BackupError::corrupt(
            path,
            "its rows end before its last table",
        ));
    }
    Ok(r.header)
}

/// Checks a backup through: the checksum, the format version, the header, and that every
/// row decompresses and parses and every table has the rows its header says.
pub fn verify(file: &Path) -> Result<Summary, BackupError> {
    let started = Instant::now();
    let bytes = format::check_digest(file)?;
    let header = read_all(Reader::open(file)?, &file.display().to_string(), |_| Ok(()))?;
    Ok(Summary {
        header,
        bytes,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests;
