//! The integration tests, in one binary: one link step instead of one per file (as ripgrep
//! and uv do). One module per area; `common` holds the platform server the tests run
//! against and the fixture. Run one area with `cargo test --test it reconcile::`.

mod common;

mod reconcile;
mod schema;
mod server_access;
mod server_api;
mod server_cli;
mod server_openapi;
mod validate_cli;
mod workflows;
