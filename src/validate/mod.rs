//! Schema and rule checks of the desired state → diagnostics placed at their YAML line and
//! column. No I/O beyond reading the files.
//!
//! The pipeline: [`crate::config::load`] reads and parses each file; each document is checked
//! against the JSON Schema ([`schema`]) and typed entry by entry, without the nodes that have
//! problems (an entry that does not type stays as a placeholder the rules say nothing
//! about); the files are merged; when every file could be read and parsed, the platform's
//! rules run on the merged state, so schema and rule problems are reported together. Each
//! problem carries a JSON pointer, resolved to a span by one walk per file that has
//! diagnostics.

#[cfg(test)]
mod direct_tests;
mod render;
mod schema;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

pub use render::{render, summary, Format};

use crate::config::load::{self, Loaded};
use crate::config::merge::{self, Merged, Owners, Section, Typed};
use crate::config::yaml::span::{self, SourceFile};
use crate::config::Desired;
use crate::diagnostic::{FileId, Place, Problem, Redactor, Severity, Target};
use crate::model::keys::{self, Grantee};
use crate::model::{Kind, RoleSpec};
use crate::rules::{self, Violation};

/// One problem found in the desired state.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// `tenantctl::unknown_plan`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub file: Option<PathBuf>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub help: Option<String>,
    /// Byte range underlined in the file.
    #[serde(skip)]
    pub span: Option<Range<usize>>,
    /// Text under the underline.
    #[serde(skip)]
    pub label: Option<String>,
    /// Another place that explains this one (the first declaration of a duplicate).
    #[serde(skip)]
    pub related: Option<Box<Diagnostic>>,
    /// The file's text, for excerpts.
    #[serde(skip)]
    pub source: Option<Arc<SourceFile>>,
}

/// The outcome of loading and checking paths.
#[derive(Debug, Default)]
pub struct Checked {
    /// The desired state, when there is no error.
    pub desired: Option<Desired>,
    pub diagnostics: Vec<Diagnostic>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// The values of the `${env:…}` variables the configuration used: kept out of output.
    pub secrets: Vec<String>,
}

impl Diagnostic {
    /// Masks secret values in the texts of this diagnostic (a schema message quotes the
    /// value it refuses). The source excerpt shows the file, which holds `${env:…}`.
    fn redact(&mut self, r: &Redactor) {
        self.message = r.redact(&self.message).into_owned();
        self.help = self.help.as_deref().map(|h| r.redact(h).into_owned());
        self.label = self.label.as_deref().map(|l| r.redact(l).into_owned());
        if let Some(rel) = &mut self.related {
            rel.redact(r);
        }
    }
}

impl Checked {
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// Loads YAML files and directories, merges them and checks schema and rules. Never panics.
pub fn check_paths(paths: &[PathBuf]) -> Checked {
    check_loaded(load::load_paths_with(paths, DIRECT, &schema_and_type))
}

/// Checks one text as if it were the file `name` (tests, fuzzing).
pub fn check_str(name: &str, text: &str) -> Checked {
    check_loaded(load::load_str_with(name, text, DIRECT, &schema_and_type))
}

/// A file valid as written is typed straight from its YAML ([`crate::config::direct`]); the
/// others are parsed, checked and typed by [`schema_and_type`].
const DIRECT: load::Direct<'static, Typed> = Some(&crate::config::direct::typed);

/// Checks a parsed file against the schema and types its declarations; run on the thread
/// that parsed the file. A file with problems at some of its nodes (the schema's, a missing
/// `${env:…}`) is typed without those nodes, so that the rules still run on the rest; a
/// file whose shape is wrong above its entries (`users: 5`, a misspelt section) is not
/// typed, and then no rule runs.
fn schema_and_type(
    id: FileId,
    value: serde_json::Value,
    problems: &mut Vec<Problem>,
) -> Option<Typed> {
    let valid = schema::check(id, &value, problems);
    // The key format errors (the schema's `propertyNames`) leave the entry whole.
    let bad: Vec<String> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error && !is_key_format(p.code))
        .filter_map(|p| match &p.place {
            Place::Pointer(f, ptr, _) if *f == id => Some(ptr.clone()),
            _ => None,
        })
        .collect();
    if valid && bad.is_empty() {
        return Some(merge::typed(value));
    }
    if bad.iter().any(|ptr| ptr.matches('/').count() < 2) {
        return None;
    }
    Some(merge::typed_leniently(value, &bad))
}

/// The codes of rule 5 that the schema reports too (`propertyNames`, `pattern`).
fn is_key_format(code: &str) -> bool {
    matches!(code, "invalid_key" | "invalid_email")
}

/// Whether a rule violation is about a placeholder entry (one whose declaration has
/// problems reported already) or something that hangs from one: the rules know nothing of
/// it, so what they say of it is noise.
fn about_untyped(untyped: &HashSet<(Section, String)>, kind: Kind, key: &str) -> bool {
    if untyped.is_empty() {
        return false;
    }
    let is = |section: Section, key: &str| untyped.contains(&(section, key.to_string()));
    match kind {
        Kind::Plan => is(Section::Plans, key),
        Kind::Model => is(Section::Models, key),
        Kind::Role => is(Section::Roles, key),
        Kind::Tenant => is(Section::Tenants, key),
        Kind::User => is(Section::Users, key),
        Kind::Workspace | Kind::TenantModel => {
            keys::split2(key).is_some_and(|(t, _)| is(Section::Tenants, t))
        }
        Kind::Membership => {
            keys::split2(key).is_some_and(|(u, t)| is(Section::Users, u) || is(Section::Tenants, t))
        }
        Kind::UserModel => {
            keys::split2(key).is_some_and(|(u, m)| is(Section::Users, u) || is(Section::Models, m))
        }
        Kind::Grant => keys::split_grant(key).is_some_and(|(t, _, grantee)| {
            is(Section::Tenants, t)
                || match grantee {
                    Grantee::User(u) => is(Section::Users, &u),
                    Grantee::Role(r) => is(Section::Roles, &r),
                    Grantee::Tenant => false,
                }
        }),
    }
}

fn check_loaded(loaded: Loaded<Typed>) -> Checked {
    let Loaded {
        files,
        values,
        mut problems,
        substitutions,
    } = loaded;
    let mut secrets: Vec<String> = (substitutions.iter())
        .flat_map(|(_, s)| s.secrets.iter().cloned())
        .collect();
    secrets.sort();
    secrets.dedup();
    let docs: Vec<(FileId, Typed)> = values
        .into_iter()
        .enumerate()
        .filter_map(|(id, typed)| typed.map(|t| (id, t)))
        .collect();
    let values_typed = docs.len();
    // The rules run on every entry that typed, unless a file or a path could not be read or
    // parsed: what it declares is unknown, and every reference to it would be reported.
    let every_file_typed = values_typed == files.len()
        && !problems
            .iter()
            .any(|p| p.severity == Severity::Error && !matches!(p.place, Place::Pointer(..)));
    let Merged {
        document,
        owners,
        acknowledge_at,
        problems: merge_problems,
        untyped,
    } = merge::merge_typed(docs);
    let acknowledged: Vec<_> = (document.acknowledge.iter().cloned())
        .zip(acknowledge_at)
        .collect();
    crate::config::acknowledge::check(&acknowledged, &mut problems);
    let typed = !merge_problems.iter().any(|p| p.code == "invalid_value");
    problems.extend(merge_problems);
    let mut desired = None;
    if every_file_typed && typed {
        // Role permissions as written place a violation on its line; roles are few.
        let roles = document.roles.clone();
        let mut d = document.into_desired();
        let mut warnings = Vec::new();
        // Rule 5's key formats are the schema's too: reported once.
        let reported: Vec<(&'static str, Place)> = problems
            .iter()
            .filter(|p| is_key_format(p.code))
            .map(|p| (p.code, p.place.clone()))
            .collect();
        for v in rules::check(&d.state) {
            if about_untyped(&untyped, v.kind, &v.key) {
                continue;
            }
            if v.severity == Severity::Warning {
                warnings.push(v.clone());
            }
            let p = violation(v, &d, &roles, &owners);
            if !reported
                .iter()
                .any(|(c, pl)| *c == p.code && *pl == p.place)
            {
                problems.push(p);
            }
        }
        d.warnings = Some(warnings);
        document_rules(&d, &owners, &mut problems);
        problems.extend(crate::config::sensitive::record(&mut d, substitutions));
        desired = Some(d);
    } else if document.users.len() + document.tenants.len() > 10_000 {
        // Freeing a large document is slow (0.1 s for 100,000 users): not on the caller's path.
        drop_in_background(document);
    }
    let mut diagnostics = place(&files, problems);
    let redact = Redactor::new(secrets.clone());
    for d in &mut diagnostics {
        d.redact(&redact);
    }
    if owners.len() > 10_000 {
        drop_in_background(owners);
    }
    let mut checked = Checked {
        desired: None,
        diagnostics,
        files: files.iter().map(|f| f.path.clone()).collect(),
        secrets,
    };
    if checked.error_count() == 0 {
        checked.desired = desired.map(|mut d: Desired| {
            let listed = |d: &Desired| -> usize {
                d.state
                    .memberships
                    .values()
                    .map(|m| m.spec.workspaces.len())
                    .sum()
            };
            let before = listed(&d);
            d.state.normalize();
            // The warnings stay those of the normalized state unless a membership listed a
            // workspace twice (its count is in `invitation_workspaces`): then recompute them.
            if listed(&d) != before {
                d.warnings = None;
            }
            d
        });
    }
    checked
}

/// Drops a value on a thread of its own (freeing a large state takes a tenth of a second).
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    // Without a thread, the value is dropped with the failed closure, here.
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}

/// Places a rule violation at its resource (the key) or field (the value).
fn violation(
    v: Violation,
    d: &Desired,
    roles: &BTreeMap<String, RoleSpec>,
    owners: &Owners,
) -> Problem {
    let place = match d.origin(v.kind, &v.key) {
        Some(origin) => {
            let (ptr, target) = match &v.field {
                Some(f) => (
                    format!("{origin}/{}", field_in_yaml(&v, f, d, roles)),
                    Target::Value,
                ),
                None => (origin, Target::Key),
            };
            owners
                .file_of(&ptr)
                .map_or(Place::Nowhere, |f| Place::Pointer(f, ptr, target))
        }
        None => Place::Nowhere,
    };
    let label = rule_label(v.code).map(str::to_string);
    Problem {
        code: v.code,
        severity: v.severity,
        message: v.message,
        help: v.help,
        place,
        label,
        related: None,
    }
}

/// The text under the underline of a rule violation.
fn rule_label(code: &str) -> Option<&'static str> {
    Some(match code {
        "unknown_plan" | "unknown_model" | "unknown_role" | "unknown_tenant"
        | "unknown_workspace" => "not declared",
        "unknown_user" => "not a member",
        "unknown_permission" => "not in the catalog",
        "no_org_admin" => "no `org_admin` member",
        "single_org_admin" => "one `org_admin` member",
        "limit_exceeded" => "limit exceeded",
        "workspaces_ignored" => "ignored",
        "invalid_email" => "not an e-mail address",
        "invalid_key" => "invalid key",
        "reserved_role" => "built-in role",
        "invitation_workspaces" => "more than 10 workspaces",
        "empty_grant" => "no action",
        _ => return None,
    })
}

/// The field path of a violation in the YAML as written. Role permissions are sorted and
/// deduplicated in the state, so their index is looked up by value.
fn field_in_yaml(
    v: &Violation,
    field: &str,
    d: &Desired,
    roles: &BTreeMap<String, RoleSpec>,
) -> String {
    if v.kind == Kind::Role {
        if let Some(i) = field
            .strip_prefix("permissions/")
            .and_then(|i| i.parse::<usize>().ok())
        {
            let name = d
                .state
                .roles
                .get(&v.key)
                .and_then(|r| r.spec.permissions.get(i));
            let written = roles
                .get(&v.key)
                .and_then(|r| name.and_then(|n| r.permissions.iter().position(|p| p == n)));
            if let Some(j) = written {
                return format!("permissions/{j}");
            }
        }
    }
    field.to_string()
}

/// Rules that need the document as written: repeated grants, `previously:` hints (rule 7).
fn document_rules(d: &Desired, owners: &Owners, out: &mut Vec<Problem>) {
    let at = |ptr: &str, target: Target| {
        owners.file_of(ptr).map_or(Place::Nowhere, |f| {
            Place::Pointer(f, ptr.to_string(), target)
        })
    };
    for (first, second) in &d.duplicate_grants {
        out.push(
            Problem::error(
                "duplicate_grant",
                at(second, Target::Value),
                "this grant repeats the workspace and grantee of an earlier grant",
            )
            .label("same workspace and grantee")
            .related(at(first, Target::Value), "first granted here")
            .help("merge the actions into one grant"),
        );
    }
    for r in &d.renames {
        let Some(origin) = d.origin(r.kind, &r.to) else {
            continue;
        };
        let ptr = format!("{origin}/previously");
        if r.from == r.to {
            out.push(
                Problem::warning(
                    "previously_self",
                    at(&ptr, Target::Value),
                    format!("`previously:` names the {} itself", r.kind),
                )
                .label(format!("the {} itself", r.kind))
                .help("remove `previously:` once the rename is applied"),
            );
        } else if d.state.contains(r.kind, &r.from) {
            let other = d
                .origin(r.kind, &r.from)
                .map_or(Place::Nowhere, |o| at(&o, Target::Key));
            out.push(
                Problem::error(
                    "rename_conflict",
                    at(&ptr, Target::Value),
                    format!(
                        "`{}` is still declared, so it cannot be the previous key of `{}`",
                        r.from, r.to
                    ),
                )
                .label("still declared")
                .related(other, "declared here")
                .help("remove the old declaration, or drop `previously:`"),
            );
        } else if r.kind == Kind::User {
            out.push(
                Problem::warning("email_change", at(&ptr, Target::Value), format!("user `{}` replaces `{}`: an e-mail is never renamed", r.to, r.from))
                    .label("replaced user")
                    .help(format!("the plan deletes `{}` and creates `{}`; memberships and model grants are recreated for the new user", r.from, r.to)),
            );
        }
    }
}

/// Resolves every problem's place to a file, span, line and column; sorts by file and line.
fn place(files: &[Arc<SourceFile>], problems: Vec<Problem>) -> Vec<Diagnostic> {
    let mut wanted: HashMap<FileId, HashSet<String>> = HashMap::new();
    for p in &problems {
        for place in std::iter::once(&p.place).chain(p.related.as_ref().map(|(pl, _)| pl)) {
            if let Place::Pointer(f, ptr, _) = place {
                let set = wanted.entry(*f).or_default();
                let mut cur = ptr.as_str();
                loop {
                    if !set.insert(cur.to_string()) {
                        break;
                    }
                    match cur.rfind('/') {
                        Some(i) => cur = &cur[..i],
                        None => break,
                    }
                }
            }
        }
    }
    let indexes: HashMap<FileId, span::Index> = wanted
        .into_iter()
        .filter_map(|(f, set)| files.get(f).map(|file| (f, span::index(&file.text, &set))))
        .collect();
    let locate = |place: &Place| -> (
        Option<Arc<SourceFile>>,
        Option<PathBuf>,
        Option<Range<usize>>,
    ) {
        match place {
            Place::Nowhere => (None, None, None),
            Place::Path(p) => (None, Some(p.clone()), None),
            Place::Bytes(f, r) => match files.get(*f) {
                Some(file) => (Some(file.clone()), Some(file.path.clone()), Some(r.clone())),
                None => (None, None, None),
            },
            Place::Pointer(f, ptr, target) => {
                let Some(file) = files.get(*f) else {
                    return (None, None, None);
                };
                let spans = indexes.get(f).map(|i| &i.spans);
                let mut cur = ptr.as_str();
                let mut found = None;
                let mut exact = true;
                while let Some(spans) = spans {
                    if let Some(s) = spans.get(cur) {
                        found = Some(s);
                        break;
                    }
                    exact = false;
                    match cur.rfind('/') {
                        Some(i) => cur = &cur[..i],
                        None => break,
                    }
                }
                let range = found.map(|s| {
                    let r = match (target, &s.key) {
                        (Target::Key, Some(k)) => k.clone(),
                        // A missing node falls back to its parent's key: the mapping it belongs in.
                        (Target::Value, Some(k)) if !exact => k.clone(),
                        _ => s.value.clone(),
                    };
                    file.first_line_of(r)
                });
                (
                    Some(file.clone()),
                    Some(file.path.clone()),
                    range.or(Some(0..0)),
                )
            }
        }
    };
    let make = |p_code: &str,
                severity: Severity,
                message: String,
                help: Option<String>,
                label: Option<String>,
                place: &Place| {
        let (source, file, range) = locate(place);
        let (line, column) = match (&source, &range) {
            (Some(s), Some(r)) => {
                let (l, c) = s.line_col(r.start);
                (Some(l), Some(c))
            }
            _ => (None, None),
        };
        (
            place_order(place),
            Diagnostic {
                code: format!("tenantctl::{p_code}"),
                severity,
                message,
                file,
                line,
                column,
                help,
                span: range,
                label,
                related: None,
                source,
            },
        )
    };
    let mut out: Vec<((usize, usize), Diagnostic)> = problems
        .into_iter()
        .map(|p| {
            let (order, mut d) = make(p.code, p.severity, p.message, p.help, p.label, &p.place);
            if let Some((rp, label)) = &p.related {
                let (_, mut r) = make(
                    p.code,
                    Severity::Warning,
                    label.clone(),
                    None,
                    Some(label.clone()),
                    rp,
                );
                if r.file.is_some() {
                    r.code = d.code.clone();
                    d.related = Some(Box::new(r));
                }
            }
            let offset = d.span.as_ref().map_or(0, |s| s.start);
            ((order.0, offset), d)
        })
        .collect();
    out.sort_by_key(|(order, _)| *order);
    out.into_iter().map(|(_, d)| d).collect()
}

fn place_order(place: &Place) -> (usize, usize) {
    match place {
        Place::Nowhere | Place::Path(_) => (0, 0),
        Place::Bytes(f, _) | Place::Pointer(f, _, _) => (f + 1, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(String, Option<usize>, Option<usize>)> {
        check_str("t.yaml", text)
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.line, d.column))
            .collect()
    }

    #[test]
    fn unknown_plan_is_placed_at_the_value() {
        let text = "plans:\n  essential: {}\ntenants:\n  acme:\n    plan: essentail\nusers:\n  a@acme.io:\n    memberships:\n      acme: { role: org_admin }\n  b@acme.io:\n    memberships:\n      acme: { role: org_admin }\n";
        assert_eq!(
            codes(text),
            [("tenantctl::unknown_plan".to_string(), Some(5), Some(11))]
        );
    }

    #[test]
    fn unknown_field_is_placed_at_the_key() {
        let text = "plans:\n  essential:\n    dispaly_name: X\n";
        let c = check_str("t.yaml", text);
        assert_eq!(c.diagnostics.len(), 1, "{:?}", c.diagnostics);
        let d = &c.diagnostics[0];
        assert_eq!(
            (d.code.as_str(), d.line, d.column),
            ("tenantctl::unknown_field", Some(3), Some(5))
        );
        assert_eq!(d.help.as_deref(), Some("did you mean `display_name`?"));
    }

    #[test]
    fn crlf_and_bom_keep_lines_and_columns() {
        let text =
            "\u{feff}plans:\r\n  essential: {}\r\ntenants:\r\n  acme:\r\n    plan: essentail\r\n";
        let c = check_str("t.yaml", text);
        let d: Vec<_> = c
            .diagnostics
            .iter()
            .map(|d| (d.code.as_str(), d.line, d.column))
            .collect();
        assert_eq!(
            d,
            [
                ("tenantctl::no_org_admin", Some(4), Some(3)),
                ("tenantctl::unknown_plan", Some(5), Some(11))
            ]
        );
    }

    /// Garbage never panics, and never passes in silence: each input is reported with its
    /// error (or, for the one valid input, checked clean).
    #[test]
    fn garbage_never_panics() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("empty_file")),
            ("\t", Some("empty_file")),
            ("a: [", Some("invalid_yaml")),
            ("- 1\n- 2", Some("wrong_type")),
            ("{{{{", Some("invalid_yaml")),
            ("a: &x [*x]", Some("invalid_yaml")),
            ("? [a]\n: b", Some("invalid_yaml")),
            ("users: 5", Some("wrong_type")),
            ("~", Some("empty_file")),
            ("---\n---\n", Some("multiple_documents")),
            // A byte-order mark is not garbage: the file is valid.
            ("\u{feff}plans: {}", None),
        ];
        let mut failures = Vec::new();
        for (text, want) in cases {
            let c = check_str("t.yaml", text);
            let got: Vec<(&str, Severity)> = c
                .diagnostics
                .iter()
                .map(|d| (d.code.as_str(), d.severity))
                .collect();
            let ok = match want {
                Some(code) => {
                    got == [(format!("tenantctl::{code}").as_str(), Severity::Error)]
                        && c.desired.is_none()
                }
                None => got.is_empty() && c.desired.is_some(),
            };
            if !ok {
                failures.push(format!("{text:?}: expected {want:?}, reported {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
