//! `tenantctl plan`: load the YAML, read the live state, diff, print the plan; `--out` saves
//! it for `apply --plan`.

use std::io::Write;

use miette::IntoDiagnostic;

use super::platform::{self, Platform};
use super::{Exit, Global};
use crate::apply::saved::{SavedOptions, SavedPlan};
use crate::cli::PlanArgs;

pub fn run(args: PlanArgs, global: &Global) -> miette::Result<Exit> {
    let Some(early) = platform::load_early(global, &args.paths)?.valid() else {
        return Ok(Exit::Failure);
    };
    let options = platform::plan_options(&args.options)?;
    let rt = super::runtime()?;
    let planned = rt.block_on(async {
        let p = Platform::connect(global).await?;
        let planned = platform::load_and_plan(&p, early, &args.paths, options).await;
        let label = p.label.clone();
        p.close().await;
        planned.map(|o| o.map(|(loaded, plan)| (loaded, plan, label)))
    })?;
    let Some((loaded, plan, label)) = planned else {
        return Ok(Exit::Failure);
    };
    let mut out = std::io::stdout().lock();
    out.write_all(platform::render(&plan, args.format).as_bytes())
        .into_diagnostic()?;
    out.flush().into_diagnostic()?;
    platform::print_other_warnings(&plan, &loaded.warnings)?;
    if let Some(path) = &args.out {
        let saved = SavedPlan::new(
            &label,
            SavedOptions {
                prune: args.options.prune,
                max_delete_percent: args.options.max_delete_percent,
                targets: args.options.target.clone(),
            },
            plan.clone(),
        );
        saved.write(path).into_diagnostic()?;
        eprintln!(
            "Saved the plan to {}; apply it with `tenantctl apply --plan {}`.",
            path.display(),
            path.display()
        );
    }
    let refused: Vec<_> = plan.risks.iter().filter(|r| r.always_refused()).collect();
    let exit = if !refused.is_empty() {
        eprintln!("error: apply would refuse this plan:");
        for r in refused {
            eprintln!("  - {} [{}]", r.message, r.code);
        }
        Exit::Failure
    } else if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    };
    // Freeing a large desired state takes longer than exiting: not on the user's time.
    crate::validate::drop_in_background((loaded, plan));
    Ok(exit)
}
