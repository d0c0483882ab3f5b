//! `tenantctl schema`: prints the JSON Schema (draft 2020-12) of the YAML configuration,
//! generated from the document types.

use super::Exit;

/// The schema as committed in `schemas/tenantctl.schema.json`: pretty JSON and a newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::config::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

pub fn run() -> miette::Result<Exit> {
    super::print(&schema_text(), Exit::Success)?;
    Ok(Exit::Success)
}
