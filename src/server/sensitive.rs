//! Sensitive fields (issue 10): values of a spec that came from `${env:…}` on the client.
//! A write declares them ([`check`] refuses a declaration that names no string of the spec);
//! the platform stores where each came from (`store::SensitiveMap`, for `export`), and
//! [`mask_audit`] puts a marker in place of their values in the audit entries of the write,
//! so the audit log never holds them.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::api::SensitiveField;
use crate::model::Kind;

use super::error::ApiError;
use super::store::{AuditSubject, NewAudit, SensitiveMap};

/// What the audit log holds in place of a sensitive value.
pub const MARKER: &str = "(sensitive)";

/// Most sensitive fields one resource may declare.
const MAX_FIELDS: usize = 100;
/// Longest pointer or source.
const MAX_LEN: usize = 1000;

/// Checks the sensitive fields a write declares for `spec`: each pointer names a string of
/// the spec, once; each source is a `${env:…}` template.
pub fn check(spec: &Value, fields: &[SensitiveField]) -> Result<(), ApiError> {
    let bad = |message: String, pointer: &str| {
        ApiError::invalid(
            "invalid_body",
            message,
            json!({ "field": "sensitive", "pointer": pointer }),
        )
    };
    if fields.len() > MAX_FIELDS {
        return Err(bad(
            format!("at most {MAX_FIELDS} sensitive fields per resource"),
            "",
        ));
    }
    let mut seen = BTreeSet::new();
    for f in fields {
        let p = f.pointer.as_str();
        if p.len() > MAX_LEN || f.source.len() > MAX_LEN {
            return Err(bad(
                format!("a sensitive field's pointer and source are at most {MAX_LEN} characters"),
                "",
            ));
        }
        if !p.starts_with('/') || !spec.pointer(p).is_some_and(Value::is_string) {
            return Err(bad(
                format!("sensitive field `{p}` is not a string of the spec (a JSON pointer such as `/contact/phone`)"),
                p,
            ));
        }
        if !f.source.contains("${env:") {
            return Err(bad(
                format!("the source of sensitive field `{p}` must be the value as written, with its `${{env:…}}` placeholder"),
                p,
            ));
        }
        if !seen.insert(p) {
            return Err(bad(format!("sensitive field `{p}` is listed twice"), p));
        }
    }
    Ok(())
}

/// Whether a write has no sensitive field: none `known` before it and none `declared` (an
/// apply from empty declares an empty list for each of its resources).
pub fn none_sensitive(
    known: &SensitiveMap,
    declared: &HashMap<(Kind, String), Vec<SensitiveField>>,
) -> bool {
    known.is_empty() && declared.values().all(Vec::is_empty)
}

/// The audit entries of a write with every sensitive value replaced by [`MARKER`]: the
/// fields `known` before the write and those the write `declared`, in both the `before` and
/// the `after` of each entry, whose `sensitive` lists the masked pointers. Borrowed when no
/// entry has any.
pub fn mask_audit<'a>(
    entries: &'a [NewAudit],
    known: &SensitiveMap,
    declared: &HashMap<(Kind, String), Vec<SensitiveField>>,
) -> Cow<'a, [NewAudit]> {
    if none_sensitive(known, declared) {
        return Cow::Borrowed(entries);
    }
    let pointers = |kind: Kind, key: &str| -> BTreeSet<&str> {
        let k = (kind, key.to_string());
        known
            .get(&k)
            .into_iter()
            .chain(declared.get(&k))
            .flatten()
            .map(|f| f.pointer.as_str())
            .collect()
    };
    let mut out: Option<Vec<NewAudit>> = None;
    for (i, e) in entries.iter().enumerate() {
        let AuditSubject::Resource(kind) = e.subject else {
            continue;
        };
        let ps = pointers(kind, &e.key);
        if ps.is_empty() {
            continue;
        }
        let masked = NewAudit {
            before: e.before.as_deref().map(|t| mask_resource(t, &ps)),
            after: e.after.as_deref().map(|t| mask_resource(t, &ps)),
            ..e.clone()
        };
        out.get_or_insert_with(|| entries.to_vec())[i] = masked;
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(entries),
    }
}

/// The audit form of a resource (`{version, managed, protected, spec}`, as JSON text) with
/// the values at `pointers` of its spec masked. Text that is not that form (it always is)
/// is replaced whole, so no value can slip through.
fn mask_resource(text: &str, pointers: &BTreeSet<&str>) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return json!({ "spec": MARKER }).to_string();
    };
    let mut masked = Vec::new();
    if let Some(spec) = v.get_mut("spec") {
        for p in pointers {
            if let Some(slot) = spec.pointer_mut(p) {
                *slot = Value::String(MARKER.into());
                masked.push(*p);
            }
        }
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert("sensitive".into(), json!(masked));
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::AuditOp;

    fn field(pointer: &str, source: &str) -> SensitiveField {
        SensitiveField {
            pointer: pointer.into(),
            source: source.into(),
        }
    }

    #[test]
    fn a_declaration_must_name_a_string_of_the_spec() {
        let spec = json!({ "contact": { "phone": "+33 1" }, "limits": { "users": 3 } });
        assert!(check(&spec, &[field("/contact/phone", "${env:P}")]).is_ok());
        for (f, words) in [
            (field("/contact/email", "${env:P}"), "not a string"),
            (field("/limits/users", "${env:P}"), "not a string"),
            (field("contact/phone", "${env:P}"), "not a string"),
            (field("/contact/phone", "plain"), "placeholder"),
        ] {
            let e = check(&spec, &[f]).expect_err("refused");
            assert!(e.to_string().contains(words), "{e}");
        }
        let twice = [
            field("/contact/phone", "${env:P}"),
            field("/contact/phone", "${env:Q}"),
        ];
        assert!(check(&spec, &twice).is_err());
    }

    #[test]
    fn audit_entries_hold_a_marker_not_the_value() {
        let entry = |before: Option<&str>, after: Option<&str>| NewAudit {
            op: AuditOp::Put,
            subject: AuditSubject::Resource(Kind::Tenant),
            key: "acme".into(),
            tenant: Some("acme".into()),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        };
        let before = r#"{"version":1,"managed":true,"protected":false,"spec":{"contact":{"phone":"+33 1 secret"},"plan":"p"}}"#;
        let after = r#"{"version":2,"managed":true,"protected":false,"spec":{"contact":{"phone":"+33 2 secret"},"plan":"p"}}"#;
        let entries = vec![entry(Some(before), Some(after))];
        let mut declared = HashMap::new();
        declared.insert(
            (Kind::Tenant, "acme".to_string()),
            vec![field("/contact/phone", "${env:P}")],
        );
        let masked = mask_audit(&entries, &SensitiveMap::new(), &declared);
        for text in [&masked[0].before, &masked[0].after] {
            let text = text.as_deref().expect("kept");
            assert!(!text.contains("secret"), "{text}");
            let v: Value = serde_json::from_str(text).expect("json");
            assert_eq!(v["spec"]["contact"]["phone"], MARKER);
            assert_eq!(v["spec"]["plan"], "p");
            assert_eq!(v["sensitive"], json!(["/contact/phone"]));
        }
        // Known before the write: a delete is masked too.
        let mut known = SensitiveMap::new();
        known.insert(
            (Kind::Tenant, "acme".to_string()),
            vec![field("/contact/phone", "${env:P}")],
        );
        let deleted = vec![entry(Some(before), None)];
        let masked = mask_audit(&deleted, &known, &HashMap::new());
        assert!(!masked[0].before.as_deref().unwrap_or("").contains("secret"));
        // Nothing sensitive: the entries are not copied.
        assert!(matches!(
            mask_audit(&entries, &SensitiveMap::new(), &HashMap::new()),
            Cow::Borrowed(_)
        ));
    }
}
