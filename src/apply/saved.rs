//! The saved plan file of `plan --out FILE`, read by `apply --plan FILE` and `show FILE`:
//! JSON with a format version, the tenantctl version that wrote it, the endpoint it was made
//! against, the options that shaped it (the flags are recorded, so apply needs none), the plan
//! itself with full desired specs and its acknowledged risks, and a SHA-256 digest of all of
//! that, so that a plan edited after review is refused. The file keeps sensitive values (apply
//! must send them): it is written 0600 and is a secret. It has its own types ([`SavedPlan`] and
//! what it holds), converted from and to the domain [`Plan`] in `convert`, so a refactor of
//! the plan never changes the file by accident.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use sha2::{Digest, Sha256};

use crate::model::Kind;
use crate::plan::{
    Acknowledged, Action, Change, FieldChange, Moved, OutOfScope, Plan, Reason, Risk,
    SensitiveField, Verb, Warning, Write,
};

/// Bumped on any change of this file's shape.
pub const SAVED_FORMAT_VERSION: u32 = 2;

/// The options a plan was made with: what shaped it (`prune`, `targets`, the delete
/// guard's percentage) and what it accepted (`allow_limit_below_usage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOptions {
    pub prune: bool,
    pub max_delete_percent: u8,
    pub targets: Vec<String>,
    #[serde(default)]
    pub allow_limit_below_usage: bool,
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
    /// `sha256:` and the hex SHA-256 of the JSON of every other field, as written.
    #[serde(default)]
    pub digest: String,
}

/// What the digest covers: the file without its digest.
#[derive(Serialize)]
struct Content<'a> {
    format_version: u32,
    tenantctl_version: &'a str,
    endpoint: &'a str,
    options: &'a SavedOptions,
    plan: &'a FilePlan,
}

/// The plan as the file holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePlan {
    pub revision: i64,
    pub changes: Vec<FileChange>,
    pub risks: Vec<FileFinding>,
    pub warnings: Vec<FileFinding>,
    pub unmanaged: BTreeMap<Kind, usize>,
    /// Which fields of the changed resources are sensitive: see [`crate::plan::Sensitivity`].
    #[serde(default, skip_serializing_if = "FileSensitivity::is_empty")]
    pub sensitive: FileSensitivity,
    /// A plan made with a tenant-scoped token: what it left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<FileOutOfScope>,
    /// A partial plan: its `--target`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

/// The sensitive fields of the plan's resources, live and desired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSensitivity {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<FileSensitiveFields>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub desired: Vec<FileSensitiveFields>,
}

impl FileSensitivity {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.desired.is_empty()
    }
}

/// The sensitive fields of one resource, as JSON pointers into its spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSensitiveFields {
    pub kind: Kind,
    pub key: String,
    pub pointers: Vec<String>,
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
    /// For a risk: how it was approved, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<FileAck>,
}

/// How a risk was approved: see [`Acknowledged`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum FileAck {
    Configuration {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Flag {
        flag: String,
    },
}

impl FileFinding {
    fn new(code: &str, kind: Kind, key: &str, message: &str) -> FileFinding {
        FileFinding {
            code: code.to_string(),
            kind,
            key: key.to_string(),
            message: message.to_string(),
            acknowledged: None,
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
    #[error("`{path}` was changed after it was saved: its content does not match its digest; nothing was applied")]
    Tampered { path: String },
}

impl SavedPlanError {
    /// What to do next, shown apart from the message.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            SavedPlanError::Tampered { .. } => Some("a saved plan is applied as it was reviewed or not at all: make a new one with `tenantctl plan --out FILE`, review it, and apply that"),
            SavedPlanError::Version { .. } => Some("apply a plan with the tenantctl that made it, or plan again with this one"),
            SavedPlanError::Endpoint { .. } => Some("point tenantctl at the platform the plan was made against, or plan again"),
            _ => None,
        }
    }
}

impl SavedPlan {
    pub fn new(endpoint: &str, options: SavedOptions, plan: &Plan) -> SavedPlan {
        let mut saved = SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            tenantctl_version: env!("CARGO_PKG_VERSION").into(),
            endpoint: endpoint.into(),
            options,
            plan: FilePlan::from(plan),
            digest: String::new(),
        };
        saved.digest = saved.content_digest();
        saved
    }

    /// `sha256:<hex>` of the file's content without its digest.
    fn content_digest(&self) -> String {
        let content = Content {
            format_version: self.format_version,
            tenantctl_version: &self.tenantctl_version,
            endpoint: &self.endpoint,
            options: &self.options,
            plan: &self.plan,
        };
        let mut hasher = Sha256::new();
        // Serializing these types cannot fail (string keys, no custom serializers); an
        // error would leave the digest of nothing, which no file matches.
        let _ = serde_json::to_writer(HashWriter(&mut hasher), &content);
        let hash = hasher.finalize();
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        for b in hash {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The domain plan the file holds.
    pub fn into_plan(self) -> Plan {
        self.plan.into()
    }

    /// Writes the file safely ([`crate::output_file`]), 0600 on Unix from its creation: a
    /// plan names users and tenants, and keeps the values of sensitive fields.
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
        let saved: SavedPlan =
            serde_json::from_value(value).map_err(|e| SavedPlanError::Invalid {
                path: p.clone(),
                message: e.to_string(),
            })?;
        if saved.digest != saved.content_digest() {
            return Err(SavedPlanError::Tampered { path: p });
        }
        Ok(saved)
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

/// Feeds serialized bytes to the hasher, without building the JSON text.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

mod convert;

#[cfg(test)]
mod tests;
