//! `tenantctl export`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::ExportArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`export` is not implemented yet"))
}
