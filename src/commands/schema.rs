//! `tenantctl schema`.

use super::{Exit, Global};

pub fn run(_global: &Global) -> miette::Result<Exit> {
    Err(miette::miette!("`schema` is not implemented yet"))
}
