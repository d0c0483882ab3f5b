//! `tenantctl plan`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::PlanArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`plan` is not implemented yet"))
}
