//! Scheduled backups (`serve --backup-dir DIR --backup-at 02:00 --backup-keep 30d`,
//! document 001's defaults): every day at a UTC time, [`super::backup`] writes
//! `DIR/tenantctl-YYYYMMDDTHHMMSSZ.backup` (temporary file and rename), then the backups
//! older than the retention are removed, and the log says when it ran, the size and how
//! long it took. Time comes from a [`Clock`], so a test runs days of schedule at once.

use std::future::Future;
use std::path::{Path, PathBuf};

use time::{OffsetDateTime, Time};

use super::backup;
use crate::server::store::Db;

/// When and where to take backups.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub dir: PathBuf,
    /// The time of day, UTC.
    pub at: Time,
    /// Backups older than this are removed after each new one.
    pub keep: time::Duration,
}

/// `HH:MM` (24 hours, UTC).
pub fn parse_at(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

/// The scheduler's time: the system clock in `serve`, a simulated one in tests.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
    /// Returns once `now()` has reached `t`.
    fn sleep_until(&self, t: OffsetDateTime) -> impl Future<Output = ()> + Send;
}

/// The system clock. Sleeps a minute at most at a time and looks again, so that a clock
/// set forward or a suspended machine does not push a backup a day late.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    async fn sleep_until(&self, t: OffsetDateTime) {
        loop {
            let left = t - OffsetDateTime::now_utc();
            if left <= time::Duration::ZERO {
                return;
            }
            let step = std::time::Duration::try_from(left)
                .unwrap_or_default()
                .min(std::time::Duration::from_secs(60));
            tokio::time::sleep(step).await;
        }
    }
}

/// The first time after `now` that is `at` on some day (UTC).
pub fn next_run(now: OffsetDateTime, at: Time) -> OffsetDateTime {
    let now = now.to_offset(time::UtcOffset::UTC);
    let today = now.replace_time(at);
    if today > now {
        today
    } else {
        today + time::Duration::days(1)
    }
}

const PREFIX: &str = "tenantctl-";
const SUFFIX: &str = ".backup";
const STAMP: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// The file a backup taken at `at` is written to.
pub fn file_name(at: OffsetDateTime) -> String {
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(STAMP)
        .unwrap_or_else(|_| at.unix_timestamp().to_string());
    format!("{PREFIX}{stamp}{SUFFIX}")
}

/// When the backup in the file named `name` was taken, if it is one of ours.
fn taken_at(name: &str) -> Option<OffsetDateTime> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    time::PrimitiveDateTime::parse(stamp, STAMP)
        .ok()
        .map(|t| t.assume_utc())
}

/// Removes the backups in `dir` taken before `now - keep` (by the time in their names;
/// other files are left alone); returns the removed files.
pub fn prune(
    dir: &Path,
    now: OffsetDateTime,
    keep: time::Duration,
) -> std::io::Result<Vec<PathBuf>> {
    let cutoff = now - keep;
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(at) = name.to_str().and_then(taken_at) else {
            continue;
        };
        if at < cutoff && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}

/// Takes one backup now (named for `at`) and prunes; logs the outcome.
pub async fn run_once(db: &Db, schedule: &Schedule, at: OffsetDateTime) -> Option<PathBuf> {
    if let Err(e) = std::fs::create_dir_all(&schedule.dir) {
        tracing::error!(dir = %schedule.dir.display(), error = %e, "scheduled backup failed: cannot create its directory");
        return None;
    }
    let path = schedule.dir.join(file_name(at));
    let taken = match backup(db, &path, |_| {}).await {
        Ok(summary) => {
            tracing::info!(
                file = %path.display(),
                bytes = summary.bytes,
                rows = summary.header.rows(),
                tables = summary.header.tables.len(),
                revision = summary.header.revision,
                seconds = format!("{:.3}", summary.elapsed.as_secs_f64()),
                "scheduled backup taken"
            );
            Some(path)
        }
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "scheduled backup failed");
            None
        }
    };
    match prune(&schedule.dir, at, schedule.keep) {
        Ok(removed) => {
            for r in removed {
                tracing::info!(file = %r.display(), "old backup removed");
            }
        }
        Err(e) => {
            tracing::error!(dir = %schedule.dir.display(), error = %e, "cannot remove old backups")
        }
    }
    taken
}

/// Takes a backup every day at the schedule's time, forever (the task is aborted at
/// shutdown); `taken` hears of each file written.
pub async fn run<C: Clock>(
    db: Db,
    schedule: Schedule,
    clock: C,
    taken: Option<tokio::sync::mpsc::UnboundedSender<PathBuf>>,
) {
    tracing::info!(
        dir = %schedule.dir.display(),
        at = %format!("{:02}:{:02} UTC", schedule.at.hour(), schedule.at.minute()),
        keep_days = schedule.keep.whole_days(),
        "scheduled backups on"
    );
    loop {
        let next = next_run(clock.now(), schedule.at);
        clock.sleep_until(next).await;
        if let Some(path) = run_once(&db, &schedule, next).await {
            if let Some(t) = &taken {
                let _ = t.send(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, time};

    #[test]
    fn the_next_run_is_today_if_the_time_is_still_ahead_else_tomorrow() {
        let at = time!(02:00);
        assert_eq!(
            next_run(datetime!(2026-11-30 01:59:59 UTC), at),
            datetime!(2026-11-30 02:00 UTC)
        );
        assert_eq!(
            next_run(datetime!(2026-11-30 02:00 UTC), at),
            datetime!(2026-12-01 02:00 UTC)
        );
        assert_eq!(
            next_run(datetime!(2026-12-31 23:00 UTC), at),
            datetime!(2027-01-01 02:00 UTC)
        );
        // A local time is converted to UTC first.
        assert_eq!(
            next_run(datetime!(2026-11-30 04:30 +02:00), at),
            datetime!(2026-12-01 02:00 UTC)
        );
    }

    #[test]
    fn times_of_day_parse_as_hh_mm() {
        assert_eq!(parse_at("02:00"), Some(time!(02:00)));
        assert_eq!(parse_at("2:30"), Some(time!(02:30)));
        assert_eq!(parse_at("23:59"), Some(time!(23:59)));
        for bad in ["24:00", "02:60", "0200", "02:0", "", "ab:cd", "-1:00"] {
            assert_eq!(parse_at(bad), None, "{bad}");
        }
    }

    #[test]
    fn pruning_removes_only_our_backups_older_than_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let now = datetime!(2026-11-30 02:00 UTC);
        for days in [0, 1, 29, 30, 31, 45] {
            std::fs::write(
                dir.path().join(file_name(now - time::Duration::days(days))),
                b"x",
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        std::fs::write(dir.path().join("tenantctl-garbage.backup"), b"?").unwrap();
        let removed = prune(dir.path(), now, time::Duration::days(30)).unwrap();
        let names: Vec<String> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "tenantctl-20261016T020000Z.backup",
                "tenantctl-20261030T020000Z.backup"
            ]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), 6, "{left:?}");
        assert!(left.contains(&"notes.txt".to_string()));
        assert!(left.contains(&"tenantctl-20261031T020000Z.backup".to_string()));
    }
}
