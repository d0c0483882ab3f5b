//! `tenantctl apply`: plan (or read a saved plan), show it, confirm, apply, summarize.

use std::io::{BufRead, Write};

use miette::{miette, IntoDiagnostic};

use super::platform::{self, Platform};
use super::{Exit, Global};
use crate::apply::saved::SavedPlan;
use crate::apply::{self, Mode};
use crate::cli::ApplyArgs;
use crate::plan::Plan;

fn confirm() -> miette::Result<bool> {
    eprint!("\nDo you want to apply these changes? Only `yes` is accepted: ");
    std::io::stderr().flush().into_diagnostic()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .into_diagnostic()?;
    Ok(line.trim() == "yes")
}

fn summary(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "{} created, {} updated, {} replaced, {} deleted",
        s.create, s.update, s.replace, s.delete
    )
}

pub fn run(args: ApplyArgs, global: &Global) -> miette::Result<Exit> {
    let ask = !args.auto_approve;
    if ask && !platform::interactive() {
        return Err(miette!(
            help = "pass --auto-approve to apply without confirmation (as in CI), or run apply on a terminal",
            "no terminal to ask for confirmation on"
        ));
    }
    if args.parallelism == Some(0) {
        return Err(miette!("--parallelism must be at least 1"));
    }
    if args.plan.is_some() && (args.options.prune || !args.options.target.is_empty()) {
        return Err(miette!(
            help = "run `tenantctl plan --out FILE` again with these options",
            "--prune and --target shape a plan; a saved plan keeps the options it was made with"
        ));
    }
    let saved = match &args.plan {
        Some(path) => Some(SavedPlan::read(path).into_diagnostic()?),
        None => None,
    };
    let desired = match &saved {
        Some(_) => None,
        None => match platform::load_early(global, &args.paths)?.valid() {
            Some(early) => Some(early),
            None => return Ok(Exit::Failure),
        },
    };
    let options = platform::plan_options(&args.options)?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let p = Platform::connect(global).await?;
        let r = run_async(&args, &p, saved, desired, options, ask).await;
        p.close().await;
        r
    })
}

async fn run_async(
    args: &ApplyArgs,
    p: &Platform,
    saved: Option<SavedPlan>,
    desired: Option<Option<platform::Loaded>>,
    options: crate::plan::PlanOptions,
    ask: bool,
) -> miette::Result<Exit> {
    let mut print_warnings = None;
    let plan = match (saved, desired) {
        (Some(saved), _) => {
            let path = args.plan.as_deref().unwrap_or(std::path::Path::new("-"));
            saved.check_endpoint(path, &p.label).into_diagnostic()?;
            let live = p.client.state().await.into_diagnostic()?;
            if live.revision != saved.plan.revision {
                let e = apply::ApplyError::Stale {
                    planned: saved.plan.revision,
                    live: live.revision,
                };
                return Err(miette!(help = e.help(), "{e}"));
            }
            let mut plan = saved.plan;
            plan.recheck_delete_guard(&live, args.options.max_delete_percent);
            plan
        }
        (None, Some(early)) => {
            let Some((loaded, plan)) =
                platform::load_and_plan(p, early, &args.paths, options).await?
            else {
                return Ok(Exit::Failure);
            };
            print_warnings = Some(loaded.warnings);
            plan
        }
        (None, None) => return Err(miette!("nothing to apply: give YAML paths or --plan FILE")),
    };
    print!("{}", platform::render(&plan, args.format));
    std::io::stdout().flush().into_diagnostic()?;
    if let Some(w) = &print_warnings {
        platform::print_other_warnings(&plan, w)?;
    }
    if !plan.has_changes() {
        return Ok(Exit::Success);
    }
    if args.parallelism.is_some()
        && plan
            .risks
            .iter()
            .any(|r| r.code == crate::plan::LIMIT_BELOW_USAGE)
    {
        return Err(miette!(
            help = "apply this plan as one atomic batch (without --parallelism): its final state is checked as a whole",
            "a limit lowered below live usage cannot be applied resource by resource: the platform checks each write, and the lowered limit is written before the members leave; nothing was applied"
        ));
    }
    let blocking = plan.blocking_risks(args.allow_limit_below_usage);
    if !blocking.is_empty() {
        let lines: Vec<String> = blocking
            .iter()
            .map(|r| format!("  - {} [{}]", r.message, r.code))
            .collect();
        return Err(miette!(
            help = "review the risks; --allow-limit-below-usage accepts a lowered limit, --max-delete-percent allows more deletes",
            "apply refuses this plan; nothing was applied:\n{}",
            lines.join("\n")
        ));
    }
    if ask && !confirm()? {
        eprintln!("Apply cancelled; nothing was applied.");
        return Ok(Exit::Failure);
    }
    let mode = match args.parallelism {
        Some(n) => Mode::Resources { parallelism: n },
        None => Mode::Batch,
    };
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    match apply::apply(
        &plan,
        p.client.clone(),
        mode,
        args.allow_limit_below_usage,
        progress,
    )
    .await
    {
        Ok(done) => {
            let rev = done
                .revision
                .map(|r| format!(" (live revision {r})"))
                .unwrap_or_default();
            println!("\nApply complete! Resources: {}{rev}.", summary(&plan));
            Ok(Exit::Success)
        }
        Err(e) => Err(miette!(help = e.help(), "{e}")),
    }
}
