//! Wire types of the platform API (`/api/v1`), shared by the server and the client. They are
//! their own types so a refactor of the model never changes the published API by accident.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::Kind;

mod people;
mod registries;
pub use people::{
    AcceptRequest, AcceptResponse, Account, AccountStatus, Emails, EndedSessions, Invitation,
    InvitationList, InvitationRequest, InvitationStatus, InvitedTenant, Me, PasswordResetResponse,
    RedeemRequest, RedeemResponse, ResetAllResponse, ResetRequest, ResetRequested, SessionInfo,
    SessionList, SignInRequest, SignInResponse,
};
pub use registries::{
    Record, RecordBody, RecordPage, Registry, RegistryCreate, RegistryPage, RegistryUpdate,
};

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
    #[schemars(length(min = 1))]
    pub key: String,
    /// The spec, for `put`: an object of the kind's spec schema (`PlanSpec`, `TenantSpec`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub spec: Option<serde_json::Value>,
    /// Precondition: the resource's current version (0: must not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<i64>,
    /// Sets the protection flag, for `put`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    /// For `put`: the spec's fields whose value is sensitive (absent: keep what the platform
    /// knew; `[]`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub sensitive: Option<Vec<SensitiveField>>,
}

/// A field of a spec whose value is sensitive: it came from `${env:…}`. The platform keeps
/// its value out of the audit log and remembers `source`, for `export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SensitiveField {
    /// JSON pointer (RFC 6901) to a string of the spec: `/contact/phone`.
    #[schemars(length(min = 1, max = 1000))]
    pub pointer: String,
    /// The value as written, placeholders unexpanded: `${env:ACME_PHONE}`.
    #[schemars(length(min = 1, max = 1000))]
    pub source: String,
}

/// A sensitive field of one resource (`GET /api/v1/sensitive-fields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SensitiveEntry {
    pub kind: Kind,
    pub key: String,
    /// JSON pointer into the spec.
    pub pointer: String,
    /// The value as written: `${env:ACME_PHONE}`.
    pub source: String,
}

/// The sensitive fields of the resources the token may read, by kind, key and pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SensitiveFieldList {
    pub items: Vec<SensitiveEntry>,
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
    /// Check the whole batch (access, preconditions, rules) and write nothing: the answer is
    /// what the batch would get, with the revision unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
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
    /// The declared fields: an object of the kind's spec schema. The document describes
    /// each kind's answers with its own schema (`PlanResource`, …), whose `spec` is typed.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub spec: serde_json::Value,
    /// Users only: the platform's status beside the spec (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
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
    /// The spec's fields whose value is sensitive (absent: keep what the platform knew).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub sensitive: Option<Vec<SensitiveField>>,
}

/// A page of resources of one kind (`GET /api/v1/{plural}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourcePage {
    pub items: Vec<ResourceBody>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Who the token is (`GET /api/v1/whoami`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhoAmI {
    pub token_id: String,
    /// `system` or `tenant:SLUG`.
    pub scope: String,
    /// The token's own role (built-in or custom), if it has one: a tenant token without a
    /// user acts with it; with a user, it narrows the user's access.
    pub role: Option<String>,
    /// The user the token acts as (with that user's access in its tenant), if any.
    pub user: Option<String>,
    /// What the token may read and change, kind by kind (all ten kinds, in dependency
    /// order). A plan made with the token covers only this: what it cannot read is out of
    /// scope, what it cannot change is an error before any write.
    #[serde(default)]
    pub access: Vec<KindAccess>,
}

/// How far a token reaches into one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Every resource of the kind.
    All,
    /// The resources of the token's tenant: the tenant itself, its workspaces, tenant
    /// models, grants and memberships; the users who are its members and their user models.
    Tenant,
    /// None.
    None,
}

/// What a token may do with one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KindAccess {
    pub kind: Kind,
    /// Which resources of the kind the token reads (`GET /state` holds exactly these).
    pub read: Reach,
    /// Which it may create, change or delete; `tenant` may come with limits (`note`) that
    /// the platform checks on each write.
    pub write: Reach,
    /// The limits of `write`, or who may write when the token may not, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /api/v1/tokens` (system tokens only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `system` or `tenant:SLUG`.
    #[schemars(regex(pattern = r"^(system|tenant:[a-z0-9][a-z0-9-]{0,62})$"))]
    pub scope: String,
    /// The token's own role: a built-in role (`org_admin`, `user_admin`, `billing_admin`,
    /// `member`) or a custom one. A tenant token without `user` acts with it (required
    /// then); with `user`, it can only narrow the user's access. Without it, a token acting
    /// as a user has exactly that user's access in its tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(org_admin|user_admin|billing_admin|[a-z0-9][a-z0-9-]{0,62})$"
    ))]
    pub role: Option<String>,
    /// The user the token acts as (a lower-case e-mail): with a tenant scope, the token has
    /// that user's access in the tenant; with the system scope, the user must be an active
    /// `super_admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,4}$"))]
    pub user: Option<String>,
    /// A note stored with the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub description: Option<String>,
    /// When the token stops working (RFC 3339, in the future); never, without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: Option<String>,
}

/// A new token, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenResponse {
    pub id: String,
    /// The secret; only its SHA-256 is stored.
    pub token: String,
}

/// A token as `GET /api/v1/tokens` lists it: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenInfo {
    /// `tok_…`: what `DELETE /api/v1/tokens/{token}` and the audit log name it by.
    pub id: String,
    /// `system` or `tenant:SLUG`.
    pub scope: String,
    /// The token's own role; null: it acts with its user's access whole.
    pub role: Option<String>,
    /// The user the token acts as.
    pub user: Option<String>,
    pub description: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; null: never expires.
    pub expires_at: Option<String>,
    /// RFC 3339; null: not revoked.
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`, at the time of the answer.
    pub status: TokenStatus,
}

/// Whether a token works, at the time of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// `GET /api/v1/tokens`: every token, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// `DELETE /api/v1/users/{email}/memberships?tenant=…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RemovedMemberships {
    pub revision: i64,
    /// Tenants the user was removed from.
    pub removed: Vec<String>,
}

/// Used and allowed amount of one resource (`limit` null: unlimited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    pub used: u64,
    pub limit: Option<u64>,
}

/// A tenant's plan usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TenantUsage {
    pub tenant: String,
    pub plan: String,
    pub status: String,
    pub users: Usage,
    pub workspaces: Usage,
    /// Registers in the tenant's workspaces.
    pub registries: Usage,
    /// Records in the tenant's registers.
    pub records: Usage,
}

/// Totals for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dashboard {
    pub revision: i64,
    pub tenants: u64,
    pub users: u64,
    pub blocked_users: u64,
    pub workspaces: u64,
    pub memberships: u64,
    pub pending_invitations: u64,
    pub plan_usage: Vec<TenantUsage>,
    /// The latest audit entries, newest first.
    pub recent_activity: Vec<AuditEntry>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// The state's revision the write produced.
    pub revision: i64,
    pub token_id: String,
    /// `put`, `delete`, `adopt`, `cascade_delete`, `cascade_update`, `create`, `invite`,
    /// `password_reset`, `password_reset_redeemed`, `reset_all_passwords`, `revoke`,
    /// `sign_in`, `sign_in_failed`, `sign_out`.
    pub op: String,
    pub kind: String,
    pub key: String,
    pub tenant: Option<String>,
    /// The resource before (`{version, managed, protected, spec}`), null if it did not exist.
    pub before: Option<serde_json::Value>,
    /// The resource after, null if deleted.
    pub after: Option<serde_json::Value>,
    /// `x-tenantctl-change-set` of the request.
    pub change_set: Option<String>,
    /// `x-tenantctl-commit` of the request.
    pub commit: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/apply-lock`: take the platform's apply lock, a lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyLockRequest {
    /// Who applies, for humans: `github-actions acme/platform run 123`, `alice@laptop`.
    #[schemars(length(min = 1, max = 200))]
    pub holder: String,
    /// The lease, in seconds (5 to 3600; default 60). Renew it before it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 3600))]
    pub ttl_seconds: Option<u32>,
    /// The change set of the apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub change_set: Option<String>,
}

/// `PUT /api/v1/apply-lock/{id}`: renew the lease.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyLockRenewal {
    /// The new lease from now, in seconds (5 to 3600; default: the one it was taken with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 3600))]
    pub ttl_seconds: Option<u32>,
}

/// The platform's apply lock, held by one apply at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApplyLock {
    /// Pass it to renew or release the lock.
    pub id: String,
    pub holder: String,
    /// The token that took it.
    pub token_id: String,
    pub change_set: Option<String>,
    /// RFC 3339.
    pub acquired_at: String,
    /// RFC 3339: the last renewal.
    pub renewed_at: String,
    /// RFC 3339: when the lease ends unless renewed.
    pub expires_at: String,
}

/// `GET /api/v1/apply-lock`: the lock, or null when nobody holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApplyLockStatus {
    pub lock: Option<ApplyLock>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: String,
}

/// One question to the access decision (`GET /api/v1/access` takes the same fields in its
/// query): a catalog permission (or a grant action `read`, `update`, `delete`, `create`),
/// optionally on a workspace, or a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessQuestion {
    /// The user asked about (an e-mail).
    #[schemars(length(min = 1, max = 320))]
    pub user: String,
    /// The tenant the user acts in.
    #[schemars(length(min = 1, max = 63))]
    pub tenant: String,
    /// A catalog permission (`project.create`) or a grant action (`read`, `update`,
    /// `delete`, `create`); give this or `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub permission: Option<String>,
    /// The workspace of the tenant the permission is asked on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub workspace: Option<String>,
    /// A model; give this or `permission`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub model: Option<String>,
}

/// `POST /api/v1/access/batch`: many questions in one request (at most 1,000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessBatchRequest {
    #[schemars(length(min = 1, max = 1000))]
    pub questions: Vec<AccessQuestion>,
}

/// The answers of `POST /api/v1/access/batch`, in the order of the questions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessBatchResponse {
    pub answers: Vec<AccessAnswer>,
}

/// Why the access decision went the way it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessReason {
    /// `granted`; `explicit_deny` (a blocked user, a suspended tenant, a direct `deny`);
    /// `not_granted` (nothing gives it); `admin_only` (the tenant's model is reserved to its
    /// administrators); `unknown` (the question names something that does not exist).
    #[schemars(extend("enum" = ["granted", "explicit_deny", "not_granted", "admin_only", "unknown"]))]
    pub kind: String,
    /// The step that decided: `super_admin`, `role`, `grant`, `direct_allow`,
    /// `tenant_grant`, `user_blocked`, `tenant_suspended`, `direct_deny`, `not_member`,
    /// `not_granted`, `admin_only`, `unknown_user`, `unknown_tenant`, `unknown_model`,
    /// `unknown_workspace`, `unknown_permission`, `unknown_role`.
    pub code: String,
}

/// One step of the decision, in the order decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessStep {
    /// What was checked (`user status`, `membership`, `role`, `workspace grant`, …).
    pub check: String,
    /// The tenant the step is about, if any.
    pub tenant: Option<String>,
    #[schemars(extend("enum" = ["pass", "fail", "info"]))]
    pub outcome: String,
    pub detail: String,
}

/// What applies once decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessEffective {
    /// For a model: its deployment and the generation settings that apply (the model's
    /// defaults overridden by those of `tenant`, when used through a tenant granted it).
    Model {
        model: String,
        deployment_id: String,
        tenant: Option<String>,
        defaults: crate::model::ModelDefaults,
    },
    /// For a permission: the user's access in the tenant.
    Permissions {
        tenant: String,
        role: Option<String>,
        /// Every permission held, implied ones included.
        permissions: Vec<String>,
        /// Whether the role sees every workspace of the tenant.
        all_workspaces: bool,
        /// The workspaces the role sees, when not all of them.
        workspaces: Vec<String>,
    },
}

/// The access decision's answer: the same decision and steps as `tenantctl explain
/// --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessAnswer {
    /// The question, in words.
    pub question: String,
    pub allowed: bool,
    pub reason: AccessReason,
    /// `allowed: …` or `denied: …`.
    pub verdict: String,
    pub steps: Vec<AccessStep>,
    pub effective: Option<AccessEffective>,
}

impl From<&crate::rules::access::Decision> for AccessAnswer {
    fn from(d: &crate::rules::access::Decision) -> AccessAnswer {
        use crate::rules::access::Effective;
        AccessAnswer {
            question: d.question.clone(),
            allowed: d.allowed,
            reason: AccessReason {
                kind: d.reason.kind().as_str().to_string(),
                code: d.reason.code().to_string(),
            },
            verdict: d.verdict.clone(),
            steps: d
                .steps
                .iter()
                .map(|s| AccessStep {
                    check: s.check.to_string(),
                    tenant: s.tenant.clone(),
                    outcome: s.outcome.as_str().to_string(),
                    detail: s.detail.clone(),
                })
                .collect(),
            effective: d.effective.as_ref().map(|e| match e {
                Effective::Model {
                    model,
                    deployment_id,
                    tenant,
                    defaults,
                } => AccessEffective::Model {
                    model: model.clone(),
                    deployment_id: deployment_id.clone(),
                    tenant: tenant.clone(),
                    defaults: defaults.clone(),
                },
                Effective::Permissions {
                    tenant,
                    role,
                    permissions,
                    workspaces,
                } => AccessEffective::Permissions {
                    tenant: tenant.clone(),
                    role: role.clone(),
                    permissions: permissions.iter().map(|p| p.to_string()).collect(),
                    all_workspaces: workspaces.is_none(),
                    workspaces: workspaces.clone().unwrap_or_default(),
                },
            }),
        }
    }
}
