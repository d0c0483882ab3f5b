//! Renderers of a [`Plan`]: human (Terraform-like, coloured on a terminal), markdown (a
//! pull-request comment) and JSON (the stable `format_version` 1). They read a plan and never
//! compute one.

mod human;
pub mod json;
mod markdown;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::Kind;
use crate::plan::{covers, Action, Change, Moved, Plan, MASK};

pub use human::human;
pub use markdown::{comments, markdown, thousands, BULK, COMMENT_LIMIT};

/// How a plan is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Terraform-like blocks, coloured when the caller says so.
    #[default]
    Human,
    /// A pull-request comment: summary table, details per kind.
    Markdown,
    /// The stable JSON plan (`format_version` 1).
    Json,
}

/// A plan in `format`; `color` (decided once by the caller) styles human output only.
pub fn render(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Human => human(plan, color),
        Format::Markdown => markdown(plan),
        Format::Json => json::json(plan),
    }
}

/// The summary line: `Plan: 3 to create, 2 to update, 0 to replace, 1 to delete.` or
/// `No changes.`
pub fn summary_line(plan: &Plan) -> String {
    let line = if plan.has_changes() {
        let s = plan.summary();
        format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            s.create, s.update, s.replace, s.delete
        )
    } else {
        "No changes.".into()
    };
    match partial_note(plan) {
        Some(note) => format!("{line} {note}"),
        None => line,
    }
}

/// What a partial plan (`--target`) says about itself, in every format that has text.
pub fn partial_note(plan: &Plan) -> Option<String> {
    plan.is_partial().then(|| {
        let targets: Vec<String> = plan
            .targets
            .iter()
            .map(|t| format!("--target {t}"))
            .collect();
        format!(
            "Partial plan ({}): the rest of the configuration was not compared.",
            targets.join(" ")
        )
    })
}

/// A JSON value as shown in a plan: strings quoted, everything else compact JSON.
/// The out-of-scope section of a plan made with a tenant-scoped token: a title, then one
/// line per reason ("not visible to this token: 2 tenant model grants, 1 grant"). Empty for
/// other plans.
pub(crate) fn out_of_scope_lines(plan: &Plan) -> Option<(String, Vec<String>)> {
    let o = plan.out_of_scope.as_ref().filter(|o| !o.is_empty())?;
    let list = |m: &std::collections::BTreeMap<crate::model::Kind, usize>| {
        m.iter()
            .map(|(k, n)| crate::plan::scope::count(*k, *n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = Vec::new();
    if !o.not_visible.is_empty() {
        lines.push(format!(
            "not visible to this token: {} (neither created nor deleted)",
            list(&o.not_visible)
        ));
    }
    if !o.read_only.is_empty() {
        lines.push(format!(
            "read-only for this token: {} (not deleted, not adopted)",
            list(&o.read_only)
        ));
    }
    Some((
        format!("Out of scope for this {}, left alone:", o.token),
        lines,
    ))
}

pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// A value of a change as shown: `(sensitive)` in place of the value of a `sensitive`
/// field (a change still shows that it changed), otherwise [`show`].
pub(crate) fn shown(sensitive: &[String], path: &str, v: Option<&Value>) -> String {
    if v.is_some() && covers(sensitive, path) {
        MASK.into()
    } else {
        show(v)
    }
}

/// The leaves of a spec as (path, value), for creates.
pub(crate) fn leaves(v: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    fn walk<'v>(prefix: &str, v: &'v Value, out: &mut Vec<(String, &'v Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ if prefix.is_empty() => {}
            _ => out.push((prefix.to_string(), v)),
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
        .map(|(k, n)| {
            format!("{n} {}", if n == 1 { k.as_str() } else { k.plural() }).replace('_', " ")
        })
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
pub(crate) fn long_text<'a>(
    before: Option<&'a Value>,
    after: Option<&'a Value>,
) -> Option<(&'a str, &'a str)> {
    match (before?, after?) {
        // Prose: long, and made of words (not a key or an e-mail).
        (Value::String(b), Value::String(a))
            if (b.chars().count() > 40 || a.chars().count() > 40)
                && (b.contains(' ') || a.contains(' ')) =>
        {
            Some((b, a))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::{FieldChange, Reason, Risk, Summary};

    fn change(action: Action, key: &str, fields: Vec<FieldChange>) -> Change {
        Change {
            kind: Kind::Tenant,
            key: key.into(),
            action,
            previous_key: None,
            before: Some(json!({ "plan": "essential" })),
            after: Some(json!({ "plan": "essential", "display_name": "Acme" })),
            fields,
            reason: if action == Action::Delete {
                Some(Reason::Removed)
            } else {
                None
            },
            moved: Vec::new(),
            writes: Vec::new(),
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            revision: 4,
            changes,
            risks: Vec::new(),
            warnings: Vec::new(),
            unmanaged: BTreeMap::new(),
            sensitive: Default::default(),
            out_of_scope: None,
            targets: Vec::new(),
        }
    }

    #[test]
    fn summary_lines() {
        assert_eq!(summary_line(&plan(vec![])), "No changes.");
        let p = plan(vec![
            change(Action::Create, "a", vec![]),
            change(Action::Delete, "b", vec![]),
        ]);
        assert_eq!(
            summary_line(&p),
            "Plan: 1 to create, 0 to update, 0 to replace, 1 to delete."
        );
        assert_eq!(
            p.summary(),
            Summary {
                create: 1,
                update: 0,
                replace: 0,
                delete: 1
            }
        );
    }

    #[test]
    fn long_text_is_a_word_diff_plain_and_coloured() {
        let f = FieldChange {
            path: "description".into(),
            before: Some(json!(
                "Agence de voyages niçoise; messagerie client sur WhatsApp"
            )),
            after: Some(json!(
                "Agence de voyages azuréenne; messagerie client sur WhatsApp et web"
            )),
        };
        let p = plan(vec![change(Action::Update, "acme", vec![f])]);
        let plain = human(&p, false);
        assert!(plain.contains("Agence de voyages [-niçoise;-]{+azuréenne;+} messagerie client sur WhatsApp{+ et web+}\n"), "{plain}");
        assert!(!plain.contains('\u{1b}'));
        let colour = human(&p, true);
        assert!(colour.contains("\u{1b}["), "{colour}");
        assert!(
            !colour.contains("[-"),
            "coloured output marks words with colour, not brackets"
        );
    }

    #[test]
    fn short_values_are_before_and_after() {
        let f = FieldChange {
            path: "limits.users".into(),
            before: Some(json!(10)),
            after: Some(json!(3)),
        };
        let out = human(&plan(vec![change(Action::Update, "acme", vec![f])]), false);
        assert!(out.contains("~ limits.users: 10 → 3"), "{out}");
    }

    #[test]
    fn comments_stay_under_the_limit_and_hold_every_change() {
        let mut many: Vec<Change> = (0..5000)
            .map(|i| change(Action::Create, &format!("tenant-{i:05}"), vec![]))
            .collect();
        many.extend((0..300).map(|i| {
            let mut c = change(
                Action::Update,
                &format!("member-{i:03}@acme.example/acme"),
                vec![FieldChange {
                    path: "role".into(),
                    before: Some(json!("member")),
                    after: Some(json!("user_admin")),
                }],
            );
            c.kind = Kind::Membership;
            c
        }));
        let mut p = plan(many);
        for i in 0..3 {
            p.risks.push(Risk {
                code: "limit_below_usage".into(),
                kind: Kind::Tenant,
                key: format!("tenant-{i:05}"),
                message: "lowered".into(),
                acknowledged: None,
            });
        }
        let parts = comments(&p, COMMENT_LIMIT);
        assert!(parts.len() > 1, "{} part(s)", parts.len());
        for (i, part) in parts.iter().enumerate() {
            assert!(
                part.chars().count() <= COMMENT_LIMIT,
                "part {} has {} chars",
                i + 1,
                part.chars().count()
            );
        }
        let first = &parts[0];
        assert!(first.starts_with(&format!(
            "### tenantctl plan (part 1 of {}: summary and risks)\n\n**Plan: 5000 to create, 300 to update",
            parts.len()
        )));
        assert!(first.contains("| tenant | 5,000 | 0 | 0 | 0 |"));
        assert_eq!(first.matches("`limit_below_usage` tenant").count(), 3);
        // Privileged updates come before the bulk creates, condensed to one line.
        let all = parts.concat();
        let privileged = all
            .find("#### Privileged changes")
            .expect("privileged section");
        let bulk = all
            .find("#### Bulk creates and deletes")
            .expect("bulk section");
        assert!(privileged < bulk);
        assert!(all.contains("| + | tenant | 5,000 | new in the configuration |"));
        for c in &p.changes {
            assert!(
                all.contains(&format!("{}\n", c.key)),
                "{} is in no comment",
                c.key
            );
        }
        // Every fence opened in a part is closed in it.
        for part in &parts {
            assert_eq!(part.matches("````").count() % 2, 0, "{part}");
            assert_eq!(
                part.matches("<details>").count(),
                part.matches("</details>").count()
            );
        }
        // The document on stdout is the same content, in one piece.
        let whole = markdown(&p);
        assert!(!whole.contains("(continued)"));
        // A small plan is one comment, in full detail.
        let small = comments(
            &plan(vec![change(Action::Create, "acme", vec![])]),
            COMMENT_LIMIT,
        );
        assert_eq!(small.len(), 1);
        assert!(small[0].starts_with("### tenantctl plan\n\n"));
        assert!(
            small[0].contains("+ tenant acme\n+     plan: \"essential\"\n"),
            "{}",
            small[0]
        );
    }

    #[test]
    fn sensitive_values_are_masked_in_every_format() {
        let f = FieldChange {
            path: "contact.phone".into(),
            before: Some(json!("+33 1 11 11 11 11")),
            after: Some(json!("+33 2 22 22 22 22")),
        };
        let mut p = plan(vec![change(Action::Update, "acme", vec![f])]);
        p.sensitive.desired.insert(
            (Kind::Tenant, "acme".into()),
            ["/contact/phone".to_string()].into(),
        );
        for format in [Format::Human, Format::Markdown, Format::Json] {
            let out = render(&p, format, false);
            assert!(
                !out.contains("11 11") && !out.contains("22 22"),
                "{format:?}: {out}"
            );
            assert!(out.contains("(sensitive)"), "{format:?}: {out}");
        }
        assert!(human(&p, false).contains("~ contact.phone: (sensitive) → (sensitive)"));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let f = FieldChange {
            path: "role".into(),
            before: Some(json!("member")),
            after: Some(json!("org_admin")),
        };
        let mut c = change(Action::Update, "alice@acme.example/acme", vec![f]);
        c.kind = Kind::Membership;
        let v: serde_json::Value = serde_json::from_str(&json::json(&plan(vec![c]))).expect("json");
        assert_eq!(
            v,
            json!({
                "format_version": 1, "revision": 4,
                "changes": [{ "action": "update", "kind": "membership", "key": "alice@acme.example/acme",
                              "fields": [{ "path": "role", "before": "member", "after": "org_admin" }], "reason": null }],
                "risks": [], "warnings": [], "unmanaged": {},
                "summary": { "create": 0, "update": 1, "replace": 0, "delete": 0 }
            })
        );
    }
}
