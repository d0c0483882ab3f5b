//! The access decision, one for the whole product: may user U hold permission P in tenant T
//! (on workspace W), and may U use model M (in T). [`decide`] answers it on any [`State`]
//! (live or desired) with its trace: every step in the order decided, the verdict, the
//! [`Reason`] (an explicit deny told apart from a permission never granted and from an
//! admin-only model) and what is [`Effective`]. The platform enforces the same decision on
//! every request made as a user ([`Standing`], computed once per request, then
//! [`Standing::may`] quietly for each resource); `explain` and `GET /api/v1/access` render
//! the trace. Pure: no I/O.
//!
//! The order, for a permission: the user exists and is not blocked (an explicit deny); a
//! `super_admin` may do everything; the tenant exists and is not suspended (an explicit
//! deny); the user is a member; the membership's role (built-in or custom) exists. Then
//! ([`permission`]): a tenant-wide permission is held when the role holds it; one that
//! applies on a workspace is held there when the role holds it and sees the workspace
//! (`workspaces: all`, or the membership lists it), or when a grant of its action on that
//! workspace is given to the user, to the user's role or to the whole tenant (document
//! 001). For a model ([`model`]): blocked user; the model exists; a direct `deny` (explicit,
//! beats everything); `super_admin`; membership of an active tenant; a direct `allow`
//! (overrides the tenant level); otherwise a tenant of the user is granted the model, the
//! member's role holds `models.use`, and an `admin_only` grant needs the tenant's
//! `org_admin`.

mod admin;
mod model;
mod permission;
mod standing;
#[cfg(test)]
mod tests;

pub use admin::may_give_role;
pub use model::effective_defaults;
pub use standing::{standing, Standing, Workspaces};

use crate::model::{catalog, keys, ModelDefaults, State};

use super::did_you_mean;

/// What is asked about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question<'a> {
    /// May the user use `model` (through `tenant` only, when given)?
    Model {
        model: &'a str,
        tenant: Option<&'a str>,
    },
    /// Does the user hold a catalog permission (`project.create`), or a grant action of
    /// document 001 (`read`, `update`, `delete`, `create`: the project permission on one
    /// workspace), in `tenant` (any of the user's tenants when `None`), on `workspace` when
    /// given?
    Permission {
        permission: &'a str,
        tenant: Option<&'a str>,
        workspace: Option<&'a str>,
    },
}

/// What one step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The step allows (or lets the decision continue).
    Pass,
    /// The step refuses.
    Fail,
    /// Context only.
    Info,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// One step of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What was checked (`user status`, `membership`, `role`, `workspace grant`, …).
    pub check: &'static str,
    /// Which tenant the step is about, if any.
    pub tenant: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
}

/// The family of a decision's reason: what an application does about it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    /// Allowed.
    Granted,
    /// Refused on purpose: a blocked user, a suspended tenant, a direct `deny`.
    ExplicitDeny,
    /// Nothing gives it: not a member, a role without the permission, no grant.
    NotGranted,
    /// The tenant has the model, reserved to its administrators.
    AdminOnly,
    /// The question names something that does not exist.
    Unknown,
}

/// Why a decision went the way it did: the step that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    SuperAdmin,
    Role,
    Grant,
    DirectAllow,
    TenantGrant,
    UserBlocked,
    TenantSuspended,
    DirectDeny,
    NotMember,
    NotGranted,
    AdminOnly,
    UnknownUser,
    UnknownTenant,
    UnknownModel,
    UnknownWorkspace,
    UnknownPermission,
    UnknownRole,
}

impl Reason {
    pub fn kind(self) -> ReasonKind {
        use Reason::*;
        match self {
            SuperAdmin | Role | Grant | DirectAllow | TenantGrant => ReasonKind::Granted,
            UserBlocked | TenantSuspended | DirectDeny => ReasonKind::ExplicitDeny,
            NotMember | NotGranted => ReasonKind::NotGranted,
            AdminOnly => ReasonKind::AdminOnly,
            UnknownUser | UnknownTenant | UnknownModel | UnknownWorkspace | UnknownPermission
            | UnknownRole => ReasonKind::Unknown,
        }
    }

    /// The stable code (`direct_deny`).
    pub fn code(self) -> &'static str {
        use Reason::*;
        match self {
            SuperAdmin => "super_admin",
            Role => "role",
            Grant => "grant",
            DirectAllow => "direct_allow",
            TenantGrant => "tenant_grant",
            UserBlocked => "user_blocked",
            TenantSuspended => "tenant_suspended",
            DirectDeny => "direct_deny",
            NotMember => "not_member",
            NotGranted => "not_granted",
            AdminOnly => "admin_only",
            UnknownUser => "unknown_user",
            UnknownTenant => "unknown_tenant",
            UnknownModel => "unknown_model",
            UnknownWorkspace => "unknown_workspace",
            UnknownPermission => "unknown_permission",
            UnknownRole => "unknown_role",
        }
    }
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Granted => "granted",
            ReasonKind::ExplicitDeny => "explicit_deny",
            ReasonKind::NotGranted => "not_granted",
            ReasonKind::AdminOnly => "admin_only",
            ReasonKind::Unknown => "unknown",
        }
    }
}

/// What applies once decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Effective {
    /// For a model: its deployment and the generation settings that apply (the model's
    /// defaults overridden by those of `tenant`, the tenant it is used through, if any).
    Model {
        model: String,
        deployment_id: String,
        tenant: Option<String>,
        defaults: ModelDefaults,
    },
    /// For a permission: the user's access in the tenant (every permission its role holds,
    /// and the workspaces the role sees: `None` for all of them).
    Permissions {
        tenant: String,
        role: Option<String>,
        permissions: Vec<&'static str>,
        workspaces: Option<Vec<String>>,
    },
}

/// How a decision ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    pub reason: Reason,
    /// The verdict in words (empty when decided without a trace).
    pub message: String,
    pub effective: Option<Box<Effective>>,
}

/// A decision and how it was reached: its trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub question: String,
    pub steps: Vec<Step>,
    pub allowed: bool,
    pub reason: Reason,
    /// `allowed …` or `denied: …`.
    pub verdict: String,
    pub effective: Option<Effective>,
}

/// Where the steps of a decision go: a `Vec<Step>` keeps them (and the words of the
/// verdict), [`Quiet`] drops them unbuilt, so the platform's checks of every request run
/// the same code as `explain` without formatting a line.
pub trait Trace {
    /// Whether steps and words are kept.
    const ON: bool;
    fn step(&mut self, f: impl FnOnce() -> Step);
    /// `f()` when traced, else an empty string.
    fn words(&self, f: impl FnOnce() -> String) -> String {
        if Self::ON {
            f()
        } else {
            String::new()
        }
    }
}

impl Trace for Vec<Step> {
    const ON: bool = true;
    fn step(&mut self, f: impl FnOnce() -> Step) {
        self.push(f());
    }
}

/// Decides without a trace.
pub struct Quiet;

impl Trace for Quiet {
    const ON: bool = false;
    fn step(&mut self, _: impl FnOnce() -> Step) {}
}

pub(crate) fn step(
    check: &'static str,
    tenant: Option<&str>,
    outcome: Outcome,
    detail: String,
) -> Step {
    Step {
        check,
        tenant: tenant.map(str::to_string),
        outcome,
        detail,
    }
}

pub(crate) fn verdict<T: Trace>(
    t: &T,
    allowed: bool,
    reason: Reason,
    f: impl FnOnce() -> String,
) -> Verdict {
    Verdict {
        allowed,
        reason,
        message: t.words(f),
        effective: None,
    }
}

/// The catalog permission a question names: a permission of the catalog, or a grant
/// action (`read`, `update`, `delete`, `create`) standing for its project permission.
pub fn resolve_permission(name: &str) -> Option<&'static catalog::Permission> {
    let name = match name {
        "read" => catalog::grant_permission(crate::model::GrantAction::Read),
        "update" => catalog::grant_permission(crate::model::GrantAction::Update),
        "delete" => catalog::grant_permission(crate::model::GrantAction::Delete),
        "create" => catalog::grant_permission(crate::model::GrantAction::Create),
        other => other,
    };
    catalog::permission(name)
}

/// Answers `question` about the user `email` on `state`, with the trace of how.
pub fn decide(state: &State, email: &str, question: &Question) -> Decision {
    let email = email.trim().to_lowercase();
    let mut steps: Vec<Step> = Vec::new();
    let (text, v) = match *question {
        Question::Model { model, tenant } => (
            match tenant {
                Some(t) => format!("can `{email}` use model `{model}` in tenant `{t}`?"),
                None => format!("can `{email}` use model `{model}`?"),
            },
            model::decide(state, &email, model, tenant, &mut steps),
        ),
        Question::Permission {
            permission,
            tenant,
            workspace,
        } => {
            let on = match (workspace, tenant) {
                (Some(w), Some(t)) => format!(" on workspace `{w}` of tenant `{t}`"),
                (Some(w), None) => format!(" on workspace `{w}`"),
                (None, Some(t)) => format!(" in tenant `{t}`"),
                (None, None) => String::new(),
            };
            (
                format!("does `{email}` hold `{permission}`{on}?"),
                permission_question(state, &email, permission, tenant, workspace, &mut steps),
            )
        }
    };
    let verdict = if v.allowed {
        format!("allowed: {}", v.message)
    } else {
        format!("denied: {}", v.message)
    };
    Decision {
        question: text,
        steps,
        allowed: v.allowed,
        reason: v.reason,
        verdict,
        effective: v.effective.map(|e| *e),
    }
}

fn permission_question(
    state: &State,
    email: &str,
    name: &str,
    tenant: Option<&str>,
    workspace: Option<&str>,
    t: &mut Vec<Step>,
) -> Verdict {
    let Some(perm) = resolve_permission(name) else {
        let help = did_you_mean(name, catalog::PERMISSIONS.iter().map(|p| p.name))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        t.step(|| {
            step(
                "permission",
                None,
                Outcome::Fail,
                format!("`{name}` is not a permission of the catalog{help}"),
            )
        });
        return verdict(t, false, Reason::UnknownPermission, || {
            format!("`{name}` is not a permission")
        });
    };
    if perm.name != name {
        t.step(|| {
            step(
                "permission",
                None,
                Outcome::Info,
                format!(
                    "the grant action `{name}` is `{}` on one workspace",
                    perm.name
                ),
            )
        });
    }
    if let Some(tenant) = tenant {
        return match standing(state, email, tenant, t) {
            Ok(s) => permission::decide(state, &s, perm, workspace, t),
            Err(v) => v,
        };
    }
    // No tenant named: every tenant of the user is tried; the first that allows decides.
    let tenants = tenants_of(state, email);
    if tenants.is_empty() {
        return match standing::user(state, email, t) {
            Err(v) => v,
            Ok(u) if u.spec.system_role.is_some() => {
                standing::super_admin_step(email, t);
                verdict(t, true, Reason::SuperAdmin, || {
                    format!("`{email}` is `super_admin`")
                })
            }
            Ok(_) => {
                t.step(|| {
                    step(
                        "membership",
                        None,
                        Outcome::Fail,
                        format!("`{email}` is not a member of any tenant"),
                    )
                });
                verdict(t, false, Reason::NotMember, || {
                    format!("`{email}` is not a member of any tenant")
                })
            }
        };
    }
    let mut last = None;
    for tenant in tenants {
        let v = match standing(state, email, tenant, t) {
            Ok(s) => permission::decide(state, &s, perm, workspace, t),
            Err(v) => v,
        };
        if v.allowed {
            return v;
        }
        last = Some(v);
    }
    last.unwrap_or_else(|| verdict(t, false, Reason::NotMember, String::new))
}

/// The tenants `email` is a member of, in key order.
pub fn tenants_of<'s>(state: &'s State, email: &str) -> Vec<&'s str> {
    let prefix = format!("{email}/");
    state
        .memberships
        .range::<str, _>((
            std::ops::Bound::Included(prefix.as_str()),
            std::ops::Bound::Unbounded,
        ))
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(k, _)| keys::split2(k).map(|(_, t)| t))
        .collect()
}
