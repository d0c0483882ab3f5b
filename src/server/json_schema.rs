//! JSON Schema on the server. A resource's spec in a request body is checked against the
//! same JSON Schema the YAML is validated with (the schemars schema of each kind's spec
//! type), so the API never stores a value its own OpenAPI document says is invalid: a
//! currency in lower case, a guidance above 30, an array where an object belongs. The
//! integer bounds added here to schemars' formats serve the OpenAPI document too.

use std::collections::HashMap;
use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

use crate::model::{AnySpec, Kind};

use super::error::ApiError;

fn validators() -> &'static Result<HashMap<Kind, jsonschema::Validator>, String> {
    static V: OnceLock<Result<HashMap<Kind, jsonschema::Validator>, String>> = OnceLock::new();
    V.get_or_init(|| {
        let mut out = HashMap::new();
        for &kind in Kind::ALL {
            let mut gen = SchemaSettings::draft2020_12().into_generator();
            let mut root = AnySpec::schema(kind, &mut gen).to_value();
            let defs = gen.take_definitions(true);
            if let Value::Object(m) = &mut root {
                m.insert("$defs".into(), Value::Object(defs));
            }
            bound_integer_formats(&mut root);
            let v =
                jsonschema::validator_for(&root).map_err(|e| format!("schema of {kind}: {e}"))?;
            out.insert(kind, v);
        }
        Ok(out)
    })
}

/// Turns integral floats (`3.0`) into integers: JSON Schema's `integer` admits them.
pub fn integral_floats(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(a) => {
            let mut changed = false;
            for x in a {
                changed |= integral_floats(x);
            }
            changed
        }
        Value::Object(o) => {
            let mut changed = false;
            for x in o.values_mut() {
                changed |= integral_floats(x);
            }
            changed
        }
        _ => false,
    }
}

pub use crate::model::schema::bound_integer_formats;

/// Checks `value` against the schema of `kind`'s spec, then parses it.
pub fn parse_spec(kind: Kind, mut value: Value) -> Result<AnySpec, ApiError> {
    let validators = validators()
        .as_ref()
        .map_err(|e| ApiError::Internal(e.clone()))?;
    if let Some(v) = validators.get(&kind) {
        let errors: Vec<Value> = v
            .iter_errors(&value)
            .take(20)
            .map(|e| json!({ "path": e.instance_path().to_string(), "message": e.to_string() }))
            .collect();
        if let Some(first) = errors.first() {
            let message = format!(
                "not a valid {kind} spec: {} (at `{}`)",
                first["message"].as_str().unwrap_or(""),
                first["path"]
                    .as_str()
                    .filter(|p| !p.is_empty())
                    .unwrap_or("/")
            );
            return Err(ApiError::invalid(
                "invalid_spec",
                message,
                json!({ "kind": kind, "errors": errors }),
            ));
        }
    }
    integral_floats(&mut value);
    AnySpec::from_value(kind, value).map_err(|e| {
        ApiError::invalid(
            "invalid_spec",
            format!("not a valid {kind} spec: {e}"),
            json!({ "kind": kind }),
        )
    })
}
