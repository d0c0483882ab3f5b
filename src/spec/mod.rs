//! The desired state as written: the YAML document types, loading of files and directories,
//! `${env:NAME}` substitution, and the map from JSON pointers back to YAML lines.

pub mod compose;
mod document;
mod env;
pub mod fast;
pub mod load;
pub mod merge;
pub mod span;

pub use document::*;
pub use load::{load_paths, load_str};

/// The JSON Schema (draft 2020-12) of a configuration file, generated from [`Document`].
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Document)).unwrap_or_default()
}
