//! Helpers for the JSON Schemas generated from the model's types (schemars), shared by the
//! configuration's schema and the server's: bounds for schemars' integer formats, and the
//! removal of the formats that standard validators do not know.

use serde_json::{json, Value};

/// The formats schemars emits that JSON Schema does not define (ajv's strict mode refuses
/// them); their meaning is carried by bounds instead.
const NON_STANDARD_FORMATS: &[&str] = &[
    "uint8", "uint16", "uint32", "uint64", "uint", "int8", "int16", "int32", "int64", "int",
    "float", "double",
];

/// Gives integer formats schemars emits (`uint32`, `uint64`, `int64`, …) their bounds, so a
/// value the Rust type cannot hold is refused by the schema, not only by serde.
pub fn bound_integer_formats(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let bounds: Option<(Value, Value)> = match m.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((json!(0), json!(u8::MAX))),
                Some("uint16") => Some((json!(0), json!(u16::MAX))),
                Some("uint32") => Some((json!(0), json!(u32::MAX))),
                Some("uint64") | Some("uint") => Some((json!(0), json!(u64::MAX))),
                Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
                Some("int64") | Some("int") => Some((json!(i64::MIN), json!(i64::MAX))),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                m.entry("minimum").or_insert(min);
                m.entry("maximum").or_insert(max);
            }
            for x in m.values_mut() {
                bound_integer_formats(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(bound_integer_formats),
        _ => {}
    }
}

/// Replaces schemars' non-standard formats by standard keywords: integer formats become
/// bounds ([`bound_integer_formats`]), then every format JSON Schema does not define is
/// removed (`double` says nothing `"type": "number"` does not).
pub fn standard_formats(v: &mut Value) {
    bound_integer_formats(v);
    strip_formats(v);
}

fn strip_formats(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| NON_STANDARD_FORMATS.contains(&f))
            {
                m.remove("format");
            }
            m.values_mut().for_each(strip_formats);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_formats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_formats_become_bounds() {
        let mut v = json!({ "properties": { "n": { "type": "integer", "format": "uint32", "minimum": 0 }, "x": { "type": "number", "format": "double" }, "e": { "type": "string", "format": "email" } } });
        standard_formats(&mut v);
        assert_eq!(
            v,
            json!({ "properties": { "n": { "type": "integer", "minimum": 0, "maximum": 4294967295u32 }, "x": { "type": "number" }, "e": { "type": "string", "format": "email" } } })
        );
    }
}
