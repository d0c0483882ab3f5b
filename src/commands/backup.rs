//! `tenantctl backup`, `backup verify` and `restore`: the platform's backups
//! (`server::backup`) from the command line, with a progress bar on a terminal and a
//! summary on stdout. Database URLs are printed without their password.

use std::fmt::Write as _;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::serve::redact;
use super::settings::BackupRun;
use super::{print, runtime, Exit, Settings};
use crate::apply::Progress;
use crate::cli::RestoreArgs;
use crate::render::thousands;
use crate::server::backup::{self, format::Header, Summary};
use crate::server::store::Db;

/// A size in bytes for people: `812 B`, `56.2 KiB`, `3.4 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A progress bar of rows on stderr when it is a terminal.
fn bar(settings: &Settings, verb: &str) -> Option<ProgressBar> {
    if settings.progress != Progress::Bar {
        return None;
    }
    let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {verb} [{{bar:30}}] {{human_pos}}/{{human_len}} rows {{elapsed}} {{wide_msg}}"
    )) {
        b.set_style(style.progress_chars("=> "));
    }
    Some(b)
}

fn show(bar: &Option<ProgressBar>, p: &backup::Progress) {
    if let Some(b) = bar {
        b.set_length(p.total);
        b.set_position(p.rows);
        b.set_message(p.table.clone());
    }
}

fn rows_and_tables(h: &Header) -> String {
    format!(
        "{} table(s), {} row(s)",
        h.tables.len(),
        thousands(h.rows() as usize)
    )
}

/// `backup --database URL --out FILE`.
pub fn backup(run: BackupRun, settings: &Settings) -> miette::Result<Exit> {
    let bar = bar(settings, "backing up");
    let summary: Summary = runtime()?.block_on(async {
        let db = Db::open(&run.database, false).await?;
        let r = backup::backup(&db, &run.out, |p| show(&bar, p)).await;
        db.close().await;
        r
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print(
        &format!(
            "backed up {} (revision {}, {}) to {}: {} in {:.1} s\n",
            redact(&run.database),
            summary.header.revision,
            rows_and_tables(&summary.header),
            run.out.display(),
            size(summary.bytes),
            summary.elapsed.as_secs_f64()
        ),
        Exit::Success,
    )?;
    Ok(Exit::Success)
}

/// The header of a backup, as `backup verify` prints it.
pub fn describe(file: &Path, s: &Summary) -> String {
    let h = &s.header;
    let mut out = format!(
        "{}: a sound tenantctl backup (format {})\n",
        file.display(),
        backup::format::FORMAT_VERSION
    );
    let _ = writeln!(
        out,
        "  taken {} by tenantctl {} from {}, revision {}",
        h.created_at, h.tenantctl_version, h.source_engine, h.revision
    );
    let _ = writeln!(
        out,
        "  schema: {}",
        h.schema
            .iter()
            .map(|s| s.version.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "  {}, {}", rows_and_tables(h), size(s.bytes));
    let width = h.tables.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &h.tables {
        let _ = writeln!(
            out,
            "    {:width$}  {:>9}",
            t.name,
            thousands(t.rows as usize)
        );
    }
    if !h.violations.is_empty() {
        let _ = writeln!(
            out,
            "  the platform's rule check found {} problem(s) at the backup (a restore finds the same):",
            h.violations.len()
        );
        for v in &h.violations {
            let _ = writeln!(out, "    {v}");
        }
    }
    out
}

/// `backup verify FILE`: exit 0 when the file is sound, 1 (with the reason) when not.
pub fn verify(file: &Path) -> miette::Result<Exit> {
    let summary = backup::verify(file)?;
    print(&describe(file, &summary), Exit::Success)?;
    Ok(Exit::Success)
}

/// `restore --database URL FILE`.
pub fn restore(args: RestoreArgs, settings: &Settings) -> miette::Result<Exit> {
    let bar = bar(settings, "restoring");
    let summary = runtime()?.block_on(backup::restore(&args.database, &args.file, |p| {
        show(&bar, p)
    }))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print(
        &format!(
            "restored {} (revision {}, {}) into {} in {:.1} s; integrity check passed: every table has its rows, the rule check finds {} problem(s) as at the backup\n",
            args.file.display(),
            summary.header.revision,
            rows_and_tables(&summary.header),
            redact(&args.database),
            summary.elapsed.as_secs_f64(),
            summary.header.violations.len()
        ),
        Exit::Success,
    )?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size(812), "812 B");
        assert_eq!(size(57_549), "56.2 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
    }
}
