//! The integration tests, in one binary: one link step instead of one per file (as ripgrep
//! and uv do). One module per area; `common` holds the platform server the tests run
//! against and the fixture. Run one area with `cargo test --test it reconcile::`.

// In a test a panic is the failure report: `unwrap`/`expect` are fine in this whole crate,
// helpers included (clippy's allow-*-in-tests covers only `#[test]` and `#[cfg(test)]` code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod access_003;
mod access_api;
mod access_matrix;
mod apply_lock;
mod backup;
mod cli;
mod mail;
mod protected;
mod reconcile;
mod registries;
mod registries_plan;
mod review_loop;
mod schema;
mod secrets;
mod sensitive;
mod server_access;
mod server_api;
mod server_cli;
mod server_openapi;
mod server_replicas;
mod sessions;
mod tenant_scope;
mod tokens;
mod validate_cli;
mod workflow_run;
mod workflows;
mod yaml_suite;
