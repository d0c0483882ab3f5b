//! The `acknowledge:` section: approvals of plan-time risks, written in any file of the
//! configuration so that they are reviewed in the pull request with the change they approve.
//! The entries of every file are gathered in file order; [`check`] reports the entries that
//! cannot match any risk, at their line.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{FileId, Place, Problem, Target};
use crate::model::Kind;
use crate::plan::{Acknowledgement, LIMIT_BELOW_USAGE, TOO_MANY_DELETES};

/// A risk that can be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckCode {
    /// A tenant's limit lowered below its live usage (rule 9); `kind: tenant`, `key`: the tenant.
    LimitBelowUsage,
    /// A plan deleting more than 25 % of a kind's live resources; `kind`: that kind, no `key`.
    TooManyDeletes,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::LimitBelowUsage => LIMIT_BELOW_USAGE,
            AckCode::TooManyDeletes => TOO_MANY_DELETES,
        }
    }
}

/// An approval of one plan-time risk that apply would otherwise refuse. The plan shows the
/// risk as acknowledged and apply carries it out; an entry that matches no risk of the plan is
/// warned about (`stale_acknowledgement`): remove it once its change is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeDecl {
    /// The risk approved: `limit_below_usage` or `too_many_deletes` (`self_lockout` and
    /// `protected_replace` cannot be approved: the platform refuses them too).
    pub code: AckCode,
    /// The kind of the resource the risk is about (`tenant` for `limit_below_usage`; the kind
    /// whose resources are deleted for `too_many_deletes`).
    pub kind: Kind,
    /// The resource the risk is about (the tenant's slug for `limit_below_usage`); omitted for
    /// `too_many_deletes`, which is about the whole kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub key: Option<String>,
    /// Why this is approved, for the reviewer and the record (shown in the plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AcknowledgeDecl {
    /// The plan's form of this entry.
    pub fn to_acknowledgement(&self) -> Acknowledgement {
        Acknowledgement {
            code: self.code.as_str().to_string(),
            kind: self.kind,
            key: self.key.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// The entries of one file, typed one by one: an entry that does not type is an error at it.
pub fn typed(list: serde_json::Value) -> Vec<Result<AcknowledgeDecl, String>> {
    match list {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Entries that can never match a risk: a `limit_below_usage` not about a tenant or without
/// its key, a `too_many_deletes` with a key. `at` is (file, index in that file's list).
pub fn check(entries: &[(AcknowledgeDecl, (FileId, usize))], out: &mut Vec<Problem>) {
    for (a, (file, i)) in entries {
        let place =
            |field: &str, target| Place::Pointer(*file, format!("/acknowledge/{i}{field}"), target);
        match (a.code, a.kind, &a.key) {
            (AckCode::LimitBelowUsage, Kind::Tenant, Some(_)) => {}
            (AckCode::LimitBelowUsage, Kind::Tenant, None) => out.push(
                Problem::error(
                    "acknowledge_key",
                    place("", Target::Value),
                    "an acknowledged `limit_below_usage` names its tenant",
                )
                .label("no `key`")
                .help("add `key: <tenant slug>`: each lowered limit is approved on its own"),
            ),
            (AckCode::LimitBelowUsage, kind, _) => out.push(
                Problem::error(
                    "acknowledge_kind",
                    place("/kind", Target::Value),
                    format!(
                        "`limit_below_usage` is about tenants, not {}",
                        kind.plural()
                    ),
                )
                .label("not `tenant`")
                .help("write `kind: tenant`"),
            ),
            (AckCode::TooManyDeletes, _, Some(_)) => out.push(
                Problem::error(
                    "acknowledge_key",
                    place("/key", Target::Key),
                    "`too_many_deletes` is about a whole kind: it takes no `key`",
                )
                .label("not for this risk")
                .help("remove `key`; `kind` names the kind whose deletes are approved"),
            ),
            (AckCode::TooManyDeletes, _, None) => {}
        }
    }
}
