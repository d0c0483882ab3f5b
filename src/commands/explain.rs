//! `tenantctl explain`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::ExplainArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`explain` is not implemented yet"))
}
