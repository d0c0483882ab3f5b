//! The committed JSON Schema is the one generated from the document types, every field of
//! it is documented, and `tenantctl schema` prints it.

use std::path::PathBuf;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/tenantctl.schema.json")
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = tenantctl::commands::schema::schema_text();
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        generated == committed,
        "schemas/tenantctl.schema.json is out of date with the document types.\n\
         Regenerate it with:\n\n    cargo run -- schema > schemas/tenantctl.schema.json\n\n\
         and commit the result."
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = cargo_bin_cmd!("tenantctl")
        .arg("schema")
        .output()
        .expect("run tenantctl schema");
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "`tenantctl schema` differs from schemas/tenantctl.schema.json"
    );
}

#[test]
fn schema_is_draft_2020_12() {
    let schema = tenantctl::config::json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        jsonschema::draft202012::meta::is_valid(&schema),
        "the generated schema is a valid 2020-12 schema"
    );
}

fn undocumented(node: &Value, path: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (name, prop) in props {
                    if prop
                        .get("description")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        out.push(format!("{path}/properties/{name}"));
                    }
                }
            }
            for (k, v) in map {
                undocumented(v, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                undocumented(v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_and_definition_has_a_description() {
    let schema = tenantctl::config::json_schema();
    let mut missing = Vec::new();
    undocumented(&schema, "", &mut missing);
    if let Some(Value::Object(defs)) = schema.get("$defs") {
        for (name, def) in defs {
            if def.get("description").is_none() {
                missing.push(format!("/$defs/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields without a description (add a doc comment): {missing:#?}"
    );
}
