//! `tenantctl validate`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::ValidateArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`validate` is not implemented yet"))
}
