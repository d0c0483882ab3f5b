//! `tenantctl schema`: prints the JSON Schema (draft 2020-12) of the YAML configuration,
//! generated from the document types.

use std::io::Write;

use super::{Exit, Global};

/// The schema as committed in `schemas/tenantctl.schema.json`: pretty JSON and a newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::config::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

pub fn run(_global: &Global) -> miette::Result<Exit> {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(schema_text().as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(miette::miette!("cannot write the schema: {e}")),
    }
}
