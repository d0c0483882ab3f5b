//! The saved plan file of `plan --out FILE`, read by `apply --plan FILE`: JSON with a format
//! version, the tenantctl version that wrote it, the endpoint it was made against, the
//! options that shaped it, and the plan itself with full desired specs. The file has its own
//! types ([`SavedPlan`] and what it holds), converted from and to the domain [`Plan`] here,
//! so a refactor of the plan never changes the file by accident.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Kind;
use crate::plan::{
    Action, Change, FieldChange, Moved, OutOfScope, Plan, Reason, Risk, SensitiveField, Verb,
    Warning, Write,
};

/// Bumped on any change of this file's shape.
pub const SAVED_FORMAT_VERSION: u32 = 1;

/// The options a plan was made with, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOptions {
    pub prune: bool,
    pub max_delete_percent: u8,
    pub targets: Vec<String>,
}

/// A plan saved to a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub tenantctl_version: String,
    /// The platform the plan was made against (`embedded:<path>` for the local platform).
    pub endpoint: String,
    pub options: SavedOptions,
    pub plan: FilePlan,
}

/// The plan as the file holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePlan {
    pub revision: i64,
    pub changes: Vec<FileChange>,
    pub risks: Vec<FileFinding>,
    pub warnings: Vec<FileFinding>,
    pub unmanaged: BTreeMap<Kind, usize>,
    /// A plan made with a tenant-scoped token: what it left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<FileOutOfScope>,
    /// A partial plan: its `--target`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

/// See [`OutOfScope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOutOfScope {
    pub token: String,
    pub not_visible: BTreeMap<Kind, usize>,
    pub read_only: BTreeMap<Kind, usize>,
}

/// One change: see [`Change`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChange {
    pub kind: Kind,
    pub key: String,
    pub action: FileAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub fields: Vec<FileField>,
    pub reason: Option<FileReason>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<FileMoved>,
    pub ops: Vec<FileOp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileField {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FileReason {
    Email,
    Tenant,
    Removed,
    Pruned,
    Cascade { kind: Kind, key: String },
    Renamed { to: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMoved {
    pub kind: Kind,
    pub from: String,
    pub to: String,
}

/// One write apply sends: see [`Write`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileOp {
    pub op: FileVerb,
    pub kind: Kind,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
    pub if_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    /// `{pointer, source}` of each sensitive field of `spec`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<FileSensitive>,
}

/// A sensitive field of a put: see [`crate::plan::SensitiveField`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSensitive {
    pub pointer: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileVerb {
    Put,
    Adopt,
    Delete,
}

/// A risk or a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFinding {
    pub code: String,
    pub kind: Kind,
    pub key: String,
    pub message: String,
}

impl FileFinding {
    fn new(code: &str, kind: Kind, key: &str, message: &str) -> FileFinding {
        FileFinding {
            code: code.to_string(),
            kind,
            key: key.to_string(),
            message: message.to_string(),
        }
    }
}

impl From<&Plan> for FilePlan {
    fn from(p: &Plan) -> FilePlan {
        FilePlan {
            revision: p.revision,
            changes: p.changes.iter().map(FileChange::from).collect(),
            risks: (p.risks.iter())
                .map(|r| FileFinding::new(&r.code, r.kind, &r.key, &r.message))
                .collect(),
            warnings: (p.warnings.iter())
                .map(|w| FileFinding::new(&w.code, w.kind, &w.key, &w.message))
                .collect(),
            unmanaged: p.unmanaged.clone(),
            out_of_scope: p.out_of_scope.as_ref().map(|o| FileOutOfScope {
                token: o.token.clone(),
                not_visible: o.not_visible.clone(),
                read_only: o.read_only.clone(),
            }),
            targets: p.targets.clone(),
        }
    }
}

impl From<FilePlan> for Plan {
    fn from(p: FilePlan) -> Plan {
        Plan {
            revision: p.revision,
            changes: p.changes.into_iter().map(Change::from).collect(),
            risks: (p.risks.into_iter())
                .map(
                    |FileFinding {
                         code,
                         kind,
                         key,
                         message,
                     }| Risk {
                        code,
                        kind,
                        key,
                        message,
                    },
                )
                .collect(),
            warnings: (p.warnings.into_iter())
                .map(
                    |FileFinding {
                         code,
                         kind,
                         key,
                         message,
                     }| Warning {
                        code,
                        kind,
                        key,
                        message,
                    },
                )
                .collect(),
            unmanaged: p.unmanaged,
            out_of_scope: p.out_of_scope.map(|o| OutOfScope {
                token: o.token,
                not_visible: o.not_visible,
                read_only: o.read_only,
            }),
            targets: p.targets,
        }
    }
}

impl From<&Change> for FileChange {
    fn from(c: &Change) -> FileChange {
        FileChange {
            kind: c.kind,
            key: c.key.clone(),
            action: match c.action {
                Action::Create => FileAction::Create,
                Action::Update => FileAction::Update,
                Action::Replace => FileAction::Replace,
                Action::Delete => FileAction::Delete,
            },
            previous_key: c.previous_key.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
            fields: c
                .fields
                .iter()
                .map(|f| FileField {
                    path: f.path.clone(),
                    before: f.before.clone(),
                    after: f.after.clone(),
                })
                .collect(),
            reason: c.reason.as_ref().map(|r| match r {
                Reason::Email => FileReason::Email,
                Reason::Tenant => FileReason::Tenant,
                Reason::Removed => FileReason::Removed,
                Reason::Pruned => FileReason::Pruned,
                Reason::Cascade { kind, key } => FileReason::Cascade {
                    kind: *kind,
                    key: key.clone(),
                },
                Reason::Renamed { to } => FileReason::Renamed { to: to.clone() },
            }),
            moved: c
                .moved
                .iter()
                .map(|m| FileMoved {
                    kind: m.kind,
                    from: m.from.clone(),
                    to: m.to.clone(),
                })
                .collect(),
            ops: c
                .writes
                .iter()
                .map(|s| FileOp {
                    op: match s.verb {
                        Verb::Put => FileVerb::Put,
                        Verb::Adopt => FileVerb::Adopt,
                        Verb::Delete => FileVerb::Delete,
                    },
                    kind: s.kind,
                    key: s.key.clone(),
                    spec: s.spec.clone(),
                    if_version: s.if_version,
                    protected: s.protected,
                    sensitive: s
                        .sensitive
                        .iter()
                        .map(|f| FileSensitive {
                            pointer: f.pointer.clone(),
                            source: f.source.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<FileChange> for Change {
    fn from(c: FileChange) -> Change {
        Change {
            kind: c.kind,
            key: c.key,
            action: match c.action {
                FileAction::Create => Action::Create,
                FileAction::Update => Action::Update,
                FileAction::Replace => Action::Replace,
                FileAction::Delete => Action::Delete,
            },
            previous_key: c.previous_key,
            before: c.before,
            after: c.after,
            fields: c
                .fields
                .into_iter()
                .map(|f| FieldChange {
                    path: f.path,
                    before: f.before,
                    after: f.after,
                })
                .collect(),
            reason: c.reason.map(|r| match r {
                FileReason::Email => Reason::Email,
                FileReason::Tenant => Reason::Tenant,
                FileReason::Removed => Reason::Removed,
                FileReason::Pruned => Reason::Pruned,
                FileReason::Cascade { kind, key } => Reason::Cascade { kind, key },
                FileReason::Renamed { to } => Reason::Renamed { to },
            }),
            moved: c
                .moved
                .into_iter()
                .map(|m| Moved {
                    kind: m.kind,
                    from: m.from,
                    to: m.to,
                })
                .collect(),
            writes: c
                .ops
                .into_iter()
                .map(|o| Write {
                    verb: match o.op {
                        FileVerb::Put => Verb::Put,
                        FileVerb::Adopt => Verb::Adopt,
                        FileVerb::Delete => Verb::Delete,
                    },
                    kind: o.kind,
                    key: o.key,
                    spec: o.spec,
                    if_version: o.if_version,
                    protected: o.protected,
                    sensitive: o
                        .sensitive
                        .into_iter()
                        .map(|f| SensitiveField {
                            pointer: f.pointer,
                            source: f.source,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Why a saved plan cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the plan file `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] crate::output_file::OutputError),
    #[error("`{path}` is not a tenantctl plan file: {message}")]
    Invalid { path: String, message: String },
    #[error("`{path}` was written by tenantctl {found}; this is tenantctl {ours}")]
    Version {
        path: String,
        found: String,
        ours: String,
    },
    #[error("`{path}` was planned against `{planned}`, not `{current}`")]
    Endpoint {
        path: String,
        planned: String,
        current: String,
    },
}

impl SavedPlan {
    pub fn new(endpoint: &str, options: SavedOptions, plan: &Plan) -> SavedPlan {
        SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            tenantctl_version: env!("CARGO_PKG_VERSION").into(),
            endpoint: endpoint.into(),
            options,
            plan: FilePlan::from(plan),
        }
    }

    /// The domain plan the file holds.
    pub fn into_plan(self) -> Plan {
        self.plan.into()
    }

    /// Writes the file safely ([`crate::output_file`]; 0600 on Unix: a plan names users and
    /// tenants).
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| {
            crate::output_file::OutputError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e),
            }
        })?;
        text.push('\n');
        crate::output_file::write(path, text.as_bytes(), crate::output_file::Access::Private)?;
        Ok(())
    }

    /// Reads and checks a plan file.
    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
            path: p.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| SavedPlanError::Invalid {
                path: p.clone(),
                message: e.to_string(),
            })?;
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SAVED_FORMAT_VERSION) => {}
            Some(v) => {
                return Err(SavedPlanError::Invalid {
                    path: p,
                    message: format!(
                        "format_version {v} is not supported (expected {SAVED_FORMAT_VERSION})"
                    ),
                })
            }
            None => {
                return Err(SavedPlanError::Invalid {
                    path: p,
                    message: "no `format_version`".into(),
                })
            }
        }
        let found = value
            .get("tenantctl_version")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        if found != env!("CARGO_PKG_VERSION") {
            return Err(SavedPlanError::Version {
                path: p,
                found,
                ours: env!("CARGO_PKG_VERSION").into(),
            });
        }
        serde_json::from_value(value).map_err(|e| SavedPlanError::Invalid {
            path: p,
            message: e.to_string(),
        })
    }

    /// Refuses a plan made against another platform.
    pub fn check_endpoint(&self, path: &Path, current: &str) -> Result<(), SavedPlanError> {
        if self.endpoint.trim_end_matches('/') == current.trim_end_matches('/') {
            Ok(())
        } else {
            Err(SavedPlanError::Endpoint {
                path: path.display().to_string(),
                planned: self.endpoint.clone(),
                current: current.into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every variant the file carries survives a write and a read unchanged.
    #[test]
    fn a_plan_round_trips_through_the_file() {
        let step = |verb, key: &str| Write {
            verb,
            kind: Kind::Tenant,
            key: key.into(),
            spec: (verb != Verb::Delete).then(|| json!({ "plan": "essential" })),
            if_version: 3,
            protected: (verb == Verb::Put).then_some(true),
            sensitive: if verb == Verb::Put {
                vec![SensitiveField {
                    pointer: "/contact/phone".into(),
                    source: "${env:ACME_PHONE}".into(),
                }]
            } else {
                Vec::new()
            },
        };
        let change = |action, reason| Change {
            kind: Kind::Tenant,
            key: "acme".into(),
            action,
            previous_key: Some("acme-old".into()),
            before: Some(json!({ "plan": "free" })),
            after: None,
            fields: vec![FieldChange {
                path: "plan".into(),
                before: Some(json!("free")),
                after: None,
            }],
            reason,
            moved: vec![Moved {
                kind: Kind::Workspace,
                from: "acme-old/paris".into(),
                to: "acme/paris".into(),
            }],
            writes: vec![
                step(Verb::Put, "acme"),
                step(Verb::Adopt, "acme"),
                step(Verb::Delete, "acme-old"),
            ],
        };
        let reasons = [
            None,
            Some(Reason::Email),
            Some(Reason::Tenant),
            Some(Reason::Removed),
            Some(Reason::Pruned),
            Some(Reason::Cascade {
                kind: Kind::User,
                key: "bob@acme.example".into(),
            }),
            Some(Reason::Renamed { to: "acme".into() }),
        ];
        let actions = [
            Action::Create,
            Action::Update,
            Action::Replace,
            Action::Delete,
        ];
        let plan = Plan {
            revision: 42,
            changes: (reasons.iter().cloned())
                .zip(actions.iter().cycle())
                .map(|(reason, action)| change(*action, reason))
                .collect(),
            risks: vec![Risk {
                code: crate::plan::SELF_LOCKOUT.into(),
                kind: Kind::Membership,
                key: "bob@acme.example/acme".into(),
                message: "cannot demote itself".into(),
            }],
            warnings: vec![Warning {
                code: "protected_kept".into(),
                kind: Kind::Workspace,
                key: "acme/lyon".into(),
                message: "kept".into(),
            }],
            unmanaged: BTreeMap::from([(Kind::User, 2)]),
            out_of_scope: Some(crate::plan::OutOfScope {
                token: "`user_admin` token of tenant `acme`".into(),
                not_visible: BTreeMap::from([(Kind::Grant, 1)]),
                read_only: BTreeMap::from([(Kind::Plan, 2)]),
            }),
            targets: vec!["tenant/acme".into()],
        };
        let options = SavedOptions {
            prune: true,
            max_delete_percent: 30,
            targets: vec!["tenant/acme".into()],
        };
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("plan.json");
        SavedPlan::new("http://platform.example", options.clone(), &plan)
            .write(&path)
            .expect("write");
        let read = SavedPlan::read(&path).expect("read");
        assert_eq!(read.format_version, SAVED_FORMAT_VERSION);
        assert_eq!(read.options, options);
        assert_eq!(read.into_plan(), plan);
    }
}
