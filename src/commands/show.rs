//! `tenantctl show PLANFILE`: a saved plan, as it will be applied, in any format; and the
//! plan as pull-request comment files (`--comment-dir`), shared with `plan`.

use std::path::Path;

use miette::{miette, IntoDiagnostic, WrapErr};

use super::settings::ShowRun;
use super::{print, Exit, Settings};
use crate::apply::saved::SavedPlan;
use crate::plan::Plan;
use crate::render;

pub fn run(run: ShowRun, settings: &Settings) -> miette::Result<Exit> {
    let saved = read(&run.plan)?;
    let o = &saved.options;
    let targets = if o.targets.is_empty() {
        "none".to_string()
    } else {
        o.targets.join(", ")
    };
    eprintln!(
        "Plan file {}: made against {} at revision {} (prune: {}, max delete {} %, targets: {targets}, limits below usage allowed: {}).",
        run.plan.display(),
        saved.endpoint,
        saved.plan.revision,
        yes(o.prune),
        o.max_delete_percent,
        yes(o.allow_limit_below_usage),
    );
    let plan = saved.into_plan();
    super::keep_secret(&plan.sensitive_values());
    print(
        &render::render(&plan, run.format, settings.color),
        Exit::Failure,
    )?;
    if let Some(dir) = &run.comment_dir {
        write_comments(&plan, dir)?;
    }
    Ok(Exit::Success)
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Reads a saved plan, the error carrying its help.
pub fn read(path: &Path) -> miette::Result<SavedPlan> {
    SavedPlan::read(path).map_err(|e| match e.help() {
        Some(help) => miette!(help = help, "{e}"),
        None => miette!("{e}"),
    })
}

/// Writes the markdown plan as `DIR/plan-1.md`, `plan-2.md`, … (each under
/// [`render::COMMENT_LIMIT`] characters), removing the `plan-N.md` of an earlier, longer plan
/// so that the directory holds exactly this plan's comments.
pub fn write_comments(plan: &Plan, dir: &Path) -> miette::Result<()> {
    let parts = render::comments(plan, render::COMMENT_LIMIT);
    std::fs::create_dir_all(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create `{}`", dir.display()))?;
    let entries = std::fs::read_dir(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read `{}`", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = name
            .strip_prefix("plan-")
            .and_then(|r| r.strip_suffix(".md"))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > parts.len());
        if stale {
            std::fs::remove_file(entry.path())
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot remove `{}`", entry.path().display()))?;
        }
    }
    let mut sizes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let path = dir.join(format!("plan-{}.md", i + 1));
        std::fs::write(&path, part)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write `{}`", path.display()))?;
        sizes.push(part.chars().count());
    }
    eprintln!(
        "Wrote the plan as {} comment(s) in {} ({} characters).",
        parts.len(),
        dir.display(),
        sizes
            .iter()
            .map(|n| render::thousands(*n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
