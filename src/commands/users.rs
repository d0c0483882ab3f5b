//! `tenantctl users`.

use super::{Exit, Global};

pub fn run(_args: crate::cli::UsersArgs, _global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`users` is not implemented yet"))
}
