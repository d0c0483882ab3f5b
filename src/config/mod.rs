//! The configuration: the desired state as written in YAML files. The document types
//! (nested tenants and users) and their flattening into a desired `State` ([`document`]),
//! loading files and directories ([`load`]), `${env:NAME}` substitution ([`env`]), merging
//! the files section by section with the file that owns each resource ([`merge`]), and the
//! YAML engine itself ([`yaml`]).

mod document;
mod env;
pub mod load;
pub mod merge;
pub mod yaml;

pub use document::*;
pub use load::{load_paths, load_str};

/// The JSON Schema (draft 2020-12) of a configuration file, generated from [`Document`].
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Document)).unwrap_or_default()
}
