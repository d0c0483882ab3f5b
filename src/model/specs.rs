//! The declared fields of each kind of resource. These types are the API bodies, the JSON
//! Schema of the YAML leaves, and what the diff compares; defaults are applied here so an
//! omitted field and its default never show as a change.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

/// Resource limits. In a plan, an absent limit is unlimited; on a tenant, an absent limit
/// keeps the plan's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Maximum number of workspaces (companies, sites, projects) in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<u32>,
    /// Maximum number of registries (registers) in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registries: Option<u32>,
    /// Maximum number of records (entries of registries) in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u32>,
    /// Maximum number of members of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
}

impl Limits {
    /// `self` with each absent limit taken from `base` (tenant overrides over plan limits).
    pub fn over(&self, base: &Limits) -> Limits {
        Limits {
            workspaces: self.workspaces.or(base.workspaces),
            registries: self.registries.or(base.registries),
            records: self.records.or(base.records),
            users: self.users.or(base.users),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// Billing period of a price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Billed every month.
    #[default]
    Month,
    /// Billed every year.
    Year,
}

/// The price of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Amount in minor units of the currency (cents): 4900 is 49.00.
    pub amount: u64,
    /// ISO 4217 currency code, upper-case (EUR, USD, JPY).
    #[schemars(regex(pattern = r"^[A-Z]{3}$"), example = &"EUR")]
    pub currency: String,
    /// Billing period.
    #[serde(default)]
    pub interval: Interval,
}

/// A subscription plan and the limits it gives its tenants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Name shown to users (`Essentiel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the plan is for, shown to users (`Recommandé pour les PME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Limits of every tenant on this plan; an absent limit is unlimited.
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub limits: Limits,
    /// Price of the plan; absent for a free plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
}

/// Generation defaults of a model, or a tenant's overrides of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelDefaults {
    /// Default LoRA weight (strength of the fine-tuned model), usually between 0 and 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 5.0))]
    pub lora_weight: Option<f64>,
    /// Default guidance scale (how closely generation follows the prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 30.0))]
    pub guidance: Option<f64>,
    /// Preset prompts by name (`generation`, `upscale`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prompts: BTreeMap<String, String>,
}

impl ModelDefaults {
    pub fn is_empty(&self) -> bool {
        *self == ModelDefaults::default()
    }
}

/// An AI model (a LoRA deployed on ComfyDeploy) that tenants can be granted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Name shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the model is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The ComfyDeploy deployment id that runs the model.
    #[schemars(example = &"cd-8f3a21")]
    pub deployment_id: String,
    /// Generation defaults.
    #[serde(default, skip_serializing_if = "ModelDefaults::is_empty")]
    pub defaults: ModelDefaults,
}

/// Which workspaces a member holding a role sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceScope {
    /// Every workspace of the tenant, like a manager; a `workspaces:` list is ignored.
    All,
    /// Only the workspaces listed in the membership.
    #[default]
    Selected,
}

/// A custom tenant role, on top of the built-in ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Name shown to users (`Contributeur`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `all`: members see every workspace of the tenant; `selected`: only those listed.
    #[serde(default)]
    pub workspaces: WorkspaceScope,
    /// Permissions from the platform's catalog (`project.create`, `models.use`, …).
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Contact of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Contact e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Contact phone number, international form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Name of the contact person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        *self == Contact::default()
    }
}

/// Whether a tenant may be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// In service.
    #[default]
    Active,
    /// Members cannot sign in; nothing is deleted.
    Suspended,
}

/// A tenant (organisation, company, client) without its children.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Name shown to users (`Acme SAS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the tenant is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who to reach at the tenant.
    #[serde(default, skip_serializing_if = "Contact::is_empty")]
    pub contact: Contact,
    /// The plan the tenant subscribes to.
    pub plan: String,
    /// Per-tenant overrides of the plan's limits.
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub limits: Limits,
    /// `active` or `suspended`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: TenantStatus,
}

/// A workspace (site, project, company) of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSpec {
    /// Name shown to users (`Site de Paris`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the workspace is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A model granted to a tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantModelSpec {
    /// Only the tenant's `org_admin`s may use the model.
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin_only: bool,
    /// The tenant's overrides of the model's generation defaults.
    #[serde(default, skip_serializing_if = "ModelDefaults::is_empty")]
    pub defaults: ModelDefaults,
}

/// An action of a granular permission on a workspace (and its registries and records).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GrantAction {
    /// See the workspace and its content.
    Read,
    /// Modify existing content.
    Update,
    /// Delete content.
    Delete,
    /// Create content.
    Create,
}

impl GrantAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantAction::Read => "read",
            GrantAction::Update => "update",
            GrantAction::Delete => "delete",
            GrantAction::Create => "create",
        }
    }
}

/// A granular permission; the workspace and the grantee are in the key
/// (`tenant/workspace/role:NAME`, `…/user:EMAIL`, `…/tenant`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// Granted actions, sorted, without duplicates.
    pub actions: Vec<GrantAction>,
}

/// Interface language of a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// French.
    Fr,
    /// Japanese.
    Ja,
}

/// How dates are shown to a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DateFormat {
    /// Day first: 31/12/2026.
    #[default]
    #[serde(rename = "dd/MM/yyyy")]
    DayFirst,
    /// Month first: 12/31/2026.
    #[serde(rename = "MM/dd/yyyy")]
    MonthFirst,
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May sign in.
    #[default]
    Active,
    /// Cannot sign in; memberships are kept.
    Blocked,
}

/// A platform-wide role, above every tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemRole {
    /// Administers the whole platform: plans, models, roles and every tenant.
    SuperAdmin,
}

/// A user, without memberships and model grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Interface language: `en`, `fr` or `ja`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub language: Language,
    /// `dd/MM/yyyy` or `MM/dd/yyyy`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub date_format: DateFormat,
    /// `active` or `blocked`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: UserStatus,
    /// Platform-wide administrator role, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_role: Option<SystemRole>,
}

/// A user's membership of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipSpec {
    /// A built-in role (`org_admin`, `billing_admin`, `user_admin`, `member`) or a custom role.
    #[schemars(example = &"member")]
    pub role: String,
    /// Workspaces of the tenant the member is given (roles with `workspaces: selected`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
}

/// A direct model grant to a user, overriding the tenant level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// The user may use the model even if no tenant of theirs is granted it.
    Allow,
    /// The user may not use the model even if a tenant of theirs is granted it.
    Deny,
}

/// A direct model grant to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserModelSpec {
    /// `allow` or `deny`.
    pub access: Access,
}
