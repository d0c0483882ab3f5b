//! Wire types of registers and records (document 001): the data users keep in a workspace,
//! under `/api/v1/tenants/{tenant}/workspaces/{workspace}/registries`. Not resources: they
//! are never in `GET /state` and tenantctl never plans them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The body of `POST …/registries`: a new register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryCreate {
    /// Its key, unique in the workspace: lower-case letters, digits and `-`, starting with a
    /// letter or digit (at most 63), like every key.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub key: String,
    /// Its name (`Registre unique du personnel`).
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub description: Option<String>,
}

/// The body of `PUT …/registries/{registry}`: the register's new name and description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryUpdate {
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub description: Option<String>,
}

/// A register as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Registry {
    pub tenant: String,
    pub workspace: String,
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Grows on every update; the `If-Match` value of a later update or delete.
    pub version: i64,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
}

/// A page of registers, by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegistryPage {
    pub items: Vec<Registry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The body of `POST …/records` (a new record) and of `PUT …/records/{record}` (its new
/// content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// Its title (`Embauche de M. Durand`).
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// Its fields: any JSON object (absent: none).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A record as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// The id the platform gave it (`rec_…`); records are listed in creation order.
    pub id: String,
    pub tenant: String,
    pub workspace: String,
    /// The key of its register.
    pub registry: String,
    pub title: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Grows on every update; the `If-Match` value of a later update or delete.
    pub version: i64,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
}

/// A page of records, in creation order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordPage {
    pub items: Vec<Record>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}
