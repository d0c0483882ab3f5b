//! `tenantctl serve`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::ServeArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`serve` is not implemented yet"))
}
