//! `tenantctl apply`: plan (or read a saved plan), show it, confirm, apply, summarize.

use std::io::{BufRead, Write};

use miette::{miette, IntoDiagnostic};

use super::settings::ApplyRun;
use super::{configured, print, show_diagnostics, with_platform, Exit, Settings};
use crate::apply::saved::SavedPlan;
use crate::apply::{self, Mode};
use crate::connect::Platform;
use crate::pipeline::{self, ValidConfig};
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

/// What is applied: a saved plan, or the configuration (loaded already, or loading).
enum Source {
    Saved(Box<SavedPlan>),
    Config(pipeline::Loading),
}

pub fn run(run: ApplyRun, settings: &Settings) -> miette::Result<Exit> {
    let source = match &run.saved {
        Some(path) => Source::Saved(Box::new(super::show::read(path)?)),
        None => {
            let embedded = settings.connection.endpoint.is_none();
            match configured(pipeline::start_loading(embedded, &run.paths), settings)? {
                Some(loading) => Source::Config(loading),
                None => return Ok(Exit::Failure),
            }
        }
    };
    with_platform(settings, async |p| {
        run_async(&run, settings, p, source).await
    })
}

/// The plan to apply: the saved one, checked against the platform, or a new one.
async fn the_plan(
    run: &ApplyRun,
    settings: &Settings,
    p: &Platform,
    source: Source,
) -> miette::Result<Option<(Plan, Option<ValidConfig>)>> {
    match source {
        Source::Saved(saved) => {
            let path = run.saved.as_deref().unwrap_or(std::path::Path::new("-"));
            saved.check_endpoint(path, &p.label).into_diagnostic()?;
            let mut plan = saved.into_plan();
            // Nothing to apply is done, whatever changed on the platform since.
            if !plan.has_changes() {
                return Ok(Some((plan, None)));
            }
            let live = p.client.state().await.into_diagnostic()?;
            if live.revision != plan.revision {
                return Err(report(apply::ApplyError::Stale {
                    planned: plan.revision,
                    live: live.revision,
                }));
            }
            plan.acknowledge_at_apply(
                &live,
                run.options.allow_limit_below_usage,
                run.options.max_delete_percent,
            );
            Ok(Some((plan, None)))
        }
        Source::Config(loading) => {
            let planned = pipeline::load_and_plan(p, loading, run.options.clone()).await;
            Ok(configured(planned, settings)?.map(|(config, plan)| (plan, Some(config))))
        }
    }
}

async fn run_async(
    run: &ApplyRun,
    settings: &Settings,
    p: &Platform,
    source: Source,
) -> miette::Result<Exit> {
    let Some((plan, config)) = the_plan(run, settings, p, source).await? else {
        return Ok(Exit::Failure);
    };
    if let Some(config) = &config {
        super::keep_secret(&config.secrets);
    }
    super::keep_secret(&plan.sensitive_values());
    print(
        &crate::render::render(&plan, run.format, settings.color),
        Exit::Failure,
    )?;
    if let Some(config) = &config {
        show_diagnostics(&pipeline::other_warnings(&plan, &config.warnings), settings)?;
    }
    if !plan.has_changes() {
        return Ok(Exit::Success);
    }
    if matches!(run.mode, Mode::Resources { .. })
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
    let blocking = plan.blocking_risks();
    if !blocking.is_empty() {
        let lines: Vec<String> = blocking
            .iter()
            .map(|r| format!("  - {} [{}]", r.message, r.code))
            .collect();
        return Err(miette!(
            help = "review the risks; approve a lowered limit or a large delete with an `acknowledge:` entry in the configuration (reviewed with the change), then plan again",
            "apply refuses this plan; nothing was applied:\n{}",
            lines.join("\n")
        ));
    }
    if run.ask && !confirm()? {
        eprintln!("Apply cancelled; nothing was applied.");
        return Ok(Exit::Failure);
    }
    let started = std::time::Instant::now();
    match apply::apply(
        &plan,
        p.client.clone(),
        run.mode,
        plan.allows_limit_below_usage(),
        settings.progress,
    )
    .await
    {
        Ok(done) => {
            let rev = done
                .revision
                .map(|r| format!(" (live revision {r})"))
                .unwrap_or_default();
            print(
                &format!(
                    "\nApply complete! Resources: {}{rev} in {}.\n",
                    summary(&plan),
                    apply::seconds(started.elapsed())
                ),
                Exit::Success,
            )?;
            Ok(Exit::Success)
        }
        Err(e) => Err(report(e)),
    }
}

/// An apply error as a report. A stale plan carries the code `tenantctl::stale_plan`, which
/// a CI job can look for to plan again.
fn report(e: apply::ApplyError) -> miette::Report {
    match e {
        apply::ApplyError::Stale { .. } | apply::ApplyError::StaleVersion(_) => {
            miette!(code = "tenantctl::stale_plan", help = e.help(), "{e}")
        }
        _ => miette!(help = e.help(), "{e}"),
    }
}
