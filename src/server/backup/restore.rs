//! The restore: a backup loaded into an empty database of either engine, in one
//! transaction committed only after the integrity check.

use std::path::Path;
use std::time::Instant;

use tokio::sync::mpsc;

use super::format::{Header, Reader};
use super::{format, read_all, violations, BackupError, Msg, Progress, Summary};
use crate::server::store::catalog::Table;
use crate::server::store::{self, Db};

/// The schema version as words: `1, 100, 101`.
fn versions(steps: impl Iterator<Item = i64>) -> String {
    steps.map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}

/// Restores `file` into the empty database at `url` (a SQLite file is created): checks
/// the checksum and the schema version first, runs the migrations, loads every row in one
/// transaction, and commits only if the integrity check passes — each table has the rows
/// the header says and the rule check finds what it found at the backup.
pub async fn restore(
    url: &str,
    file: &Path,
    progress: impl FnMut(&Progress),
) -> Result<Summary, BackupError> {
    let started = Instant::now();
    let f = file.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || format::check_digest(&f))
        .await
        .map_err(|e| BackupError::Task(e.to_string()))??;
    let reader = Reader::open(file)?;
    let header = reader.header.clone();
    let ours = store::migrations();
    if header
        .schema
        .iter()
        .map(|s| s.version)
        .ne(ours.iter().map(|o| o.0))
    {
        return Err(BackupError::Schema {
            backup: versions(header.schema.iter().map(|s| s.version)),
            ours: versions(ours.iter().map(|o| o.0)),
            written_by: header.tenantctl_version.clone(),
        });
    }
    let sqlite_file = url
        .strip_prefix("sqlite:")
        .map(|p| p.trim_start_matches("//"))
        .map(|p| p.split('?').next().unwrap_or(p).to_string())
        .filter(|p| p != ":memory:" && !Path::new(p).exists());
    let db = Db::open(url, true).await?;
    let result = load(&db, reader, file, progress).await;
    db.close().await;
    if result.is_err() {
        // A SQLite file this restore created goes with its failure, so it can be retried.
        if let Some(p) = sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{p}{suffix}"));
            }
        }
    }
    result?;
    Ok(Summary {
        header,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// The restore's work on an open database.
async fn load(
    db: &Db,
    reader: Reader,
    file: &Path,
    mut progress: impl FnMut(&Progress),
) -> Result<(), BackupError> {
    let mut tx = db.begin().await?;
    let existing = tx.table_names().await?;
    tx.rollback().await?;
    if !existing.is_empty() {
        return Err(BackupError::NotEmpty { tables: existing });
    }
    db.migrate().await?;
    let header = reader.header.clone();
    let mut tx = db.begin().await?;
    let targets = matching_tables(&header, tx.tables().await?)?;
    for t in targets.iter().rev() {
        tx.clear(&t.name).await?;
    }
    let (send, mut recv) = mpsc::channel::<Msg>(8);
    let path = file.display().to_string();
    let reading = tokio::task::spawn_blocking(move || {
        read_all(reader, &path, |m| {
            send.blocking_send(m)
                .map_err(|_| BackupError::Task("the restore stopped reading".into()))
        })
    });
    let total = header.rows();
    let mut done = 0u64;
    let mut current = 0usize;
    let mut inserted: Result<(), BackupError> = Ok(());
    while let Some(m) = recv.recv().await {
        let step = match m {
            Msg::Table(i) => {
                current = i;
                Ok(())
            }
            Msg::Rows(rows) => {
                done += rows.len() as u64;
                let r = tx.insert_rows(&targets[current], &rows).await;
                progress(&Progress {
                    table: targets[current].name.clone(),
                    rows: done,
                    total,
                });
                r
            }
            Msg::End(_) => tx.reset_sequences(&targets[current]).await,
        };
        if let Err(e) = step {
            inserted = Err(e.into());
            break;
        }
    }
    drop(recv);
    let read = reading
        .await
        .map_err(|e| BackupError::Task(e.to_string()))?;
    inserted?;
    read?;
    integrity(&mut tx, &header).await?;
    tx.commit().await?;
    Ok(())
}

/// The target's tables in the backup's order, each with its columns in the backup's
/// column order, or why they do not match.
fn matching_tables(header: &Header, mut targets: Vec<Table>) -> Result<Vec<Table>, BackupError> {
    let mut out = Vec::with_capacity(header.tables.len());
    for t in &header.tables {
        let pos = targets
            .iter()
            .position(|x| x.name == t.name)
            .ok_or_else(|| {
                BackupError::Tables(format!("table `{}` is not in this schema", t.name))
            })?;
        let mut target = targets.remove(pos);
        let mut columns = Vec::with_capacity(t.columns.len());
        for c in &t.columns {
            let i = target
                .columns
                .iter()
                .position(|x| x.name == c.name)
                .ok_or_else(|| {
                    BackupError::Tables(format!(
                        "column `{}.{}` is not in this schema",
                        t.name, c.name
                    ))
                })?;
            columns.push(target.columns.remove(i));
        }
        if let Some(c) = target.columns.first() {
            return Err(BackupError::Tables(format!(
                "column `{}.{}` is not in the backup",
                t.name, c.name
            )));
        }
        target.columns = columns;
        out.push(target);
    }
    if let Some(t) = targets.first() {
        return Err(BackupError::Tables(format!(
            "table `{}` is not in the backup",
            t.name
        )));
    }
    Ok(out)
}

/// The integrity check, in the restore's transaction: every table has the rows the header
/// says, and the state loads (as the server loads it) with the revision and the rule
/// check's findings of the backup.
async fn integrity(tx: &mut store::Tx, header: &Header) -> Result<(), BackupError> {
    for t in &header.tables {
        let n = tx.count(&t.name).await?;
        if u64::try_from(n).ok() != Some(t.rows) {
            return Err(BackupError::Integrity(format!(
                "table `{}` has {n} rows, the backup {}",
                t.name, t.rows
            )));
        }
    }
    let state = tx
        .load_state()
        .await
        .map_err(|e| BackupError::Integrity(format!("the state does not load: {e}")))?;
    if state.revision != header.revision {
        return Err(BackupError::Integrity(format!(
            "the state's revision is {}, the backup's {}",
            state.revision, header.revision
        )));
    }
    let found = violations(&state);
    if found != header.violations {
        return Err(BackupError::Integrity(format!(
            "the rule check finds {} problem(s), at the backup it found {}",
            found.len(),
            header.violations.len()
        )));
    }
    Ok(())
}
