//! `tenantctl plan`: load the YAML, read the live state, diff, print the plan; `--out` saves
//! it for `apply --plan`.

use miette::IntoDiagnostic;

use super::settings::PlanRun;
use super::{configured, print, show_diagnostics, with_platform, Exit, Settings};
use crate::apply::saved::SavedPlan;
use crate::pipeline;

pub fn run(run: PlanRun, settings: &Settings) -> miette::Result<Exit> {
    let embedded = settings.connection.endpoint.is_none();
    let Some(loading) = configured(pipeline::start_loading(embedded, &run.paths), settings)? else {
        return Ok(Exit::Failure);
    };
    let planned = with_platform(settings, async |p| {
        let planned = pipeline::load_and_plan(p, loading, run.options.clone()).await;
        Ok(configured(planned, settings)?.map(|(config, plan)| (config, plan, p.label.clone())))
    })?;
    let Some((config, plan, label)) = planned else {
        return Ok(Exit::Failure);
    };
    super::keep_secret(&config.secrets);
    super::keep_secret(&plan.sensitive_values());
    print(
        &crate::render::render(&plan, run.format, settings.color),
        Exit::Failure,
    )?;
    show_diagnostics(&pipeline::other_warnings(&plan, &config.warnings), settings)?;
    if let Some(dir) = &run.comment_dir {
        super::show::write_comments(&plan, dir)?;
    }
    if let Some(path) = &run.out {
        SavedPlan::new(&label, run.saved_options.clone(), &plan)
            .write(path)
            .into_diagnostic()?;
        eprintln!(
            "Saved the plan to {}; apply it with `tenantctl apply --plan {}`.",
            path.display(),
            path.display()
        );
    }
    let refused = plan.blocking_risks();
    let exit = if !refused.is_empty() {
        eprintln!("error: apply would refuse this plan:");
        for r in refused {
            eprintln!("  - {} [{}]", r.message, r.code);
        }
        Exit::Failure
    } else if run.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    };
    // Freeing a large desired state takes longer than exiting: not on the user's time.
    crate::validate::drop_in_background((config, plan));
    Ok(exit)
}
