//! Typing a file's declarations straight from its YAML, for files that are valid as written:
//! the fast path's tape ([`super::yaml::fast::tape`]) deserialised into the declarations,
//! then the schema's constraints that the types do not carry checked on the typed values.
//! No JSON value is built and the JSON Schema is not run; that was two thirds of loading a
//! large configuration.
//!
//! Anything else gives `None` and the file takes the full path, which places every problem
//! at its line: YAML outside the fast subset, `${env:…}`, an `acknowledge:` section, a null,
//! a value of the wrong type, an unknown field, a key or value the schema refuses. The
//! invariant, checked by the differential test in `validate`: when this returns a `Typed`,
//! the full path finds no problem and types the file the same.

use serde::Deserialize;

use super::merge::{Decl, Section, Typed};
use super::yaml::fast::de::Tape;
use super::yaml::fast::{self, Tok};
use super::{TenantDecl, UserDecl};
use crate::model::{ModelDefaults, ModelSpec, PlanSpec, RoleSpec};
use crate::rules::is_valid_key;

/// The file's declarations, typed, when the file is valid as written and within the fast
/// subset; `None` for the full path.
pub fn typed(text: &str) -> Option<Typed> {
    if text.contains("${env:") {
        return None;
    }
    let toks = fast::tape(text)?;
    let mut tape = Tape::new(&toks);
    let Some(&Tok::Map { len: sections, .. }) = tape.take() else {
        return None;
    };
    let mut entries = Vec::new();
    for _ in 0..sections {
        let Some(Tok::Key(name)) = tape.take() else {
            return None;
        };
        let section = Section::parse(name)?;
        let Some(&Tok::Map { len, .. }) = tape.take() else {
            return None;
        };
        entries.reserve(len as usize);
        for _ in 0..len {
            let Some(Tok::Key(key)) = tape.take() else {
                return None;
            };
            if !key_allowed(section, key) {
                return None;
            }
            let decl = decl(section, &mut tape)?;
            entries.push((section, key.to_string(), Ok(decl)));
        }
    }
    Some(Typed::from_entries(entries))
}

fn decl(section: Section, tape: &mut Tape<'_, '_>) -> Option<Decl> {
    let decl = match section {
        Section::Plans => Decl::Plan(PlanSpec::deserialize(tape).ok()?),
        Section::Models => Decl::Model(ModelSpec::deserialize(tape).ok()?),
        Section::Roles => Decl::Role(RoleSpec::deserialize(tape).ok()?),
        Section::Tenants => Decl::Tenant(TenantDecl::deserialize(tape).ok()?),
        Section::Users => Decl::User(UserDecl::deserialize(tape).ok()?),
    };
    within_schema(&decl).then_some(decl)
}

/// The schema's `propertyNames` of a section: a key (`^[a-z0-9][a-z0-9-]*$`, at most 63),
/// or for users an e-mail ([`crate::rules::USER_KEY_PATTERN`], at most 254).
fn key_allowed(section: Section, key: &str) -> bool {
    match section {
        Section::Users => plain_email(key, true),
        _ => is_valid_key(key),
    }
}

/// The schema's constraints that the declaration's types do not carry: patterns, lengths
/// and ranges (`tests::every_constraint_is_checked` lists the schema's).
fn within_schema(decl: &Decl) -> bool {
    match decl {
        Decl::Plan(p) => p.price.as_ref().is_none_or(|p| {
            p.currency.len() == 3 && p.currency.bytes().all(|b| b.is_ascii_uppercase())
        }),
        Decl::Model(m) => defaults_in_range(&m.defaults),
        Decl::Role(_) | Decl::User(_) => true,
        Decl::Tenant(t) => tenant_within_schema(t),
    }
}

fn tenant_within_schema(t: &TenantDecl) -> bool {
    t.contact
        .email
        .as_deref()
        .is_none_or(|e| plain_email(e, false))
        && t.workspaces.keys().all(|k| is_valid_key(k))
        && t.models.values().all(|m| defaults_in_range(&m.defaults))
}

fn defaults_in_range(d: &ModelDefaults) -> bool {
    d.lora_weight.is_none_or(|w| (0.0..=5.0).contains(&w))
        && d.guidance.is_none_or(|g| (0.0..=30.0).contains(&g))
}

/// An e-mail in printable ASCII that the schema's pattern accepts: a local part of 1 to 64
/// characters other than `/` and `@`, `@`, and two or more dot-separated labels of letters,
/// digits and `-`; upper-case letters only when `upper` (a user's key, read in lower case;
/// a contact is written in lower case). Anything else, other scripts included, is left to
/// the schema.
fn plain_email(s: &str, upper: bool) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || (upper && b.is_ascii_uppercase())
            })
    };
    s.len() <= 254
        && (1..=64).contains(&local.len())
        && local.bytes().all(|b| {
            (0x21..=0x7e).contains(&b)
                && b != b'/'
                && b != b'@'
                && (upper || !b.is_ascii_uppercase())
        })
        && domain.split('.').count() >= 2
        && domain.split('.').all(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constraint keyword of the schema, where it is: if the schema gains one, this
    /// fails until [`within_schema`] or [`key_allowed`] checks it too.
    #[test]
    fn every_constraint_is_checked() {
        fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        let here = format!("{at}/{k}");
                        if matches!(
                            k.as_str(),
                            "pattern"
                                | "maxLength"
                                | "minLength"
                                | "minimum"
                                | "maximum"
                                | "exclusiveMinimum"
                                | "exclusiveMaximum"
                                | "multipleOf"
                                | "minItems"
                                | "maxItems"
                                | "uniqueItems"
                                | "minProperties"
                                | "maxProperties"
                                | "format"
                                | "dependentRequired"
                                | "if"
                                | "not"
                                | "contains"
                        ) {
                            out.push(here.clone());
                        }
                        walk(x, &here, out);
                    }
                }
                serde_json::Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        walk(x, &format!("{at}/{i}"), out);
                    }
                }
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(&crate::config::json_schema(), "", &mut found);
        found.sort();
        let checked = [
            // key_allowed
            "/properties/models/propertyNames/maxLength",
            "/properties/models/propertyNames/pattern",
            "/properties/plans/propertyNames/maxLength",
            "/properties/plans/propertyNames/pattern",
            "/properties/roles/propertyNames/maxLength",
            "/properties/roles/propertyNames/pattern",
            "/properties/tenants/propertyNames/maxLength",
            "/properties/tenants/propertyNames/pattern",
            "/properties/users/propertyNames/maxLength",
            "/properties/users/propertyNames/pattern",
            // an `acknowledge:` section takes the full path
            "/$defs/AcknowledgeDecl/properties/key/minLength",
            // tenant_within_schema
            "/$defs/Contact/properties/email/maxLength",
            "/$defs/Contact/properties/email/pattern",
            "/$defs/TenantDecl/properties/workspaces/propertyNames/maxLength",
            "/$defs/TenantDecl/properties/workspaces/propertyNames/pattern",
            // the Rust types: u32 and u64 hold exactly these ranges
            "/$defs/Limits/properties/records/maximum",
            "/$defs/Limits/properties/records/minimum",
            "/$defs/Limits/properties/registries/maximum",
            "/$defs/Limits/properties/registries/minimum",
            "/$defs/Limits/properties/users/maximum",
            "/$defs/Limits/properties/users/minimum",
            "/$defs/Limits/properties/workspaces/maximum",
            "/$defs/Limits/properties/workspaces/minimum",
            "/$defs/Price/properties/amount/maximum",
            "/$defs/Price/properties/amount/minimum",
            // within_schema
            "/$defs/Price/properties/currency/pattern",
            "/$defs/ModelDefaults/properties/guidance/maximum",
            "/$defs/ModelDefaults/properties/guidance/minimum",
            "/$defs/ModelDefaults/properties/lora_weight/maximum",
            "/$defs/ModelDefaults/properties/lora_weight/minimum",
        ];
        let mut checked: Vec<String> = checked.iter().map(|s| s.to_string()).collect();
        checked.sort();
        assert_eq!(found, checked);
    }

    #[test]
    fn emails_are_accepted_only_when_plainly_valid() {
        for (s, user, contact) in [
            ("alice@acme.example", true, true),
            ("Alice@Acme.example", true, false),
            ("a.b+c@sub.acme.example", true, true),
            ("bob@acme", false, false),
            ("al ice@acme.example", false, false),
            ("a/b@acme.example", false, false),
            ("@acme.example", false, false),
            ("alice@.acme.example", false, false),
            ("alice@acme..example", false, false),
            ("alice@acme.example.", false, false),
            ("alice@acme_x.example", false, false),
            ("élodie@acme.example", false, false),
        ] {
            assert_eq!(plain_email(s, true), user, "user {s:?}");
            assert_eq!(plain_email(s, false), contact, "contact {s:?}");
        }
        let long_local = format!("{}@acme.example", "a".repeat(65));
        assert!(!plain_email(&long_local, true));
        let long = format!("a@{}.example", "b".repeat(250));
        assert!(!plain_email(&long, true));
    }
}
