//! The human plan: one block per changed resource like Terraform's, warnings and risks last,
//! then the summary line. ANSI colour only when asked (the caller decides from the terminal
//! and `NO_COLOR`).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Effects, Style};
use similar::{ChangeTag, TextDiff};

use super::{leaves, long_text, moved_summary, shown, summary_line, title};
use crate::plan::{covers, Action, Change, Plan, Risk};

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
}

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().effects(Effects::BOLD);
const DIM: Style = Style::new().effects(Effects::DIMMED);

fn symbol(action: Action) -> (&'static str, Style) {
    match action {
        Action::Create => ("  +", GREEN),
        Action::Update => ("  ~", YELLOW),
        Action::Replace => ("-/+", RED),
        Action::Delete => ("  -", RED),
    }
}

/// A word diff of two long texts: removed words `[-like this-]`, added `{+like this+}`;
/// in colour, removed in red and struck through, added in green.
fn word_diff(p: &Painter, before: &str, after: &str) -> String {
    let diff = TextDiff::from_words(before, after);
    // Runs of one tag, so `{+ et web+}` reads as one insertion.
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for ch in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == ch.tag() => text.push_str(ch.value()),
            _ => runs.push((ch.tag(), ch.value().to_string())),
        }
    }
    let mut out = String::new();
    for (tag, text) in runs {
        match tag {
            ChangeTag::Equal => out.push_str(&text),
            ChangeTag::Delete if p.color => {
                out += &p.paint(RED.effects(Effects::STRIKETHROUGH), &text)
            }
            ChangeTag::Insert if p.color => {
                out += &p.paint(GREEN.effects(Effects::UNDERLINE), &text)
            }
            ChangeTag::Delete => out += &format!("[-{text}-]"),
            ChangeTag::Insert => out += &format!("{{+{text}+}}"),
        }
    }
    out
}

fn change_block(p: &Painter, c: &Change, sensitive: &[String], out: &mut String) {
    let (sym, style) = symbol(c.action);
    let verb = match c.action {
        Action::Create => "will be created".to_string(),
        Action::Update if c.previous_key.is_some() => {
            "will be renamed and updated in place".to_string()
        }
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => "must be replaced".to_string(),
        Action::Delete => "will be deleted".to_string(),
    };
    let _ = writeln!(
        out,
        "  {}",
        p.paint(DIM, &format!("# {} {} {verb}", c.kind, c.key))
    );
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "  {}", p.paint(DIM, &format!("# ({})", r.describe())));
    }
    let _ = writeln!(out, "{} {}", p.paint(style, sym), p.paint(BOLD, &title(c)));
    match c.action {
        Action::Create => {
            if let Some(after) = &c.after {
                for (path, v) in leaves(after) {
                    let _ = writeln!(
                        out,
                        "      {} {path}: {}",
                        p.paint(GREEN, "+"),
                        shown(sensitive, &path, Some(v))
                    );
                }
            }
        }
        Action::Update | Action::Replace => {
            for f in &c.fields {
                let forces = c.action == Action::Replace
                    && c.reason.as_ref().is_some_and(|r| r.code() == f.path);
                let note = if forces {
                    p.paint(RED, " # forces replacement")
                } else {
                    String::new()
                };
                let (before, after) = (
                    shown(sensitive, &f.path, f.before.as_ref()),
                    shown(sensitive, &f.path, f.after.as_ref()),
                );
                let secret = covers(sensitive, &f.path);
                match (&f.before, &f.after) {
                    (None, _) => {
                        let _ = writeln!(
                            out,
                            "      {} {}: {after}{note}",
                            p.paint(GREEN, "+"),
                            f.path,
                        );
                    }
                    (_, None) => {
                        let _ = writeln!(
                            out,
                            "      {} {}: {before}{note}",
                            p.paint(RED, "-"),
                            f.path,
                        );
                    }
                    (b, a) => {
                        if let Some((bt, at)) =
                            long_text(b.as_ref(), a.as_ref()).filter(|_| !secret)
                        {
                            let _ =
                                writeln!(out, "      {} {}:{note}", p.paint(YELLOW, "~"), f.path);
                            let _ = writeln!(out, "          {}", word_diff(p, bt, at));
                        } else {
                            let _ = writeln!(
                                out,
                                "      {} {}: {before} → {after}{note}",
                                p.paint(YELLOW, "~"),
                                f.path,
                            );
                        }
                    }
                }
            }
            if !c.moved.is_empty() {
                let _ = writeln!(
                    out,
                    "      {}",
                    p.paint(
                        DIM,
                        &format!("# moves with it, unchanged: {}", moved_summary(&c.moved))
                    )
                );
            }
        }
        Action::Delete => {}
    }
    out.push('\n');
}

/// The whole human plan.
pub fn human(plan: &Plan, color: bool) -> String {
    let p = Painter { color };
    let mut out = String::new();
    if plan.has_changes() {
        let _ = writeln!(
            out,
            "tenantctl will perform the following actions (live revision {}):\n",
            plan.revision
        );
        for c in &plan.changes {
            change_block(&p, c, &plan.sensitive.paths_of(c), &mut out);
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.paint(YELLOW.effects(Effects::BOLD), "Warnings:")
        );
        for w in &plan.warnings {
            let _ = writeln!(
                out,
                "  {} {} {}",
                p.paint(YELLOW, "!"),
                w.message,
                p.paint(DIM, &format!("[{}]", w.code))
            );
        }
        out.push('\n');
    }
    let (acknowledged, refused): (Vec<&Risk>, Vec<&Risk>) =
        plan.risks.iter().partition(|r| r.acknowledged.is_some());
    if !refused.is_empty() {
        let _ = writeln!(out, "{}", p.paint(RED.effects(Effects::BOLD), "Risks:"));
        for r in refused {
            let _ = writeln!(
                out,
                "  {} {} {}",
                p.paint(RED, "!"),
                r.message,
                p.paint(DIM, &format!("[{}]", r.code))
            );
        }
        out.push('\n');
    }
    if !acknowledged.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.paint(CYAN.effects(Effects::BOLD), "Acknowledged risks (applied):")
        );
        for r in acknowledged {
            let how = r
                .acknowledged
                .as_ref()
                .map(|a| a.describe())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {} {}\n    {}",
                p.paint(CYAN, "✓"),
                r.message,
                p.paint(DIM, &format!("[{}]", r.code)),
                p.paint(CYAN, &how)
            );
        }
        out.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        let parts: Vec<String> = plan
            .unmanaged
            .iter()
            .map(|(k, n)| format!("{n} {}", if *n == 1 { k.as_str() } else { k.plural() }))
            .collect();
        let _ = writeln!(
            out,
            "{}\n",
            p.paint(
                CYAN,
                &format!(
                    "Unmanaged, left alone: {} (never managed by tenantctl; --prune deletes them).",
                    parts.join(", ")
                )
            )
        );
    }
    if let Some((title, lines)) = super::out_of_scope_lines(plan) {
        let _ = writeln!(out, "{}", p.paint(CYAN, &title));
        for l in lines {
            let _ = writeln!(out, "  {}", p.paint(CYAN, &l));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", p.paint(BOLD, &summary_line(plan)));
    out
}
