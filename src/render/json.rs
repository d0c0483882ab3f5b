//! The stable JSON plan (`format_version` 1, PRODUCT.md §3). Its own types, converted from
//! the domain [`Plan`], so a refactor of the plan never changes the published format.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::plan::{covers, Acknowledged, Action, Change, Plan, MASK};

/// The version of this format; bumped only on an incompatible change.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct JsonPlan {
    pub format_version: u32,
    pub revision: i64,
    pub changes: Vec<JsonChange>,
    pub risks: Vec<JsonRisk>,
    pub warnings: Vec<JsonFinding>,
    pub unmanaged: BTreeMap<String, usize>,
    /// Only in a plan made with a tenant-scoped token: what it left alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<JsonOutOfScope>,
    /// Only in a plan made with `--target` (then `true`): only `targets` (`KIND/KEY`), their
    /// children and what they depend on were compared; the rest of the configuration was not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub summary: JsonSummary,
}

/// What a plan made with a tenant-scoped token leaves alone, by kind.
#[derive(Debug, Serialize)]
pub struct JsonOutOfScope {
    /// Who the plan was made as: "`user_admin` token of tenant `lumen`".
    pub token: String,
    /// Resources of the configuration the token cannot read: neither created nor deleted.
    pub not_visible: BTreeMap<String, usize>,
    /// Live resources the token reads but may not change that the configuration leaves out
    /// or does not manage yet: neither deleted nor adopted.
    pub read_only: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct JsonChange {
    /// `create`, `update`, `replace` or `delete`.
    pub action: &'static str,
    pub kind: &'static str,
    pub key: String,
    pub fields: Vec<JsonField>,
    /// For a replace, the field that forces it (`email`, `tenant`); for a delete, why
    /// (`removed`, `pruned`, `cascade`, `renamed`); otherwise null.
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct JsonField {
    pub path: String,
    /// `"(sensitive)"` in place of a sensitive value.
    pub before: Value,
    pub after: Value,
    /// Present (true) when the values are masked: they came from `${env:…}`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonFinding {
    pub code: String,
    pub kind: &'static str,
    pub key: String,
    pub message: String,
}

/// A risk: a finding, and whether it was acknowledged (null: apply refuses it).
#[derive(Debug, Serialize)]
pub struct JsonRisk {
    #[serde(flatten)]
    pub finding: JsonFinding,
    pub acknowledged: Option<JsonAck>,
}

/// How a risk was acknowledged: `{"by": "configuration", "reason": …}` or
/// `{"by": "flag", "flag": "--allow-limit-below-usage"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum JsonAck {
    Configuration { reason: Option<String> },
    Flag { flag: String },
}

#[derive(Debug, Serialize)]
pub struct JsonSummary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

impl From<&Plan> for JsonPlan {
    fn from(plan: &Plan) -> JsonPlan {
        let s = plan.summary();
        JsonPlan {
            format_version: FORMAT_VERSION,
            revision: plan.revision,
            changes: plan
                .changes
                .iter()
                .map(|c| JsonChange {
                    action: c.action.as_str(),
                    kind: c.kind.as_str(),
                    key: c.key.clone(),
                    fields: fields(c, &plan.sensitive.paths_of(c)),
                    reason: c.reason.as_ref().map(|r| r.code()),
                })
                .collect(),
            risks: plan
                .risks
                .iter()
                .map(|r| JsonRisk {
                    finding: JsonFinding {
                        code: r.code.clone(),
                        kind: r.kind.as_str(),
                        key: r.key.clone(),
                        message: r.message.clone(),
                    },
                    acknowledged: r.acknowledged.as_ref().map(|a| match a {
                        Acknowledged::Configuration { reason } => JsonAck::Configuration {
                            reason: reason.clone(),
                        },
                        Acknowledged::Flag(flag) => JsonAck::Flag { flag: flag.clone() },
                    }),
                })
                .collect(),
            warnings: plan
                .warnings
                .iter()
                .map(|w| JsonFinding {
                    code: w.code.clone(),
                    kind: w.kind.as_str(),
                    key: w.key.clone(),
                    message: w.message.clone(),
                })
                .collect(),
            unmanaged: plan
                .unmanaged
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), *n))
                .collect(),
            out_of_scope: plan.out_of_scope.as_ref().map(|o| {
                let by_kind = |m: &BTreeMap<crate::model::Kind, usize>| {
                    m.iter()
                        .map(|(k, n)| (k.as_str().to_string(), *n))
                        .collect()
                };
                JsonOutOfScope {
                    token: o.token.clone(),
                    not_visible: by_kind(&o.not_visible),
                    read_only: by_kind(&o.read_only),
                }
            }),
            partial: plan.is_partial(),
            targets: plan.targets.clone(),
            summary: JsonSummary {
                create: s.create,
                update: s.update,
                replace: s.replace,
                delete: s.delete,
            },
        }
    }
}

/// The changed fields; for a create every field of the new spec (before null), for a
/// delete every field of the old one (after null). Sensitive values are masked.
fn fields(c: &Change, sensitive: &[String]) -> Vec<JsonField> {
    fn leaves(v: &Option<Value>) -> Vec<(String, &Value)> {
        v.as_ref().map(super::leaves).unwrap_or_default()
    }
    let field = |path: String, before: Option<Value>, after: Option<Value>| {
        let secret = covers(sensitive, &path);
        let mask = |v: Option<Value>| match v {
            Some(_) if secret => Value::String(MASK.into()),
            Some(v) => v,
            None => Value::Null,
        };
        JsonField {
            before: mask(before),
            after: mask(after),
            sensitive: secret,
            path,
        }
    };
    match c.action {
        Action::Create => leaves(&c.after)
            .into_iter()
            .map(|(path, v)| field(path, None, Some(v.clone())))
            .collect(),
        Action::Delete => leaves(&c.before)
            .into_iter()
            .map(|(path, v)| field(path, Some(v.clone()), None))
            .collect(),
        Action::Update | Action::Replace => c
            .fields
            .iter()
            .map(|f| field(f.path.clone(), f.before.clone(), f.after.clone()))
            .collect(),
    }
}

/// The JSON plan, pretty-printed, with a final newline.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(&JsonPlan::from(plan)).unwrap_or_default();
    s.push('\n');
    s
}
