//! The YAML document types: what a user writes, nested as in PRODUCT.md §1. Leaves reuse the
//! model's specs; tenants and users carry their children and the `previously`/`protected`
//! hints. [`Document::to_desired`] flattens a document into the model's [`State`].

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::keys::{self, Grantee};

mod flatten;
use crate::model::{
    Access, Contact, DateFormat, GrantAction, Kind, Language, Limits, MembershipSpec, ModelSpec,
    PlanSpec, Rename, RoleSpec, State, SystemRole, TenantModelSpec, TenantStatus, UserStatus,
};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

/// The `propertyNames` of a map keyed by identity key (rule 5), so that editors flag a bad
/// key as `validate` does.
fn key_names(kind: &str) -> serde_json::Value {
    serde_json::json!({
        "description": format!("A {kind} key: lower-case letters, digits and `-`, starting with a letter or digit (at most 63)."),
        "type": "string",
        "pattern": crate::rules::KEY_PATTERN,
        "maxLength": 63,
    })
}

/// The `propertyNames` of `users:`: e-mail addresses (rule 5).
fn user_names() -> serde_json::Value {
    serde_json::json!({
        "description": "A user's e-mail address (`alice@acme.example`), compared in lower case.",
        "type": "string",
        "pattern": crate::rules::USER_KEY_PATTERN,
        "maxLength": 254,
    })
}

/// A tenantctl configuration file: any of the sections, each a map keyed by identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "tenantctl configuration",
    description = "Desired state of a multi-tenant SaaS platform: plans, models, roles, tenants and users, keyed by identity."
)]
pub struct Document {
    /// Subscription plans and their limits, keyed by plan key (`essential`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = key_names("plan")))]
    pub plans: BTreeMap<String, PlanSpec>,
    /// AI models (LoRA deployments), keyed by model key (`sneaker-v2`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = key_names("model")))]
    pub models: BTreeMap<String, ModelSpec>,
    /// Custom tenant roles, keyed by role key, on top of the built-in `org_admin`,
    /// `billing_admin`, `user_admin` and `member`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = key_names("role")))]
    pub roles: BTreeMap<String, RoleSpec>,
    /// Tenants (organisations, companies, clients), keyed by slug (`acme`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = key_names("tenant")))]
    pub tenants: BTreeMap<String, TenantDecl>,
    /// Users, keyed by e-mail address (lower-case).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = user_names()))]
    pub users: BTreeMap<String, UserDecl>,
    /// Approvals of plan-time risks that apply would otherwise refuse, reviewed with the
    /// change they approve: `{code: limit_below_usage, kind: tenant, key: acme, reason: …}`,
    /// `{code: too_many_deletes, kind: user}`. May be written in any file; the entries of
    /// every file count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledge: Vec<super::AcknowledgeDecl>,
}

/// A tenant with its workspaces, model grants and granular grants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantDecl {
    /// Name shown to users (`Acme SAS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the tenant is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who to reach at the tenant.
    #[serde(default, skip_serializing_if = "Contact::is_empty")]
    pub contact: Contact,
    /// The plan the tenant subscribes to (a key of `plans:`).
    pub plan: String,
    /// Per-tenant overrides of the plan's limits.
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub limits: Limits,
    /// `active` or `suspended`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: TenantStatus,
    /// A protected tenant is never deleted by a plan, even when it leaves the YAML.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// The tenant's previous key: turns a rename into an update instead of delete + create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previously: Option<String>,
    /// Workspaces (sites, projects, companies) of the tenant, keyed by workspace key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = key_names("workspace")))]
    pub workspaces: BTreeMap<String, WorkspaceDecl>,
    /// Models granted to the tenant, keyed by model key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, TenantModelSpec>,
    /// Granular permissions on workspaces, inherited by their registries and records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantDecl>,
}

/// A workspace of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceDecl {
    /// Name shown to users (`Site de Paris`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// What the workspace is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A protected workspace is never deleted by a plan.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// The workspace's previous key in this tenant: turns a rename into an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previously: Option<String>,
}

/// Who a granular grant is given to: exactly one of `role`, `user` or `tenant: true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[schemars(transform = describe_variant_fields)]
pub enum GrantTo {
    /// Every member holding this role (built-in or custom).
    Role(String),
    /// One member, by e-mail.
    User(String),
    /// Every member of the tenant (`tenant: true`).
    Tenant(bool),
}

/// Gives the single field of each `GrantTo` variant the variant's description, so every
/// field of the schema is documented (editors show it on hover).
fn describe_variant_fields(schema: &mut schemars::Schema) {
    let Some(serde_json::Value::Array(alternatives)) = schema.get_mut("oneOf") else {
        return;
    };
    for alt in alternatives
        .iter_mut()
        .filter_map(serde_json::Value::as_object_mut)
    {
        let Some(description) = alt.get("description").cloned() else {
            continue;
        };
        if let Some(serde_json::Value::Object(props)) = alt.get_mut("properties") {
            for prop in props
                .values_mut()
                .filter_map(serde_json::Value::as_object_mut)
            {
                prop.entry("description")
                    .or_insert_with(|| description.clone());
            }
        }
    }
}

/// A granular permission on one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantDecl {
    /// The workspace (a key of this tenant's `workspaces:`).
    pub workspace: String,
    /// The grantee: `{ role: NAME }`, `{ user: EMAIL }` or `{ tenant: true }`.
    pub to: GrantTo,
    /// Granted actions: `read`, `update`, `delete`, `create`.
    pub actions: Vec<GrantAction>,
}

impl GrantDecl {
    pub fn grantee(&self) -> Grantee {
        match &self.to {
            GrantTo::Role(r) => Grantee::Role(r.clone()),
            GrantTo::User(u) => Grantee::User(u.to_lowercase()),
            GrantTo::Tenant(_) => Grantee::Tenant,
        }
    }
}

/// A user with their memberships and direct model grants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDecl {
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
    /// Platform-wide administrator role (`super_admin`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_role: Option<SystemRole>,
    /// A protected user is never deleted by a plan.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// The user's previous e-mail. An e-mail is never renamed: the old user is replaced
    /// by this one (delete + create), in one `replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previously: Option<String>,
    /// Tenants the user belongs to, keyed by tenant, with a role and workspaces.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub memberships: IndexMap<String, MembershipSpec>,
    /// Direct model grants, keyed by model: `allow` or `deny`, overriding the tenant level.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub models: IndexMap<String, Access>,
}

/// Where each resource of a [`Desired`] state was declared, as a JSON pointer into the merged
/// document (`/tenants/acme/workspaces/paris`), for placing diagnostics. Pointers follow from
/// the keys; only what the keys lose is kept: e-mails written with upper-case letters and the
/// index of each grant in its tenant's list.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// E-mail as compared (lower case) → as written, when the two differ.
    users: HashMap<String, String>,
    /// Grant key → its index in the tenant's `grants` list.
    grants: HashMap<String, usize>,
}

impl Origins {
    /// The key of the grant written at `index` of tenant `tenant`'s `grants:`.
    pub fn grant_at(&self, tenant: &str, index: usize) -> Option<&str> {
        self.grants
            .iter()
            .find(|(k, i)| {
                **i == index && keys::split_grant(k).is_some_and(|(t, _, _)| t == tenant)
            })
            .map(|(k, _)| k.as_str())
    }

    fn user(&self, email: &str) -> String {
        format!(
            "/users/{}",
            esc(self.users.get(email).map_or(email, String::as_str))
        )
    }

    /// The pointer of a resource's declaration; `None` for a malformed key.
    fn pointer(&self, kind: Kind, key: &str) -> Option<String> {
        let two = || keys::split2(key);
        Some(match kind {
            Kind::Plan => format!("/plans/{}", esc(key)),
            Kind::Model => format!("/models/{}", esc(key)),
            Kind::Role => format!("/roles/{}", esc(key)),
            Kind::Tenant => format!("/tenants/{}", esc(key)),
            Kind::Workspace => {
                let (t, w) = two()?;
                format!("/tenants/{}/workspaces/{}", esc(t), esc(w))
            }
            Kind::TenantModel => {
                let (t, m) = two()?;
                format!("/tenants/{}/models/{}", esc(t), esc(m))
            }
            Kind::Grant => {
                let (t, _, _) = keys::split_grant(key)?;
                format!("/tenants/{}/grants/{}", esc(t), self.grants.get(key)?)
            }
            Kind::User => self.user(key),
            Kind::Membership => {
                let (u, t) = two()?;
                format!("{}/memberships/{}", self.user(u), esc(t))
            }
            Kind::UserModel => {
                let (u, m) = two()?;
                format!("{}/models/{}", self.user(u), esc(m))
            }
        })
    }
}

/// The desired state: the flat [`State`], rename hints, and where each resource came from.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub state: State,
    pub renames: Vec<Rename>,
    pub origins: Origins,
    /// Pointers of a grant and of a later grant with the same workspace and grantee.
    pub duplicate_grants: Vec<(String, String)>,
    /// The rules' warnings, when validate computed them (the plan reuses them).
    pub warnings: Option<Vec<crate::rules::Violation>>,
    /// The `acknowledge:` entries of every file, in file order.
    pub acknowledgements: Vec<crate::plan::Acknowledgement>,
    /// The fields whose value came from `${env:…}`, by resource ([`super::sensitive`]).
    pub sensitive: crate::plan::SensitiveFields,
    /// The values of the variables substituted: secrets, kept out of every output.
    pub secrets: Vec<String>,
}

impl Desired {
    /// The JSON pointer where a resource of the state was declared.
    pub fn origin(&self, kind: Kind, key: &str) -> Option<String> {
        if !self.state.contains(kind, key) {
            return None;
        }
        self.origins.pointer(kind, key)
    }
}

fn esc(s: &str) -> String {
    if s.contains(['~', '/']) {
        s.replace('~', "~0").replace('/', "~1")
    } else {
        s.to_string()
    }
}

impl Document {
    /// Flattens a copy of the document; see [`Document::into_desired`].
    pub fn to_desired(&self) -> Desired {
        self.clone().into_desired()
    }
}

impl State {
    /// The nested document of this state (for `export`): the inverse of
    /// [`Document::to_desired`], without rename hints.
    pub fn to_document(&self) -> Document {
        let mut doc = Document {
            plans: self
                .plans
                .iter()
                .map(|(k, e)| (k.clone(), e.spec.clone()))
                .collect(),
            models: self
                .models
                .iter()
                .map(|(k, e)| (k.clone(), e.spec.clone()))
                .collect(),
            roles: self
                .roles
                .iter()
                .map(|(k, e)| (k.clone(), e.spec.clone()))
                .collect(),
            ..Document::default()
        };
        for (k, e) in &self.tenants {
            let t = &e.spec;
            doc.tenants.insert(
                k.clone(),
                TenantDecl {
                    display_name: t.display_name.clone(),
                    description: t.description.clone(),
                    contact: t.contact.clone(),
                    plan: t.plan.clone(),
                    limits: t.limits.clone(),
                    status: t.status,
                    protected: e.protected,
                    ..TenantDecl::default()
                },
            );
        }
        for (k, e) in &self.workspaces {
            if let Some((t, w)) = keys::split2(k) {
                if let Some(td) = doc.tenants.get_mut(t) {
                    td.workspaces.insert(
                        w.to_string(),
                        WorkspaceDecl {
                            display_name: e.spec.display_name.clone(),
                            description: e.spec.description.clone(),
                            protected: e.protected,
                            previously: None,
                        },
                    );
                }
            }
        }
        for (k, e) in &self.tenant_models {
            if let Some((t, m)) = keys::split2(k) {
                if let Some(td) = doc.tenants.get_mut(t) {
                    td.models.insert(m.to_string(), e.spec.clone());
                }
            }
        }
        for (k, e) in &self.grants {
            if let Some((t, w, g)) = keys::split_grant(k) {
                if let Some(td) = doc.tenants.get_mut(t) {
                    let to = match g {
                        Grantee::Role(r) => GrantTo::Role(r),
                        Grantee::User(u) => GrantTo::User(u),
                        Grantee::Tenant => GrantTo::Tenant(true),
                    };
                    td.grants.push(GrantDecl {
                        workspace: w.to_string(),
                        to,
                        actions: e.spec.actions.clone(),
                    });
                }
            }
        }
        for (k, e) in &self.users {
            let u = &e.spec;
            doc.users.insert(
                k.clone(),
                UserDecl {
                    first_name: u.first_name.clone(),
                    last_name: u.last_name.clone(),
                    language: u.language,
                    date_format: u.date_format,
                    status: u.status,
                    system_role: u.system_role,
                    protected: e.protected,
                    ..UserDecl::default()
                },
            );
        }
        for (k, e) in &self.memberships {
            if let Some((u, t)) = keys::split2(k) {
                if let Some(ud) = doc.users.get_mut(u) {
                    ud.memberships.insert(t.to_string(), e.spec.clone());
                }
            }
        }
        for (k, e) in &self.user_models {
            if let Some((u, m)) = keys::split2(k) {
                if let Some(ud) = doc.users.get_mut(u) {
                    ud.models.insert(m.to_string(), e.spec.access);
                }
            }
        }
        doc
    }
}
