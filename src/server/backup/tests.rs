//! Backups over SQLite files: a restore gives every row back, a damaged file is refused,
//! a non-empty database is refused, and the schedule runs days of backups on a simulated
//! clock. The round trips between engines are in `tests/it/backup.rs`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use time::macros::{datetime, time};
use time::OffsetDateTime;

use super::schedule::{self, Clock, Schedule};
use super::*;
use crate::server::store::Db;

fn url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// A platform database with a few rows: a token (its hash), the seeded `meta` row.
async fn platform(dir: &Path) -> Db {
    let db = Db::connect(&url(dir, "source.db")).await.unwrap();
    crate::server::tokens::create(&db, "system", None, None, Some("ci"), None, None)
        .await
        .unwrap();
    db
}

/// Every table's rows in a backup file.
fn rows(file: &Path) -> Vec<(usize, Vec<Value>)> {
    let mut r = Reader::open(file).unwrap();
    let mut out = Vec::new();
    let mut table = 0;
    while let Some(f) = r.next_frame().unwrap() {
        match f {
            Frame::Table(i) => table = i,
            Frame::Row(v) => out.push((table, v)),
            Frame::End(_) => {}
        }
    }
    out
}

#[tokio::test]
async fn a_restored_backup_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = platform(dir.path()).await;
    let first = dir.path().join("first.backup");
    let s = backup(&db, &first, |_| {}).await.unwrap();
    db.close().await;
    assert!(s
        .header
        .tables
        .iter()
        .any(|t| t.name == "tokens" && t.rows == 1));
    assert!(s.header.tables.iter().all(|t| t.name != MIGRATIONS_TABLE));
    assert_eq!(verify(&first).unwrap().header, s.header);

    let target = url(dir.path(), "restored.db");
    restore(&target, &first, |_| {}).await.unwrap();
    let again = Db::open(&target, false).await.unwrap();
    let second = dir.path().join("second.backup");
    let s2 = backup(&again, &second, |_| {}).await.unwrap();
    again.close().await;
    assert_eq!(s2.header.tables, s.header.tables);
    assert_eq!(s2.header.schema, s.header.schema);
    assert_eq!(rows(&second), rows(&first));

    // The restored database is not empty any more: a second restore is refused.
    let e = restore(&target, &first, |_| {}).await.unwrap_err();
    assert!(matches!(e, BackupError::NotEmpty { .. }), "{e}");
}

#[tokio::test]
async fn a_truncated_or_edited_file_is_refused_before_anything_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let db = platform(dir.path()).await;
    let good = dir.path().join("good.backup");
    backup(&db, &good, |_| {}).await.unwrap();
    db.close().await;
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let edited = dir.path().join("edited.backup");
    let mut changed = bytes.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    std::fs::write(&edited, &changed).unwrap();
    for bad in [&truncated, &edited] {
        assert!(
            matches!(verify(bad), Err(BackupError::Checksum { .. })),
            "{}",
            bad.display()
        );
        let target = url(dir.path(), "never.db");
        let e = restore(&target, bad, |_| {}).await.unwrap_err();
        assert!(matches!(e, BackupError::Checksum { .. }), "{e}");
        assert!(!dir.path().join("never.db").exists(), "nothing was created");
    }
    let other = dir.path().join("other.backup");
    std::fs::write(&other, vec![b'x'; 200]).unwrap();
    assert!(matches!(
        verify(&other),
        Err(BackupError::NotABackup { .. })
    ));
}

/// A clock that jumps to each time the scheduler waits for, and stops after `days` runs.
struct Simulated {
    now: Mutex<OffsetDateTime>,
    runs: Mutex<u32>,
    days: u32,
}

impl Clock for Simulated {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap()
    }

    async fn sleep_until(&self, t: OffsetDateTime) {
        let stop = {
            let mut runs = self.runs.lock().unwrap();
            *runs += 1;
            *runs > self.days
        };
        if stop {
            std::future::pending::<()>().await;
        }
        *self.now.lock().unwrap() = t;
    }
}

impl Clock for Arc<Simulated> {
    fn now(&self) -> OffsetDateTime {
        self.as_ref().now()
    }

    fn sleep_until(&self, t: OffsetDateTime) -> impl std::future::Future<Output = ()> + Send {
        let me = Arc::clone(self);
        async move { me.as_ref().sleep_until(t).await }
    }
}

#[tokio::test]
async fn the_schedule_takes_one_backup_a_day_at_its_time_and_keeps_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let db = platform(dir.path()).await;
    let backups = dir.path().join("backups");
    let clock = Arc::new(Simulated {
        now: Mutex::new(datetime!(2026-11-30 01:15 UTC)),
        runs: Mutex::new(0),
        days: 4,
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(schedule::run(
        db.clone(),
        Schedule {
            dir: backups.clone(),
            at: time!(02:00),
            keep: time::Duration::days(2),
        },
        Arc::clone(&clock),
        Some(tx),
    ));
    let mut taken: Vec<PathBuf> = Vec::new();
    for _ in 0..4 {
        taken.push(rx.recv().await.unwrap());
    }
    task.abort();
    let _ = task.await;
    db.close().await;
    let names: Vec<String> = taken
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "tenantctl-20261130T020000Z.backup",
            "tenantctl-20261201T020000Z.backup",
            "tenantctl-20261202T020000Z.backup",
            "tenantctl-20261203T020000Z.backup",
        ]
    );
    // Kept two days: at the fourth run, the first (three days old) was removed.
    let mut left: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, names[1..]);
    for p in &taken[1..] {
        verify(p).unwrap();
    }
}
