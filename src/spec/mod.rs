//! The desired state as written: the YAML document types, loading of files and directories,
//! `${env:NAME}` substitution, and the map from JSON pointers back to YAML lines.

mod document;

pub use document::*;
