//! The markdown plan, for pull-request comments. It leads with what a reviewer must see: the
//! summary table, the risks (refused until acknowledged) and the acknowledged ones, warnings;
//! then every update, replace and delete of privileged things (roles, memberships, grants,
//! model access, plans, a tenant's plan, limits or status, a user's system role or status) in
//! full; then the other changes in full. More than [`BULK`] updates of one kind making the
//! same change are one entry there, their keys in a collapsed block ("Repeated updates"); bulk
//! creates and deletes (more than [`BULK`] of one kind and reason) are one line each, their
//! keys in collapsed blocks.
//!
//! [`comments`] splits it into comments of at most [`COMMENT_LIMIT`] characters (GitHub
//! refuses a comment over 65,536) that together hold every change: the first always holds the
//! summary and every risk; a section cut between two comments is reopened "(continued)".

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{leaves, moved_summary, shown, summary_line, title};
use crate::model::Kind;
use crate::plan::{Action, Change, Plan, Reason, Risk};

/// The largest comment [`comments`] writes, in characters.
pub const COMMENT_LIMIT: usize = 65_000;

/// A group of creates or deletes of one kind and reason larger than this is condensed.
pub const BULK: usize = 10;

/// Room kept in each comment for its title.
const TITLE_ROOM: usize = 100;

/// A piece of the document: a block kept whole, or a section whose items may be spread over
/// several comments.
enum Piece {
    Block(String),
    Section {
        /// Opens the section: a heading and a code fence, or a `<details>` with its summary.
        open: String,
        /// Opens it again in the next comment.
        reopen: String,
        items: Vec<String>,
        close: String,
    },
}

/// The whole markdown plan, in one document (`plan --format markdown` on stdout).
pub fn markdown(plan: &Plan) -> String {
    let mut out = format!("### tenantctl plan\n\n{}", head(plan, false));
    for piece in body(plan) {
        match piece {
            Piece::Block(b) => out.push_str(&b),
            Piece::Section {
                open, items, close, ..
            } => {
                out.push_str(&open);
                for i in items {
                    out.push_str(&i);
                }
                out.push_str(&close);
            }
        }
    }
    out
}

/// The markdown plan as pull-request comments, each at most `limit` characters, together
/// holding every change; the first holds the summary and every risk.
pub fn comments(plan: &Plan, limit: usize) -> Vec<String> {
    let budget = limit.saturating_sub(TITLE_ROOM).max(1_000);
    let mut head_text = head(plan, false);
    if chars(&head_text) > budget {
        head_text = head(plan, true);
    }
    let mut parts: Vec<String> = vec![cut(&head_text, budget)];
    let mut len = chars(&parts[0]);
    let new_part = |parts: &mut Vec<String>, len: &mut usize| {
        parts.push(String::new());
        *len = 0;
    };
    for piece in body(plan) {
        match piece {
            Piece::Block(b) => {
                let b = cut(&b, budget);
                let n = chars(&b);
                if len + n > budget {
                    new_part(&mut parts, &mut len);
                }
                push(&mut parts, &b);
                len += n;
            }
            Piece::Section {
                open,
                reopen,
                items,
                close,
            } => {
                let frame = chars(&open).max(chars(&reopen)) + chars(&close);
                let room = budget.saturating_sub(frame).max(100);
                // Never open a section where not even one item fits.
                let first = items.first().map_or(0, |i| chars(i).min(room));
                if len + frame + first > budget {
                    new_part(&mut parts, &mut len);
                }
                push(&mut parts, &open);
                len += chars(&open);
                for item in items.iter().flat_map(|i| split_item(i, room)) {
                    let n = chars(&item);
                    if len + n + chars(&close) > budget {
                        push(&mut parts, &close);
                        new_part(&mut parts, &mut len);
                        push(&mut parts, &reopen);
                        len += chars(&reopen);
                    }
                    push(&mut parts, &item);
                    len += n;
                }
                push(&mut parts, &close);
                len += chars(&close);
            }
        }
    }
    if parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let title = if n == 1 {
                "### tenantctl plan\n\n".to_string()
            } else if i == 0 {
                format!("### tenantctl plan (part 1 of {n}: summary and risks)\n\n")
            } else {
                format!("### tenantctl plan (part {} of {n})\n\n", i + 1)
            };
            format!("{title}{p}")
        })
        .collect()
}

fn push(parts: &mut [String], text: &str) {
    if let Some(last) = parts.last_mut() {
        last.push_str(text);
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to at most `max` characters, with a note when it was cut.
fn cut(s: &str, max: usize) -> String {
    if chars(s) <= max {
        return s.to_string();
    }
    let note = "\n\n… (cut: this block alone is longer than a comment)\n\n";
    let keep: String = s.chars().take(max.saturating_sub(chars(note))).collect();
    keep + note
}

/// An item longer than `room` split at line ends (a single longer line is cut).
fn split_item(item: &str, room: usize) -> Vec<String> {
    if chars(item) <= room {
        return vec![item.to_string()];
    }
    let mut out = vec![String::new()];
    for line in item.split_inclusive('\n') {
        let line = cut(line, room);
        let cur = out.len() - 1;
        if chars(&out[cur]) + chars(&line) > room {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push_str(&line);
        }
    }
    out
}

/// `60000` as `60,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
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

fn noun(kind: Kind, n: usize) -> String {
    (if n == 1 { kind.as_str() } else { kind.plural() }).replace('_', " ")
}

/// The summary, the table of changes by kind, risks, acknowledged risks, warnings and the
/// unmanaged count. `compact` lists the risks by code with their keys only: for a plan whose
/// risks alone would not fit in a comment.
fn head(plan: &Plan, compact: bool) -> String {
    let mut head = String::new();
    let _ = writeln!(
        head,
        "**{}** (live revision {})\n",
        summary_line(plan),
        plan.revision
    );
    let mut by_kind: BTreeMap<Kind, [usize; 4]> = BTreeMap::new();
    for c in &plan.changes {
        let i = match c.action {
            Action::Create => 0,
            Action::Update => 1,
            Action::Replace => 2,
            Action::Delete => 3,
        };
        by_kind.entry(c.kind).or_default()[i] += 1;
    }
    if !by_kind.is_empty() {
        let _ = writeln!(
            head,
            "| kind | create | update | replace | delete |\n|---|---:|---:|---:|---:|"
        );
        for (kind, n) in &by_kind {
            let _ = writeln!(
                head,
                "| {kind} | {} | {} | {} | {} |",
                thousands(n[0]),
                thousands(n[1]),
                thousands(n[2]),
                thousands(n[3])
            );
        }
        head.push('\n');
    }
    let (acknowledged, refused): (Vec<&Risk>, Vec<&Risk>) =
        plan.risks.iter().partition(|r| r.acknowledged.is_some());
    if !refused.is_empty() {
        let _ = writeln!(
            head,
            "> [!CAUTION]\n> **Risks: apply refuses this plan until each is acknowledged**"
        );
        risk_lines(&mut head, &refused, compact, |r| {
            if r.always_refused() {
                String::new()
            } else {
                format!(
                    " — to approve it, add `{}` to `acknowledge:`",
                    crate::plan::entry_for(r)
                )
            }
        });
        head.push('\n');
    }
    if !acknowledged.is_empty() {
        let _ = writeln!(
            head,
            "> [!NOTE]\n> **Acknowledged risks: applied as planned**"
        );
        risk_lines(&mut head, &acknowledged, compact, |r| {
            r.acknowledged
                .as_ref()
                .map(|a| format!(" — {}", esc(&a.describe())))
                .unwrap_or_default()
        });
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
            .map(|(k, n)| format!("{} {}", thousands(*n), noun(*k, *n)))
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
    head
}

fn risk_lines(out: &mut String, risks: &[&Risk], compact: bool, tail: impl Fn(&Risk) -> String) {
    if !compact {
        for r in risks {
            let _ = writeln!(
                out,
                "> - `{}` {} {}: {}{}",
                r.code,
                r.kind,
                esc(&r.key),
                esc(&r.message),
                tail(r)
            );
        }
        return;
    }
    let mut by: BTreeMap<(&str, Kind), Vec<&str>> = BTreeMap::new();
    for r in risks {
        by.entry((&r.code, r.kind)).or_default().push(&r.key);
    }
    for ((code, kind), keys) in by {
        let _ = writeln!(
            out,
            "> - `{code}` {}: {}",
            noun(kind, keys.len()),
            keys.iter()
                .map(|k| format!("`{}`", esc(k)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// Whether a change touches who may do what, or what a tenant pays for and may use.
fn privileged(c: &Change) -> bool {
    let touches = |fields: &[&str]| {
        c.fields.iter().any(|f| {
            fields
                .iter()
                .any(|p| f.path == *p || f.path.starts_with(&format!("{p}.")))
        })
    };
    match c.kind {
        Kind::Plan
        | Kind::Role
        | Kind::Membership
        | Kind::Grant
        | Kind::UserModel
        | Kind::TenantModel => true,
        Kind::Tenant => {
            c.action != Action::Update || touches(&["plan", "limits", "status", "protected"])
        }
        Kind::User => {
            c.action != Action::Update || touches(&["system_role", "status", "protected"])
        }
        Kind::Model | Kind::Workspace => c.action == Action::Delete,
    }
}

/// What groups creates and deletes in the bulk section.
fn group_reason(c: &Change) -> &'static str {
    match (&c.action, &c.reason) {
        (Action::Create, _) => "new in the configuration",
        (_, Some(Reason::Removed)) => "no longer in the configuration",
        (_, Some(Reason::Pruned)) => "not managed by tenantctl, deleted because of `--prune`",
        (_, Some(Reason::Cascade { .. })) => "goes with its deleted parent",
        (_, Some(Reason::Renamed { .. })) => "old key of a rename whose new key exists",
        _ => "deleted",
    }
}

/// One change in a `diff` block: `+` create, `!` update, `-/+` replace, `-` delete;
/// `(sensitive)` in place of the values of the `sensitive` fields.
fn change_text(c: &Change, sensitive: &[String]) -> String {
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
                let _ = writeln!(out, "+     {path}: {}", shown(sensitive, &path, Some(v)));
            }
        }
        Action::Update | Action::Replace => {
            for f in &c.fields {
                let b = shown(sensitive, &f.path, f.before.as_ref());
                let a = shown(sensitive, &f.path, f.after.as_ref());
                match (&f.before, &f.after) {
                    (None, _) => {
                        let _ = writeln!(out, "+     {}: {a}", f.path);
                    }
                    (_, None) => {
                        let _ = writeln!(out, "-     {}: {b}", f.path);
                    }
                    _ => {
                        let _ = writeln!(out, "!     {}: {b} → {a}", f.path);
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

fn diff_section(heading: &str, items: Vec<String>) -> Piece {
    Piece::Section {
        open: format!("#### {heading} ({})\n\n````diff\n", thousands(items.len())),
        reopen: format!("#### {heading} (continued)\n\n````diff\n"),
        items,
        close: "````\n\n".into(),
    }
}

/// Everything after the head: privileged changes, other changes, bulk creates and deletes.
fn body(plan: &Plan) -> Vec<Piece> {
    let mut groups: BTreeMap<(u8, Kind, &'static str), Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        if matches!(c.action, Action::Create | Action::Delete) {
            let order = u8::from(c.action == Action::Delete);
            groups
                .entry((order, c.kind, group_reason(c)))
                .or_default()
                .push(c);
        }
    }
    let bulk = |c: &Change| {
        matches!(c.action, Action::Create | Action::Delete)
            && groups
                .get(&(
                    u8::from(c.action == Action::Delete),
                    c.kind,
                    group_reason(c),
                ))
                .is_some_and(|g| g.len() > BULK)
    };
    // Updates of one kind that make the same change (the lines after the title, values
    // masked), condensed when there are more than BULK of them.
    let same = |c: &Change| -> Option<String> {
        if c.action != Action::Update || c.previous_key.is_some() || !c.moved.is_empty() {
            return None;
        }
        let text = change_text(c, &plan.sensitive.paths_of(c));
        text.split_once('\n').map(|(_, rest)| rest.to_string())
    };
    let mut repeated: BTreeMap<(Kind, String), Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        if let Some(sig) = same(c) {
            repeated.entry((c.kind, sig)).or_default().push(c);
        }
    }
    repeated.retain(|_, g| g.len() > BULK);
    let (mut privileged_items, mut other_items) = (Vec::new(), Vec::new());
    for c in plan.changes.iter().filter(|c| !bulk(c)) {
        if same(c).is_some_and(|sig| repeated.contains_key(&(c.kind, sig))) {
            continue;
        }
        let text = change_text(c, &plan.sensitive.paths_of(c));
        if privileged(c) && c.action != Action::Create {
            privileged_items.push(text);
        } else {
            other_items.push(text);
        }
    }
    for ((kind, sig), g) in &repeated {
        let text = format!(
            "! {} {}, each (keys under “Repeated updates”):\n{sig}",
            thousands(g.len()),
            noun(*kind, g.len())
        );
        if g.iter().any(|c| privileged(c)) {
            privileged_items.push(text);
        } else {
            other_items.push(text);
        }
    }
    let mut pieces = Vec::new();
    if !privileged_items.is_empty() {
        pieces.push(diff_section(
            "Privileged changes: roles, memberships, grants, model access, plans and limits",
            privileged_items,
        ));
    }
    if !other_items.is_empty() {
        pieces.push(diff_section("Other changes", other_items));
    }
    if !repeated.is_empty() {
        pieces.push(Piece::Block("#### Repeated updates\n\n".into()));
    }
    for ((kind, sig), g) in repeated {
        let change: Vec<&str> = sig
            .lines()
            .map(|l| l.trim_start_matches(['!', '+', '-', '#', ' ']))
            .collect();
        let what = format!(
            "! {} {}: {}",
            thousands(g.len()),
            noun(kind, g.len()),
            cut(&change.join("; "), 200).trim_end()
        );
        pieces.push(keys_block(&what, g.iter().map(|c| c.key.as_str())));
    }
    let bulk_groups: Vec<_> = groups.into_iter().filter(|(_, g)| g.len() > BULK).collect();
    if bulk_groups.is_empty() {
        return pieces;
    }
    let mut table = String::from(
        "#### Bulk creates and deletes\n\n| | kind | count | why |\n|---|---|---:|---|\n",
    );
    for ((order, kind, why), g) in &bulk_groups {
        let _ = writeln!(
            table,
            "| {} | {kind} | {} | {why} |",
            if *order == 0 { "+" } else { "−" },
            thousands(g.len())
        );
    }
    table.push('\n');
    pieces.push(Piece::Block(table));
    for ((order, kind, why), g) in bulk_groups {
        let what = format!(
            "{} {} {}: {why}",
            if order == 0 { "+" } else { "−" },
            thousands(g.len()),
            noun(kind, g.len())
        );
        pieces.push(keys_block(&what, g.iter().map(|c| c.key.as_str())));
    }
    pieces
}

/// A collapsed block listing `keys`, one a line, under the summary `what`.
fn keys_block<'a>(what: &str, keys: impl Iterator<Item = &'a str>) -> Piece {
    Piece::Section {
        open: format!("<details><summary>{}</summary>\n\n```text\n", esc(what)),
        reopen: format!(
            "<details><summary>{} (continued)</summary>\n\n```text\n",
            esc(what)
        ),
        items: keys.map(|k| format!("{k}\n")).collect(),
        close: "```\n\n</details>\n\n".into(),
    }
}
