//! `tenantctl users export --csv`: the platform's users CSV (seed 002/004 columns: first
//! name, last name, e-mail, created, status, language, tenant, role; one row per membership).

use miette::{IntoDiagnostic, WrapErr};

use super::platform::Platform;
use super::{Exit, Global};
use crate::cli::{UsersArgs, UsersCommand};

pub fn run(args: UsersArgs, global: &Global) -> miette::Result<Exit> {
    let UsersCommand::Export(export) = args.command;
    let rt = super::runtime()?;
    let csv = rt.block_on(async {
        let p = Platform::connect(global).await?;
        let r = p
            .client
            .users_csv()
            .await
            .into_diagnostic()
            .wrap_err("cannot export the users");
        p.close().await;
        r
    })?;
    match &export.out {
        Some(path) => {
            std::fs::write(path, &csv)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot write `{}`", path.display()))?;
            eprintln!(
                "Wrote {} row(s) to {}.",
                csv.lines().count().saturating_sub(1),
                path.display()
            );
        }
        None => print!("{csv}"),
    }
    Ok(Exit::Success)
}
