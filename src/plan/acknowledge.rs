//! Approvals of plan-time risks. A risk that apply would refuse (a limit lowered below live
//! usage, too many deletes of a kind) is approved in the reviewed diff by an `acknowledge:`
//! entry of the configuration, or by a flag given when the plan is made. An acknowledged risk
//! is shown as such and applied; an entry that matches no risk is a stale approval, warned
//! about so that it is removed before it approves a later, unreviewed risk.

use super::{risks, Plan, PlanOptions, Risk, Warning, LIMIT_BELOW_USAGE, TOO_MANY_DELETES};
use crate::model::{Kind, State};

/// The risk codes an approval may name. `self_lockout` and `protected_replace` are refused
/// whatever is acknowledged: the platform refuses them too.
pub const ACKNOWLEDGEABLE: &[&str] = &[LIMIT_BELOW_USAGE, TOO_MANY_DELETES];

/// The warning of an `acknowledge:` entry that matches no risk of the plan.
pub const STALE_ACKNOWLEDGEMENT: &str = "stale_acknowledgement";

/// One `acknowledge:` entry of the configuration: it approves the risk `code` of `kind/key`
/// (`key` `None` for a risk about a whole kind, `too_many_deletes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub code: String,
    pub kind: Kind,
    pub key: Option<String>,
    pub reason: Option<String>,
}

impl Acknowledgement {
    /// Whether this entry approves `risk`.
    pub fn matches(&self, risk: &Risk) -> bool {
        self.code == risk.code
            && self.kind == risk.kind
            && self.key.as_deref().unwrap_or("*") == risk.key
    }

    /// `limit_below_usage tenant acme`, `too_many_deletes user`.
    pub fn describe(&self) -> String {
        match &self.key {
            Some(k) => format!("{} {} {k}", self.code, self.kind),
            None => format!("{} {}", self.code, self.kind),
        }
    }
}

/// How a risk was approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledged {
    /// By an `acknowledge:` entry of the configuration, with its reason if it gives one.
    Configuration { reason: Option<String> },
    /// By a flag (`--allow-limit-below-usage`, `--max-delete-percent 40`), as typed.
    Flag(String),
}

impl Acknowledged {
    /// `acknowledged in the configuration: "reason"`, `acknowledged by --allow-limit-below-usage`.
    pub fn describe(&self) -> String {
        match self {
            Acknowledged::Configuration { reason: Some(r) } => {
                format!("acknowledged in the configuration: “{r}”")
            }
            Acknowledged::Configuration { reason: None } => {
                "acknowledged in the configuration".into()
            }
            Acknowledged::Flag(flag) => format!("acknowledged by {flag}"),
        }
    }
}

/// The YAML that approves `risk`, for the message that says how.
pub fn entry_for(risk: &Risk) -> String {
    if risk.key == "*" {
        format!("{{code: {}, kind: {}}}", risk.code, risk.kind)
    } else {
        format!(
            "{{code: {}, kind: {}, key: {}}}",
            risk.code, risk.kind, risk.key
        )
    }
}

/// Marks the risks of `plan` that the configuration's entries or the plan's flags approve,
/// and warns about each entry that approves nothing. With `--target` the plan covers part of
/// the configuration only, so an unmatched entry is not called stale.
pub(super) fn acknowledge(plan: &mut Plan, acks: &[Acknowledgement], opts: &PlanOptions) {
    let mut used = vec![false; acks.len()];
    for risk in &mut plan.risks {
        if !ACKNOWLEDGEABLE.contains(&risk.code.as_str()) {
            continue;
        }
        if let Some(i) = acks.iter().position(|a| a.matches(risk)) {
            used[i] = true;
            approve(
                risk,
                Acknowledged::Configuration {
                    reason: acks[i].reason.clone(),
                },
            );
        } else if risk.code == LIMIT_BELOW_USAGE && opts.allow_limit_below_usage {
            approve(risk, Acknowledged::Flag("--allow-limit-below-usage".into()));
        }
    }
    if !opts.targets.is_empty() {
        return;
    }
    for (a, _) in acks.iter().zip(used).filter(|(_, used)| !used) {
        plan.warnings.push(Warning {
            code: STALE_ACKNOWLEDGEMENT.into(),
            kind: a.kind,
            key: a.key.clone().unwrap_or_else(|| "*".into()),
            message: format!(
                "`acknowledge: {}` matches no risk of this plan; remove it, so that it cannot approve a later change nobody reviewed",
                a.describe()
            ),
        });
    }
}

/// Marks `risk` approved; its message keeps what the risk is and drops how to approve it
/// (the text after the first `; `, as [`super::risks`] words every approvable risk).
fn approve(risk: &mut Risk, how: Acknowledged) {
    if let Some((what, _)) = risk.message.split_once("; ") {
        risk.message = what.to_string();
    }
    risk.acknowledged = Some(how);
}

impl Plan {
    /// Approves more at apply time, by flags given to `apply --plan`: a lowered limit with
    /// `--allow-limit-below-usage`, and the deletes of a kind that `--max-delete-percent`
    /// now allows. Nothing is ever un-approved, and no risk is added.
    pub fn acknowledge_at_apply(&mut self, live: &State, allow_limit: bool, max_percent: u8) {
        let still: Vec<Kind> = risks::delete_guard(self, live, max_percent)
            .into_iter()
            .map(|r| r.kind)
            .collect();
        for r in self.risks.iter_mut().filter(|r| r.acknowledged.is_none()) {
            if r.code == LIMIT_BELOW_USAGE && allow_limit {
                approve(r, Acknowledged::Flag("--allow-limit-below-usage".into()));
            } else if r.code == TOO_MANY_DELETES && !still.contains(&r.kind) {
                approve(
                    r,
                    Acknowledged::Flag(format!("--max-delete-percent {max_percent}")),
                );
            }
        }
    }

    /// Risks that apply refuses: those not acknowledged.
    pub fn blocking_risks(&self) -> Vec<&Risk> {
        self.risks
            .iter()
            .filter(|r| r.acknowledged.is_none())
            .collect()
    }

    /// Whether the platform is to accept limits below live usage in this plan's batch: a
    /// `limit_below_usage` risk of it was acknowledged.
    pub fn allows_limit_below_usage(&self) -> bool {
        self.risks
            .iter()
            .any(|r| r.code == LIMIT_BELOW_USAGE && r.acknowledged.is_some())
    }
}
