//! `tenantctl token`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::TokenArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`token` is not implemented yet"))
}
