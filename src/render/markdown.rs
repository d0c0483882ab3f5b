//! The markdown plan, for a pull-request comment: the summary and a table per kind first,
//! risks and warnings, then the details in one `<details>` block per kind. Kept under
//! [`MARKDOWN_LIMIT`] characters (GitHub refuses comments over 65,536), with a note of what
//! was cut.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{leaves, moved_summary, show, summary_line, title};
use crate::model::Kind;
use crate::plan::{Action, Change, Plan};

/// The largest comment this renderer writes, in characters.
pub const MARKDOWN_LIMIT: usize = 60_000;

fn change_text(c: &Change) -> String {
    let mut out = String::new();
    let sym = match c.action {
        Action::Create => "+",
        Action::Update => "!",
        Action::Replace => "-/+",
        Action::Delete => "-",
    };
    let _ = writeln!(out, "{sym} {}", title(c));
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "#   {}", r.describe());
    }
    match c.action {
        Action::Create => {
            for (path, v) in c.after.as_ref().map(leaves).unwrap_or_default() {
                let _ = writeln!(out, "+     {path}: {}", show(Some(&v)));
            }
        }
        Action::Update | Action::Replace => {
            for f in &c.fields {
                match (&f.before, &f.after) {
                    (None, a) => {
                        let _ = writeln!(out, "+     {}: {}", f.path, show(a.as_ref()));
                    }
                    (b, None) => {
                        let _ = writeln!(out, "-     {}: {}", f.path, show(b.as_ref()));
                    }
                    (b, a) => {
                        let _ = writeln!(
                            out,
                            "!     {}: {} → {}",
                            f.path,
                            show(b.as_ref()),
                            show(a.as_ref())
                        );
                    }
                }
            }
            if !c.moved.is_empty() {
                let _ = writeln!(
                    out,
                    "#     moves with it, unchanged: {}",
                    moved_summary(&c.moved)
                );
            }
        }
        Action::Delete => {}
    }
    out
}

/// `60000` as `60,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Escapes text for a markdown table cell or paragraph.
fn esc(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The markdown plan, at most [`MARKDOWN_LIMIT`] characters.
pub fn markdown(plan: &Plan) -> String {
    render(plan, MARKDOWN_LIMIT)
}

pub(crate) fn render(plan: &Plan, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "### tenantctl plan\n");
    let _ = writeln!(
        head,
        "**{}** (live revision {})\n",
        summary_line(plan),
        plan.revision
    );
    let mut by_kind: BTreeMap<Kind, Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        by_kind.entry(c.kind).or_default().push(c);
    }
    if !by_kind.is_empty() {
        let _ = writeln!(
            head,
            "| kind | create | update | replace | delete |\n|---|---:|---:|---:|---:|"
        );
        for (kind, cs) in &by_kind {
            let n = |a: Action| cs.iter().filter(|c| c.action == a).count();
            let _ = writeln!(
                head,
                "| {kind} | {} | {} | {} | {} |",
                n(Action::Create),
                n(Action::Update),
                n(Action::Replace),
                n(Action::Delete)
            );
        }
        head.push('\n');
    }
    if !plan.risks.is_empty() {
        let _ = writeln!(head, "> [!CAUTION]\n> **Risks**");
        for r in &plan.risks {
            let _ = writeln!(
                head,
                "> - `{}` {} {}: {}",
                r.code,
                r.kind,
                esc(&r.key),
                esc(&r.message)
            );
        }
        head.push('\n');
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(head, "> [!WARNING]\n> **Warnings**");
        for w in &plan.warnings {
            let _ = writeln!(
                head,
                "> - `{}` {} {}: {}",
                w.code,
                w.kind,
                esc(&w.key),
                esc(&w.message)
            );
        }
        head.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        let parts: Vec<String> = plan
            .unmanaged
            .iter()
            .map(|(k, n)| format!("{n} {}", if *n == 1 { k.as_str() } else { k.plural() }))
            .collect();
        let _ = writeln!(
            head,
            "Unmanaged, left alone: {} (never managed by tenantctl; `--prune` deletes them).\n",
            parts.join(", ")
        );
    }
    if let Some((title, lines)) = super::out_of_scope_lines(plan) {
        let _ = writeln!(head, "{}", esc(&title));
        for l in lines {
            let _ = writeln!(head, "- {}", esc(&l));
        }
        head.push('\n');
    }

    // Room for the note of what was cut.
    let reserve = 400;
    let mut body = String::new();
    let mut shown = 0usize;
    let mut cut: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut len = head.chars().count();
    for (kind, cs) in &by_kind {
        let open = format!(
            "<details><summary>{kind}: {} change{}</summary>\n\n````diff\n",
            cs.len(),
            if cs.len() == 1 { "" } else { "s" }
        );
        let close = "````\n\n</details>\n\n";
        let frame = open.chars().count() + close.chars().count();
        if len + frame + reserve > limit {
            *cut.entry(*kind).or_default() += cs.len();
            continue;
        }
        let mut block = String::new();
        let mut block_len = 0usize;
        for (i, c) in cs.iter().enumerate() {
            let t = change_text(c);
            let tl = t.chars().count();
            if len + frame + block_len + tl + reserve > limit {
                *cut.entry(*kind).or_default() += cs.len() - i;
                break;
            }
            block.push_str(&t);
            block_len += tl;
            shown += 1;
        }
        if block.is_empty() {
            continue;
        }
        body.push_str(&open);
        body.push_str(&block);
        body.push_str(close);
        len += frame + block_len;
    }
    let mut out = head;
    out.push_str(&body);
    if !cut.is_empty() {
        let total: usize = cut.values().sum();
        let parts: Vec<String> = cut
            .iter()
            .map(|(k, n)| format!("{n} {}", if *n == 1 { k.as_str() } else { k.plural() }))
            .collect();
        let _ = writeln!(
            out,
            "> [!NOTE]\n> {total} of {} changes are not shown ({}) to keep this comment under {} characters; the full plan is in the job log (`tenantctl plan`).",
            shown + total,
            parts.join(", "),
            thousands(limit)
        );
    }
    out
}
