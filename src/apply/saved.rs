//! The saved plan file of `plan --out FILE`, read by `apply --plan FILE`: JSON with a format
//! version, the tenantctl version that wrote it, the endpoint it was made against, the
//! options that shaped it, and the plan itself with full desired specs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;

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
    pub plan: Plan,
}

/// Why a saved plan cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the plan file `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the plan file `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
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
    pub fn new(endpoint: &str, options: SavedOptions, plan: Plan) -> SavedPlan {
        SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            tenantctl_version: env!("CARGO_PKG_VERSION").into(),
            endpoint: endpoint.into(),
            options,
            plan,
        }
    }

    /// Writes the file (0600 on Unix: a plan names users and tenants).
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let err = |source| SavedPlanError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        text.push('\n');
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)
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
