//! `tenantctl validate PATH…`: the JSON Schema and every rule that needs no platform, all
//! problems in one run. Warnings do not fail the run; errors exit 1.

use std::io::Write;

use super::settings::ValidateRun;
use super::{written, Exit, Settings};
use crate::validate::{self, Format};

pub fn run(run: ValidateRun, settings: &Settings) -> miette::Result<Exit> {
    let checked = validate::check_paths(&run.paths);
    let exit = if checked.error_count() > 0 {
        Exit::Failure
    } else {
        Exit::Success
    };
    let mut out = std::io::stdout().lock();
    let result = validate::render(&checked.diagnostics, run.format, settings.color, &mut out)
        .and_then(|()| {
            if run.format == Format::Human && checked.error_count() == 0 {
                if let Some(d) = &checked.desired {
                    writeln!(out, "{}", success_line(checked.files.len(), d))?;
                }
            }
            out.flush()
        });
    // The process ends here: freeing a 100,000-user state piece by piece takes longer than
    // checking its rules.
    std::mem::forget(checked);
    written(result, exit)?;
    Ok(exit)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `valid: 2 files, 1 plan, 2 tenants, 3 workspaces, 5 users, 6 memberships`.
fn success_line(files: usize, d: &crate::config::Desired) -> String {
    use crate::model::Kind;
    let mut parts = vec![count(files, "file", "files")];
    for kind in Kind::ALL {
        let n = d.state.count(*kind);
        if n > 0 {
            parts.push(count(
                n,
                &kind.as_str().replace('_', " "),
                &kind.plural().replace('_', " "),
            ));
        }
    }
    format!("valid: {}", parts.join(", "))
}
