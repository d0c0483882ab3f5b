//! `tenantctl explain user EMAIL`: why a user can or cannot use a model or hold a
//! permission, step by step, on the live state or on the desired state of `--path`.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Effects, Style};
use miette::{miette, IntoDiagnostic, WrapErr};

use super::{configured, print, with_platform, Exit, Settings};
use crate::cli::ExplainUserArgs;
use crate::model::{GrantAction, State};
use crate::rules::access::{self, Decision, Outcome, Question};

fn paint(color: bool, style: Style, s: &str) -> String {
    if color {
        format!("{}{s}{}", style.render(), style.render_reset())
    } else {
        s.to_string()
    }
}

/// The explanation as text: the question, one line per step, the verdict.
pub fn render(e: &Decision, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(color, Style::new().effects(Effects::BOLD), &e.question)
    );
    for s in &e.steps {
        let mark = match s.outcome {
            Outcome::Pass => paint(color, AnsiColor::Green.on_default(), "✓"),
            Outcome::Fail => paint(color, AnsiColor::Red.on_default(), "✗"),
            Outcome::Info => paint(color, Style::new().effects(Effects::DIMMED), "·"),
        };
        let _ = writeln!(out, "  {mark} {:<15} {}", s.check, s.detail);
    }
    let verdict = if e.allowed {
        paint(
            color,
            AnsiColor::Green.on_default().effects(Effects::BOLD),
            "ALLOWED",
        )
    } else {
        paint(
            color,
            AnsiColor::Red.on_default().effects(Effects::BOLD),
            "DENIED",
        )
    };
    let _ = writeln!(
        out,
        "{verdict}: {}",
        e.verdict
            .split_once(": ")
            .map_or(e.verdict.as_str(), |(_, r)| r)
    );
    out
}

/// What the arguments ask: a model, a catalog permission, or (with `--workspace`) a grant
/// action on a workspace of `--tenant` or of the user's only tenant.
fn question<'a>(state: &'a State, a: &'a ExplainUserArgs) -> miette::Result<Question<'a>> {
    match (&a.model, &a.permission) {
        (Some(model), None) => Ok(Question::Model {
            model,
            tenant: a.tenant.as_deref(),
        }),
        (None, Some(p)) => match &a.workspace {
            Some(w) => {
                let action: GrantAction = serde_json::from_value(serde_json::Value::String(p.clone()))
                    .map_err(|_| miette!(help = "with --workspace, --permission is a grant action: read, update, delete or create", "`{p}` is not a grant action"))?;
                let tenant = match &a.tenant {
                    Some(t) => t.as_str(),
                    None => {
                        let prefix = format!("{}/", a.email.to_lowercase());
                        let tenants: Vec<&str> = state
                            .memberships
                            .range::<str, _>((
                                std::ops::Bound::Included(prefix.as_str()),
                                std::ops::Bound::Unbounded,
                            ))
                            .map(|(k, _)| k.as_str())
                            .take_while(|k| k.starts_with(&prefix))
                            .map(|k| &k[prefix.len()..])
                            .collect();
                        match tenants.as_slice() {
                            [one] => *one,
                            _ => {
                                return Err(miette!(
                                    "--workspace needs --tenant (`{}` belongs to {} tenants)",
                                    a.email,
                                    tenants.len()
                                ))
                            }
                        }
                    }
                };
                Ok(Question::WorkspaceAction {
                    action,
                    tenant,
                    workspace: w,
                })
            }
            None => Ok(Question::Permission {
                permission: p,
                tenant: a.tenant.as_deref(),
            }),
        },
        (Some(_), Some(_)) => Err(miette!("give either --model or --permission, not both")),
        (None, None) => Err(miette!(
            help = "e.g. `tenantctl explain user alice@acme.example --model portrait-v1`",
            "say what to explain: --model MODEL or --permission PERMISSION"
        )),
    }
}

pub fn run(a: ExplainUserArgs, settings: &Settings) -> miette::Result<Exit> {
    let state = if a.paths.is_empty() {
        with_platform(settings, async |p| {
            p.client
                .state()
                .await
                .into_diagnostic()
                .wrap_err("cannot read the live state")
        })?
    } else {
        match configured(crate::pipeline::load(&a.paths), settings)? {
            Some(config) => {
                super::keep_secret(&config.secrets);
                config.input.state
            }
            None => return Ok(Exit::Failure),
        }
    };
    let e = access::decide(&state, &a.email, &question(&state, &a)?);
    print(&render(&e, settings.color), Exit::Success)?;
    Ok(Exit::Success)
}
