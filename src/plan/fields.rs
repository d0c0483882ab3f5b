//! Field-level differences between two specs (JSON objects): nested objects are walked and
//! reported by dotted path; arrays and scalars are compared whole.

use serde_json::Value;

use super::FieldChange;

/// The fields that differ between `before` and `after`, sorted by path. A field absent on one
/// side has `None` there.
pub fn field_changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", Some(before), Some(after), &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&join(path, k), b.get(k), a.get(k), out);
            }
        }
        // An object appearing or disappearing is reported leaf by leaf, so `limits.users`
        // reads the same whether `limits` existed before or not.
        (Some(Value::Object(b)), None) if !path.is_empty() && !b.is_empty() => {
            for (k, v) in b {
                walk(&join(path, k), Some(v), None, out);
            }
        }
        (None, Some(Value::Object(a))) if !path.is_empty() && !a.is_empty() => {
            for (k, v) in a {
                walk(&join(path, k), None, Some(v), out);
            }
        }
        (b, a) => {
            if b != a {
                out.push(FieldChange {
                    path: path.to_string(),
                    before: b.cloned(),
                    after: a.cloned(),
                });
            }
        }
    }
}
