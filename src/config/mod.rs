//! The configuration: the desired state as written in YAML files. The document types
//! (nested tenants and users) and their flattening into a desired `State` ([`document`]),
//! loading files and directories ([`load`]), `${env:NAME}` substitution ([`env`]), merging
//! the files section by section with the file that owns each resource ([`merge`]), the
//! `acknowledge:` approvals of plan-time risks ([`acknowledge`]), where each `${env:…}` value
//! went ([`sensitive`]), the typing of a valid file straight from its YAML ([`direct`]), and
//! the YAML engine itself ([`yaml`]).

pub mod acknowledge;
pub mod direct;
mod document;
pub mod env;
pub mod load;
pub mod merge;
pub mod sensitive;
pub mod yaml;

pub use acknowledge::AcknowledgeDecl;
pub use document::*;
pub use load::{load_paths, load_str};

/// The JSON Schema (draft 2020-12) of a configuration file, generated from [`Document`]:
/// standard keywords only (ajv's strict mode accepts it), the key and e-mail formats of
/// rule 5 as patterns, and a title on every definition so that editors name them.
pub fn json_schema() -> serde_json::Value {
    use serde_json::Value;
    let mut schema = serde_json::to_value(schemars::schema_for!(Document)).unwrap_or_default();
    crate::model::schema::standard_formats(&mut schema);
    if let Some(Value::Object(defs)) = schema.get_mut("$defs") {
        // A tenant's contact e-mail: rule 5 as a pattern. Only here: the server reports
        // rule 5 itself, with its own error.
        if let Some(Value::Object(email)) = defs
            .get_mut("Contact")
            .and_then(|c| c.pointer_mut("/properties/email"))
        {
            email.insert("pattern".into(), crate::rules::EMAIL_PATTERN.into());
            email.insert("maxLength".into(), 254.into());
        }
        for (name, def) in defs.iter_mut() {
            if let Value::Object(def) = def {
                if !def.contains_key("title") {
                    def.insert("title".into(), title(name).into());
                }
            }
        }
    }
    schema
}

/// A definition's title from its type name: `TenantDecl` → `Tenant`, `GrantTo` → `Grant to`.
fn title(type_name: &str) -> String {
    let name = type_name
        .strip_suffix("Spec")
        .or_else(|| type_name.strip_suffix("Decl"))
        .unwrap_or(type_name);
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
