//! `tenantctl apply`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::ApplyArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`apply` is not implemented yet"))
}
