//! `tenantctl users export`: the platform's users CSV (seed 002/004 columns: first
//! name, last name, e-mail, created, status, language, tenant, role; one row per membership).

use miette::{IntoDiagnostic, WrapErr};

use super::{print, with_platform, Exit, Settings};
use crate::cli::UsersExportArgs;

pub fn run(args: UsersExportArgs, settings: &Settings) -> miette::Result<Exit> {
    let csv = with_platform(settings, async |p| {
        p.client
            .users_csv()
            .await
            .into_diagnostic()
            .wrap_err("cannot export the users")
    })?;
    match &args.out {
        Some(path) => {
            // Private: the CSV lists every user's name and e-mail.
            crate::output_file::write(path, csv.as_bytes(), crate::output_file::Access::Private)
                .into_diagnostic()?;
            eprintln!(
                "Wrote {} row(s) to {}.",
                csv.lines().count().saturating_sub(1),
                path.display()
            );
        }
        None => print(&csv, Exit::Success)?,
    }
    Ok(Exit::Success)
}
