//! Merging the files of a configuration into one [`Document`], section by section and key
//! by key, and remembering which file declared each resource ([`Owners`]) so that a problem
//! found in the merged document is placed back in its file.

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use serde_json::Value;

use super::yaml::span::{escape, unescape};
use super::Document;
use crate::diagnostic::{FileId, Place, Problem, Target};

/// A top-level section of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Plans,
    Models,
    Roles,
    Tenants,
    Users,
}

impl Section {
    pub fn parse(s: &str) -> Option<Section> {
        Some(match s {
            "plans" => Section::Plans,
            "models" => Section::Models,
            "roles" => Section::Roles,
            "tenants" => Section::Tenants,
            "users" => Section::Users,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Section::Plans => "plans",
            Section::Models => "models",
            Section::Roles => "roles",
            Section::Tenants => "tenants",
            Section::Users => "users",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Section::Plans => "plan",
            Section::Models => "model",
            Section::Roles => "role",
            Section::Tenants => "tenant",
            Section::Users => "user",
        }
    }
}

/// Which file declared each resource: (section, normalised key) → (file, key as written
/// when it is not the normalised key). Hashed with Fx: the keys are the configuration's own,
/// and SipHash was a third of merging a large configuration.
#[derive(Debug, Default)]
pub struct Owners(FxHashMap<(Section, String), (FileId, Option<String>)>);

/// The identity a key is compared by: e-mails in lower case, other keys as written (an
/// upper-case key is reported as invalid by the rules).
pub fn normalise(section: Section, key: &str) -> String {
    match section {
        Section::Users => key.to_lowercase(),
        _ => key.to_string(),
    }
}

impl Owners {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The file that declares the node at `pointer` of the merged document
    /// (`/users/alice@acme.example/memberships/acme`).
    pub fn file_of(&self, pointer: &str) -> Option<FileId> {
        let mut parts = pointer.split('/').skip(1);
        let section = Section::parse(parts.next()?)?;
        let key = unescape(parts.next()?);
        self.0
            .get(&(section, normalise(section, &key)))
            .map(|(f, _)| *f)
    }
}

/// The merged document and where each part came from.
#[derive(Debug, Default)]
pub struct Merged {
    pub document: Document,
    pub owners: Owners,
    /// Where each entry of `document.acknowledge` was written: (file, index in its list).
    pub acknowledge_at: Vec<(FileId, usize)>,
    pub problems: Vec<Problem>,
    /// Entries declared with problems that made them placeholders ([`typed_leniently`]):
    /// (section, normalised key).
    pub untyped: HashSet<(Section, String)>,
}

/// One declaration of a file, typed.
#[derive(Debug)]
pub enum Decl {
    Plan(crate::model::PlanSpec),
    Model(crate::model::ModelSpec),
    Role(crate::model::RoleSpec),
    Tenant(super::TenantDecl),
    User(super::UserDecl),
}

/// A file's declarations in the order written: section, key as written, and the typed
/// value or why it could not be typed; and its `acknowledge:` entries.
#[derive(Debug, Default)]
pub struct Typed {
    entries: Vec<(Section, String, Result<Decl, String>)>,
    /// Entries kept as placeholders by [`typed_leniently`].
    untyped: Vec<(Section, String)>,
    /// The `acknowledge:` entries: (index in the file's list, typed entry).
    acknowledge: Vec<(usize, Result<super::AcknowledgeDecl, String>)>,
}

impl Typed {
    /// A file's declarations typed by [`super::direct`]: every entry typed, none left as a
    /// placeholder, no `acknowledge:` section.
    pub fn from_entries(entries: Vec<(Section, String, Result<Decl, String>)>) -> Typed {
        Typed {
            entries,
            ..Typed::default()
        }
    }
}

fn type_entry(section: Section, body: Value) -> Result<Decl, serde_json::Error> {
    match section {
        Section::Plans => serde_json::from_value(body).map(Decl::Plan),
        Section::Models => serde_json::from_value(body).map(Decl::Model),
        Section::Roles => serde_json::from_value(body).map(Decl::Role),
        Section::Tenants => serde_json::from_value(body).map(Decl::Tenant),
        Section::Users => serde_json::from_value(body).map(Decl::User),
    }
}

/// The declaration an entry that does not type stands for: the section's default, so that
/// references to its key resolve.
fn placeholder(section: Section) -> Decl {
    match section {
        Section::Plans => Decl::Plan(Default::default()),
        Section::Models => Decl::Model(Default::default()),
        Section::Roles => Decl::Role(Default::default()),
        Section::Tenants => Decl::Tenant(Default::default()),
        Section::Users => Decl::User(Default::default()),
    }
}

/// The entries of a file's document: (section, key, body), moved out of it.
fn entries(value: Value) -> impl Iterator<Item = (Section, String, Value)> {
    let sections = match value {
        Value::Object(sections) => sections,
        _ => serde_json::Map::new(),
    };
    sections.into_iter().flat_map(|(name, body)| {
        let section = Section::parse(&name);
        let entries = match (section, body) {
            (Some(_), Value::Object(entries)) => entries,
            _ => serde_json::Map::new(),
        };
        entries
            .into_iter()
            .filter_map(move |(raw, body)| section.map(|s| (s, raw, body)))
    })
}

/// How many entries the sections of a file's document hold.
fn entry_count(value: &Value) -> usize {
    value.as_object().map_or(0, |sections| {
        (sections.values())
            .map(|s| s.as_object().map_or(0, serde_json::Map::len))
            .sum()
    })
}

/// Types a file's document, entry by entry (moving the values out of it).
pub fn typed(value: Value) -> Typed {
    let mut out = Typed::default();
    let mut value = value;
    if let Some(list) = value.as_object_mut().and_then(|o| o.remove("acknowledge")) {
        out.acknowledge = super::acknowledge::typed(list)
            .into_iter()
            .enumerate()
            .collect();
    }
    out.entries.reserve(entry_count(&value));
    for (section, raw, body) in entries(value) {
        let decl = type_entry(section, body).map_err(|e| e.to_string());
        out.entries.push((section, raw, decl));
    }
    out
}

/// Types a file whose document has problems at the JSON pointers `bad` (reported already),
/// so that the rules still run on everything else: each bad node is removed first (a list
/// with a bad item goes whole: its indexes place diagnostics), then each entry is typed. An
/// entry that still does not type, or is bad as a whole, becomes a placeholder (its
/// section's default, so that references to its key resolve), listed in `untyped` for the
/// rules to say nothing about. Pointers above the entries are the caller's to refuse.
pub fn typed_leniently(mut value: Value, bad: &[String]) -> Typed {
    let mut whole: Vec<(Section, String)> = Vec::new();
    for ptr in bad {
        let segs: Vec<String> = ptr
            .split('/')
            .skip(1)
            .map(|s| unescape(s).into_owned())
            .collect();
        let [section, key, rest @ ..] = segs.as_slice() else {
            continue;
        };
        let Some(section) = Section::parse(section) else {
            continue;
        };
        let entry = value
            .get_mut(section.name())
            .and_then(|s| s.get_mut(key.as_str()));
        if rest.is_empty() || !entry.is_some_and(|e| remove_node(e, rest)) {
            whole.push((section, key.clone()));
        }
    }
    let mut out = Typed::default();
    // The acknowledge: entries that type; the others were reported with the file's problems.
    if let Some(list) = value.as_object_mut().and_then(|o| o.remove("acknowledge")) {
        out.acknowledge = (super::acknowledge::typed(list).into_iter().enumerate())
            .filter(|(_, a)| a.is_ok())
            .collect();
    }
    for (section, raw, body) in entries(value) {
        let decl = if whole.iter().any(|(s, k)| *s == section && *k == raw) {
            None
        } else {
            type_entry(section, body).ok()
        };
        let decl = decl.unwrap_or_else(|| {
            out.untyped.push((section, raw.clone()));
            placeholder(section)
        });
        out.entries.push((section, raw, Ok(decl)));
    }
    out
}

/// Removes the node at `path` below `node`: the member of its object, or, below a list, the
/// member holding the list. Whether something was removed.
fn remove_node(node: &mut Value, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Value::Object(map) = node else {
        return false;
    };
    let below_is_list = matches!(map.get(first.as_str()), Some(Value::Array(_)));
    if rest.is_empty() || below_is_list {
        return map.remove(first.as_str()).is_some();
    }
    match map.get_mut(first.as_str()) {
        Some(child) => remove_node(child, rest),
        None => false,
    }
}

/// Merges parsed files, section by section and key by key. A key declared twice (also after
/// normalisation) is an error at the second place, pointing back at the first; the first
/// declaration is kept.
pub fn merge(values: Vec<(FileId, Value)>) -> Merged {
    merge_typed(values.into_iter().map(|(id, v)| (id, typed(v))).collect())
}

/// [`merge`] of files already typed.
pub fn merge_typed(files: Vec<(FileId, Typed)>) -> Merged {
    let mut m = Merged::default();
    m.owners
        .0
        .reserve(files.iter().map(|(_, f)| f.entries.len()).sum());
    // The declarations are large: each section's list is allocated once, not grown.
    let mut counts = [0usize; 5];
    for (_, file) in &files {
        for (section, _, _) in &file.entries {
            counts[*section as usize] += 1;
        }
    }
    let mut kept = Kept {
        plans: Vec::with_capacity(counts[Section::Plans as usize]),
        models: Vec::with_capacity(counts[Section::Models as usize]),
        roles: Vec::with_capacity(counts[Section::Roles as usize]),
        tenants: Vec::with_capacity(counts[Section::Tenants as usize]),
        users: Vec::with_capacity(counts[Section::Users as usize]),
    };
    for (id, file) in files {
        for (section, raw) in file.untyped {
            m.untyped.insert((section, normalise(section, &raw)));
        }
        for (section, raw, decl) in file.entries {
            merge_entry(&mut m, &mut kept, id, section, raw, decl);
        }
        for (i, entry) in file.acknowledge {
            match entry {
                Ok(a) => {
                    m.document.acknowledge.push(a);
                    m.acknowledge_at.push((id, i));
                }
                Err(e) => m.problems.push(Problem::error(
                    "invalid_value",
                    Place::Pointer(id, format!("/acknowledge/{i}"), Target::Value),
                    e,
                )),
            }
        }
    }
    let doc = &mut m.document;
    // Each key is kept once (a second declaration is refused), so building each map at once
    // from its entries is the same as inserting them, without the comparisons down the tree.
    doc.plans = kept.plans.into_iter().collect();
    doc.models = kept.models.into_iter().collect();
    doc.roles = kept.roles.into_iter().collect();
    doc.tenants = kept.tenants.into_iter().collect();
    doc.users = kept.users.into_iter().collect();
    m
}

/// The declarations kept by the merge, by section, in the order read.
struct Kept {
    plans: Vec<(String, crate::model::PlanSpec)>,
    models: Vec<(String, crate::model::ModelSpec)>,
    roles: Vec<(String, crate::model::RoleSpec)>,
    tenants: Vec<(String, super::TenantDecl)>,
    users: Vec<(String, super::UserDecl)>,
}

fn merge_entry(
    m: &mut Merged,
    kept: &mut Kept,
    id: FileId,
    section: Section,
    raw: String,
    decl: Result<Decl, String>,
) {
    let sname = section.name();
    let pointer = || format!("/{sname}/{}", escape(&raw));
    let slot = match m.owners.0.entry((section, normalise(section, &raw))) {
        std::collections::hash_map::Entry::Occupied(first) => {
            let (first_file, written) = first.get();
            let first_raw = written.as_deref().unwrap_or(&first.key().1);
            let at = Place::Pointer(
                *first_file,
                format!("/{sname}/{}", escape(first_raw)),
                Target::Key,
            );
            let noun = section.noun();
            let message = if first_raw == raw {
                format!("{noun} `{raw}` is declared twice")
            } else {
                format!(
                    "{noun} `{raw}` is declared twice: `{first_raw}` is the same e-mail in another case"
                )
            };
            m.problems.push(
                Problem::error(
                    "duplicate_identity",
                    Place::Pointer(id, pointer(), Target::Key),
                    message,
                )
                .label("declared again here")
                .related(at, "first declared here")
                .help(format!(
                    "a {noun} is declared once, in one file; merge the two declarations"
                )),
            );
            return;
        }
        std::collections::hash_map::Entry::Vacant(slot) => slot,
    };
    let norm = &slot.key().1;
    if section == Section::Users && *norm != raw {
        m.problems.push(
            Problem::warning(
                "not_normalised",
                Place::Pointer(id, pointer(), Target::Key),
                format!("`{raw}` is read as `{norm}`"),
            )
            .label("upper-case letters")
            .help("e-mail addresses are compared in lower case; write them so"),
        );
    }
    let written = (*norm != raw).then(|| raw.clone());
    match decl {
        Ok(Decl::Plan(v)) => kept.plans.push((raw, v)),
        Ok(Decl::Model(v)) => kept.models.push((raw, v)),
        Ok(Decl::Role(v)) => kept.roles.push((raw, v)),
        Ok(Decl::Tenant(v)) => kept.tenants.push((raw, v)),
        Ok(Decl::User(v)) => kept.users.push((raw, v)),
        Err(e) => {
            m.problems.push(Problem::error(
                "invalid_value",
                Place::Pointer(id, pointer(), Target::Key),
                e,
            ));
            return;
        }
    }
    slot.insert((id, written));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_reports_case_duplicates_of_users() {
        let a: Value = serde_json::json!({ "users": { "Alice@X.io": {} } });
        let b: Value = serde_json::json!({ "users": { "alice@x.io": {} } });
        let m = merge(vec![(0, a), (1, b)]);
        let codes: Vec<_> = m.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, ["not_normalised", "duplicate_identity"]);
        assert_eq!(
            m.owners.file_of("/users/alice@x.io/memberships/acme"),
            Some(0)
        );
        assert_eq!(m.document.users.len(), 1);
        // The first declaration is kept, and named as written.
        assert!(m.document.users.contains_key("Alice@X.io"));
        assert!(
            m.problems[1]
                .message
                .contains("`Alice@X.io` is the same e-mail"),
            "{}",
            m.problems[1].message
        );
    }

    #[test]
    fn the_first_declaration_is_kept_and_maps_hold_every_key() {
        let a: Value = serde_json::json!({ "plans": { "b": {}, "a": {} }, "tenants": { "t": { "plan": "a" } } });
        let b: Value =
            serde_json::json!({ "plans": { "a": { "display_name": "second" }, "c": {} } });
        let m = merge(vec![(0, a), (1, b)]);
        let codes: Vec<_> = m.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, ["duplicate_identity"]);
        assert_eq!(m.problems[0].message, "plan `a` is declared twice");
        assert_eq!(m.document.plans.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.document.plans["a"].display_name, None);
        assert_eq!(m.owners.file_of("/plans/c"), Some(1));
        assert_eq!(m.document.tenants.len(), 1);
    }
}
