//! The configuration: the desired state as written in YAML files. The document types
//! (nested tenants and users) and their flattening into a desired `State` ([`document`]),
//! loading files and directories ([`load`]), `${env:NAME}` substitution ([`env`]), merging
//! the files section by section with the file that owns each resource ([`merge`]), the
//! `acknowledge:` approvals of plan-time risks ([`acknowledge`]), where each `${env:…}` value
//! went ([`sensitive`]), and the YAML engine itself ([`yaml`]).

pub mod acknowledge;
mod document;
pub mod env;
pub mod load;
pub mod merge;
pub mod sensitive;
pub mod yaml;

pub use acknowledge::AcknowledgeDecl;
pub use document::*;
pub use load::{load_paths, load_str};

/// The JSON Schema (draft 2020-12) of a configuration file, generated from [`Document`].
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Document)).unwrap_or_default()
}
