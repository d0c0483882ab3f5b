//! `tenantctl explain user EMAIL`: why a user can or cannot use a model or hold a
//! permission, step by step, on the live state or on the desired state of `--path` — the
//! access decision of `rules::access`, as the platform enforces it and `GET
//! /api/v1/access` answers it. `--format json` prints that answer; the exit code is 0 when
//! allowed and 1 when denied (as `kubectl auth can-i`).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Effects, Style};
use miette::{miette, IntoDiagnostic, WrapErr};

use super::{configured, print, with_platform, Exit, Settings};
use crate::api::AccessAnswer;
use crate::cli::{ExplainFormat, ExplainUserArgs};
use crate::model::State;
use crate::rules::access::{self, Decision, Effective, Outcome, Question};

fn paint(color: bool, style: Style, s: &str) -> String {
    if color {
        format!("{}{s}{}", style.render(), style.render_reset())
    } else {
        s.to_string()
    }
}

/// The settings of a model in one line: `lora_weight 0.8, guidance 4, prompts: generation`.
fn settings_line(d: &crate::model::ModelDefaults) -> String {
    let mut parts = Vec::new();
    if let Some(w) = d.lora_weight {
        parts.push(format!("lora_weight {w}"));
    }
    if let Some(g) = d.guidance {
        parts.push(format!("guidance {g}"));
    }
    if !d.prompts.is_empty() {
        let names: Vec<&str> = d.prompts.keys().map(String::as_str).collect();
        parts.push(format!("prompts: {}", names.join(", ")));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The explanation as text: the question, one line per step, the verdict, and for an
/// allowed model the deployment and the settings that apply.
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
    if let Some(Effective::Model {
        deployment_id,
        tenant,
        defaults,
        ..
    }) = &e.effective
    {
        let from = match tenant {
            Some(t) => format!(" (the model's defaults, overridden by tenant `{t}`)"),
            None => " (the model's defaults)".into(),
        };
        let _ = writeln!(out, "  deployment      `{deployment_id}`");
        let _ = writeln!(out, "  settings        {}{from}", settings_line(defaults));
    }
    out
}

/// The tenant a workspace question is about: `--tenant`, or the user's only tenant.
fn workspace_tenant<'a>(state: &'a State, a: &'a ExplainUserArgs) -> miette::Result<&'a str> {
    if let Some(t) = &a.tenant {
        return Ok(t);
    }
    let email = a.email.trim().to_lowercase();
    match access::tenants_of(state, &email).as_slice() {
        [one] => Ok(one),
        many => Err(miette!(
            "--workspace needs --tenant (`{}` belongs to {} tenants)",
            a.email,
            many.len()
        )),
    }
}

/// What the arguments ask: a model, or a permission (on a workspace with `--workspace`).
fn question<'a>(state: &'a State, a: &'a ExplainUserArgs) -> miette::Result<Question<'a>> {
    match (&a.model, &a.permission) {
        (Some(model), None) if a.workspace.is_none() => Ok(Question::Model {
            model,
            tenant: a.tenant.as_deref(),
        }),
        (Some(_), None) => Err(miette!("--workspace goes with --permission, not --model")),
        (None, Some(permission)) => Ok(Question::Permission {
            permission,
            tenant: match &a.workspace {
                Some(_) => Some(workspace_tenant(state, a)?),
                None => a.tenant.as_deref(),
            },
            workspace: a.workspace.as_deref(),
        }),
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
    let exit = if e.allowed {
        Exit::Success
    } else {
        Exit::Failure
    };
    let text = match a.format {
        ExplainFormat::Human => render(&e, settings.color),
        ExplainFormat::Json => {
            let mut s = serde_json::to_string_pretty(&AccessAnswer::from(&e)).into_diagnostic()?;
            s.push('\n');
            s
        }
    };
    print(&text, exit)?;
    Ok(exit)
}
