//! Wire types of the platform API (`/api/v1`), shared by the server and the client. They are
//! their own types so a refactor of the model never changes the published API by accident.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::Kind;

/// Path prefix of every API route.
pub const PREFIX: &str = "/api/v1";
/// Header carrying the change-set id of an apply (audit).
pub const CHANGE_SET_HEADER: &str = "x-tenantctl-change-set";
/// Header carrying the VCS commit an apply came from (audit).
pub const COMMIT_HEADER: &str = "x-tenantctl-commit";

/// The body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code (`stale_version`, `rule_violation`, `not_found`, …).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured context: the violations, the expected and actual versions, …
    #[serde(default)]
    pub details: serde_json::Value,
}

/// What an operation of a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Create or replace the spec of a resource.
    Put,
    /// Delete a resource (its children go with it).
    Delete,
    /// Mark a resource as managed by tenantctl without changing it.
    Adopt,
}

/// One operation of an atomic batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub op: OpKind,
    pub kind: Kind,
    /// Identity of the resource (`acme`, `acme/paris`, `alice@acme.example/acme`).
    pub key: String,
    /// The spec, for `put`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    /// Precondition: the resource's current version (0: must not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<i64>,
    /// Sets the protection flag, for `put`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

/// An atomic batch: all operations in one transaction, all applied or none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Precondition: the state's current revision (409 `stale_revision` when it moved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<i64>,
    /// Accept tenant limits below live usage (rule 9).
    #[serde(default)]
    pub allow_limit_below_usage: bool,
    pub operations: Vec<Operation>,
}

/// The outcome of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BatchResponse {
    /// The state's revision after the batch.
    pub revision: i64,
    /// How many operations were applied.
    pub applied: usize,
}

/// A single resource as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceBody {
    pub kind: Kind,
    pub key: String,
    pub version: i64,
    pub managed: bool,
    pub protected: bool,
    pub spec: serde_json::Value,
}

/// The body of `PUT` on a single resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBody {
    pub spec: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    /// Mark the resource as managed by tenantctl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
}
