//! Renderers of a [`Plan`]: human (Terraform-like, coloured on a terminal), markdown (a
//! pull-request comment) and JSON (the stable `format_version` 1). They read a plan and never
//! compute one.

mod human;
pub mod json;
mod markdown;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::Kind;
use crate::plan::{Action, Change, Moved, Plan};

pub use human::human;
pub use markdown::{markdown, MARKDOWN_LIMIT};

/// The summary line: `Plan: 3 to create, 2 to update, 0 to replace, 1 to delete.` or
/// `No changes.`
pub fn summary_line(plan: &Plan) -> String {
    if !plan.has_changes() {
        return "No changes.".into();
    }
    let s = plan.summary();
    format!("Plan: {} to create, {} to update, {} to replace, {} to delete.", s.create, s.update, s.replace, s.delete)
}

/// A JSON value as shown in a plan: strings quoted, everything else compact JSON.
pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// The leaves of a spec as (path, value), for creates.
pub(crate) fn leaves(v: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&p, v, out);
                }
            }
            _ if prefix.is_empty() => {}
            _ => out.push((prefix.to_string(), v.clone())),
        }
    }
    walk("", v, &mut out);
    out
}

/// "2 workspaces, 3 memberships" for the resources moved along with a rename.
pub(crate) fn moved_summary(moved: &[Moved]) -> String {
    let mut by: BTreeMap<Kind, usize> = BTreeMap::new();
    for m in moved {
        *by.entry(m.kind).or_default() += 1;
    }
    by.into_iter()
        .map(|(k, n)| format!("{n} {}", if n == 1 { k.as_str() } else { k.plural() }).replace('_', " "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one-line title of a change: `tenant acme-corp (renamed from acme)`.
pub(crate) fn title(c: &Change) -> String {
    let mut s = format!("{} {}", c.kind, c.key);
    match (c.action, &c.previous_key) {
        (Action::Update, Some(p)) => s += &format!(" (renamed from {p})"),
        (Action::Replace, Some(p)) => s += &format!(" (replaces {p})"),
        _ => {}
    }
    s
}

/// Whether a field's values are long text, shown as a word diff.
pub(crate) fn long_text<'a>(before: Option<&'a Value>, after: Option<&'a Value>) -> Option<(&'a str, &'a str)> {
    match (before?, after?) {
        // Prose: long, and made of words (not a key or an e-mail).
        (Value::String(b), Value::String(a)) if (b.chars().count() > 40 || a.chars().count() > 40) && (b.contains(' ') || a.contains(' ')) => Some((b, a)),
        _ => None,
    }
}
