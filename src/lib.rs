//! tenantctl: administration as code for multi-tenant SaaS platforms.
//!
//! The data flows one way: **load → validate → fetch → diff → render → apply**. See
//! `ARCHITECTURE.md` for the module map and its invariants.

pub mod api;
pub mod apply;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod connect;
pub mod diagnostic;
pub mod model;
pub mod output_file;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod rules;
pub mod server;
pub mod validate;
