//! Sensitive fields: a value that came from `${env:…}` is a secret. The configuration says
//! which fields of which resources are sensitive (and the text they were written as); the
//! platform says which of its live fields were. The plan carries both, for the changes it
//! holds, so that every rendering shows `(sensitive)` in place of such a value while still
//! showing that it changed.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Plan};
use crate::model::Kind;

/// The sensitive fields of resources: (kind, key) → (JSON pointer into the spec, the text
/// as written, placeholders unexpanded: `${env:ACME_PHONE}`), sorted by pointer.
pub type SensitiveFields = BTreeMap<(Kind, String), Vec<(String, String)>>;

/// The text shown in place of a sensitive value.
pub const MASK: &str = "(sensitive)";

/// Which fields of the plan's changed resources are sensitive, as JSON pointers into their
/// specs: on the live side (recorded by the platform) and on the desired side (the
/// configuration). Only the resources the plan changes are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sensitivity {
    pub live: BTreeMap<(Kind, String), BTreeSet<String>>,
    pub desired: BTreeMap<(Kind, String), BTreeSet<String>>,
}

impl Sensitivity {
    /// The sensitivity of `changes`, from the configuration's and the platform's fields.
    pub fn of_changes(
        changes: &[Change],
        desired: &SensitiveFields,
        live: &SensitiveFields,
    ) -> Sensitivity {
        let mut out = Sensitivity::default();
        if desired.is_empty() && live.is_empty() {
            return out;
        }
        let pointers = |list: &Vec<(String, String)>| -> BTreeSet<String> {
            list.iter().map(|(p, _)| p.clone()).collect()
        };
        for c in changes {
            let here = (c.kind, c.key.clone());
            let old = (
                c.kind,
                c.previous_key.clone().unwrap_or_else(|| c.key.clone()),
            );
            if let Some(list) = desired.get(&here) {
                out.desired.insert(here, pointers(list));
            }
            if let Some(list) = live.get(&old) {
                out.live.insert(old, pointers(list));
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.desired.is_empty()
    }

    /// The sensitive fields of a change, as dotted paths like the plan's field paths: those
    /// of its live resource and of its desired one (a value sensitive on one side is masked on
    /// both: the other side is the same secret, or its old value).
    pub fn paths_of(&self, c: &Change) -> Vec<String> {
        if self.is_empty() {
            return Vec::new();
        }
        let live_key = c.previous_key.as_deref().unwrap_or(&c.key);
        let live = self.live.get(&(c.kind, live_key.to_string()));
        let desired = self.desired.get(&(c.kind, c.key.clone()));
        live.into_iter()
            .chain(desired)
            .flatten()
            .map(|p| dotted(p))
            .collect()
    }
}

/// The resources of both sides whose list of sensitive fields differs, though their specs
/// may not: the platform is told with a put, so that its audit log and `export` know.
pub(super) fn relisted<'a>(
    desired: &'a SensitiveFields,
    live: &'a SensitiveFields,
) -> Vec<&'a (Kind, String)> {
    let none = Vec::new();
    let mut keys: BTreeSet<&(Kind, String)> = desired.keys().collect();
    keys.extend(live.keys());
    keys.into_iter()
        .filter(|k| desired.get(*k).unwrap_or(&none) != live.get(*k).unwrap_or(&none))
        .collect()
}

/// The pseudo-field of a change that only relists sensitive fields: pointer → source.
pub(super) fn listed(list: Option<&Vec<(String, String)>>) -> serde_json::Value {
    serde_json::Value::Object(
        list.into_iter()
            .flatten()
            .map(|(p, s)| (p.clone(), serde_json::Value::String(s.clone())))
            .collect(),
    )
}

/// Gives every put of `changes` the sensitive fields of its resource in the configuration
/// (possibly none: an empty list tells the platform a field is no longer sensitive).
pub(super) fn fill_writes(changes: &mut [Change], desired: &SensitiveFields) {
    for w in changes.iter_mut().flat_map(|c| c.writes.iter_mut()) {
        if w.verb != super::Verb::Put {
            continue;
        }
        if let Some(list) = desired.get(&(w.kind, w.key.clone())) {
            w.sensitive = list
                .iter()
                .map(|(pointer, source)| super::SensitiveField {
                    pointer: pointer.clone(),
                    source: source.clone(),
                })
                .collect();
        }
    }
}

/// `/defaults/prompts/fr` as `defaults.prompts.fr` (RFC 6901 escapes undone).
pub fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether the field at dotted `path` holds a sensitive value: it is one, or lies inside one,
/// or contains one (a list with a sensitive item is masked whole).
pub fn covers(sensitive: &[String], path: &str) -> bool {
    sensitive.iter().any(|s| {
        s == path
            || s.strip_prefix(path).is_some_and(|r| r.starts_with('.'))
            || path
                .strip_prefix(s.as_str())
                .is_some_and(|r| r.starts_with('.'))
    })
}

impl Plan {
    /// Whether any change of the plan shows a sensitive field.
    pub fn has_sensitive(&self) -> bool {
        !self.sensitive.is_empty()
    }

    /// The values of the sensitive fields of the plan's changes, before and after: what no
    /// output may print (a backstop behind the masking, for a saved plan as much as a new one).
    pub fn sensitive_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.sensitive.is_empty() {
            return out;
        }
        for c in &self.changes {
            let live_key = c.previous_key.as_deref().unwrap_or(&c.key);
            let sides = [
                (
                    self.sensitive.live.get(&(c.kind, live_key.to_string())),
                    c.before.as_ref(),
                ),
                (
                    self.sensitive.desired.get(&(c.kind, c.key.clone())),
                    c.after.as_deref(),
                ),
            ];
            for (pointers, spec) in sides {
                let (Some(pointers), Some(spec)) = (pointers, spec) else {
                    continue;
                };
                out.extend(
                    (pointers.iter())
                        .filter_map(|p| spec.pointer(p))
                        .filter_map(|v| v.as_str())
                        .map(str::to_string),
                );
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_cover_fields_inside_and_around_them() {
        let s = vec![dotted("/contact/phone"), dotted("/permissions/2")];
        assert_eq!(s, ["contact.phone", "permissions.2"]);
        assert!(covers(&s, "contact.phone"));
        assert!(covers(&s, "contact"), "an object holding a secret");
        assert!(covers(&s, "permissions"), "a list with a secret item");
        assert!(!covers(&s, "contact.email"));
        assert!(!covers(&s, "contact.phone2"));
        assert_eq!(
            dotted("/defaults/prompts/a~1b~0c"),
            "defaults.prompts.a/b~c"
        );
    }
}
