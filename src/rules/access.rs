//! The access decision: can a user use a model, hold a catalog permission, or perform an
//! action on a workspace, over any [`State`] (live or desired). [`decide`] is the one
//! function that answers it, and returns its trace: the steps in the order decided and the
//! verdict. Pure: the `explain` command fetches the state and renders the trace.
//!
//! Model access, in the order decided: the user must be a member of a tenant (of `--tenant`
//! when given); a direct user-model grant decides alone (`deny` beats every tenant grant,
//! `allow` overrides a missing tenant grant); otherwise a tenant of the user must be granted
//! the model, and when the grant is `admin_only` the user must be that tenant's `org_admin`.

use serde::Serialize;

use super::{did_you_mean, role_sees_all_workspaces, ORG_ADMIN};
use crate::model::keys::{self, Grantee};
use crate::model::{catalog, Access, GrantAction, State};

/// What is asked about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question<'a> {
    /// May the user use `model` (through `tenant` only, when given)?
    Model {
        model: &'a str,
        tenant: Option<&'a str>,
    },
    /// Does the user hold a catalog permission (`project.create`), in `tenant` when given?
    Permission {
        permission: &'a str,
        tenant: Option<&'a str>,
    },
    /// May the user perform a grant action on workspace `workspace` of `tenant`?
    WorkspaceAction {
        action: GrantAction,
        tenant: &'a str,
        workspace: &'a str,
    },
}

/// Answers `question` about the user `email` on `state`, with the trace of how.
pub fn decide(state: &State, email: &str, question: &Question) -> Decision {
    match *question {
        Question::Model { model, tenant } => model_access(state, email, model, tenant),
        Question::Permission {
            permission: p,
            tenant,
        } => permission(state, email, p, tenant),
        Question::WorkspaceAction {
            action,
            tenant,
            workspace,
        } => workspace_action(state, email, action, tenant, workspace),
    }
}

/// What one step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The step allows (or lets the decision continue).
    Pass,
    /// The step refuses.
    Fail,
    /// Context only.
    Info,
}

/// One step of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What was checked (`membership`, `direct grant`, `tenant grant`, `admin-only`, …).
    pub check: String,
    /// Which tenant the step is about, if any.
    pub tenant: Option<String>,
    pub outcome: Outcome,
    pub detail: String,
}

/// A decision and how it was reached: its trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub question: String,
    pub steps: Vec<Step>,
    pub allowed: bool,
    pub verdict: String,
}

fn step(check: &str, tenant: Option<&str>, outcome: Outcome, detail: String) -> Step {
    Step {
        check: check.to_string(),
        tenant: tenant.map(str::to_string),
        outcome,
        detail,
    }
}

/// The user's memberships as (tenant, role, workspaces), restricted to `tenant` when given.
fn memberships<'a>(
    state: &'a State,
    email: &str,
    tenant: Option<&str>,
) -> Vec<(&'a str, &'a str, &'a [String])> {
    let prefix = format!("{email}/");
    state
        .memberships
        .range::<str, _>((
            std::ops::Bound::Included(prefix.as_str()),
            std::ops::Bound::Unbounded,
        ))
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(k, e)| {
            keys::split2(k).map(|(_, t)| (t, e.spec.role.as_str(), e.spec.workspaces.as_slice()))
        })
        .filter(|(t, _, _)| tenant.is_none_or(|want| want == *t))
        .collect()
}

fn not_member(state: &State, email: &str, tenant: Option<&str>, question: String) -> Decision {
    let detail = match (state.users.contains_key(email), tenant) {
        (false, _) => format!("`{email}` is not a user of the platform"),
        (true, Some(t)) => format!("`{email}` is not a member of tenant `{t}`"),
        (true, None) => format!("`{email}` is not a member of any tenant"),
    };
    Decision {
        question,
        steps: vec![step("membership", tenant, Outcome::Fail, detail.clone())],
        allowed: false,
        verdict: format!("denied: {detail}"),
    }
}

/// A blocked user cannot sign in, so can do nothing: the step that says so, if it applies.
fn blocked(state: &State, email: &str) -> Option<Step> {
    state
        .users
        .get(email)
        .filter(|u| u.spec.status == crate::model::UserStatus::Blocked)
        .map(|_| {
            step(
                "user status",
                None,
                Outcome::Fail,
                format!("`{email}` is blocked and cannot sign in"),
            )
        })
}

/// Whether `email` may use `model`.
fn model_access(state: &State, email: &str, model: &str, tenant: Option<&str>) -> Decision {
    let email = email.to_lowercase();
    let question = match tenant {
        Some(t) => format!("can `{email}` use model `{model}` in tenant `{t}`?"),
        None => format!("can `{email}` use model `{model}`?"),
    };
    let ms = memberships(state, &email, tenant);
    if ms.is_empty() {
        return not_member(state, &email, tenant, question);
    }
    let mut steps = Vec::new();
    if !state.models.contains_key(model) {
        let help = did_you_mean(model, state.models.keys().map(String::as_str))
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        steps.push(step(
            "model",
            None,
            Outcome::Fail,
            format!("model `{model}` does not exist{help}"),
        ));
        return Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: model `{model}` does not exist"),
        };
    }
    for (t, role, _) in &ms {
        steps.push(step(
            "membership",
            Some(t),
            Outcome::Pass,
            format!("member of `{t}` with role `{role}`"),
        ));
    }
    if let Some(b) = blocked(state, &email) {
        steps.push(b);
        return Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: `{email}` is blocked"),
        };
    }
    match state
        .user_models
        .get(&keys::join(&[&email, model]))
        .map(|e| e.spec.access)
    {
        Some(Access::Deny) => {
            steps.push(step(
                "direct grant",
                None,
                Outcome::Fail,
                format!(
                    "`{email}` has a direct `deny` on `{model}`; it overrides every tenant grant"
                ),
            ));
            return Decision {
                question,
                steps,
                allowed: false,
                verdict: "denied by a direct user-model grant (`deny`)".into(),
            };
        }
        Some(Access::Allow) => {
            steps.push(step(
                "direct grant",
                None,
                Outcome::Pass,
                format!(
                    "`{email}` has a direct `allow` on `{model}`; it overrides the tenant level"
                ),
            ));
            return Decision {
                question,
                steps,
                allowed: true,
                verdict: "allowed by a direct user-model grant (`allow`)".into(),
            };
        }
        None => steps.push(step(
            "direct grant",
            None,
            Outcome::Info,
            format!("no direct grant of `{model}` to `{email}`; the tenant level decides"),
        )),
    }
    let mut allowed_by: Option<String> = None;
    let mut last_refusal = String::new();
    for (t, role, _) in &ms {
        let Some(grant) = state.tenant_models.get(&keys::join(&[t, model])) else {
            steps.push(step(
                "tenant grant",
                Some(t),
                Outcome::Fail,
                format!("tenant `{t}` is not granted `{model}`"),
            ));
            last_refusal = format!("no tenant of `{email}` is granted `{model}`");
            continue;
        };
        steps.push(step(
            "tenant grant",
            Some(t),
            Outcome::Pass,
            format!("tenant `{t}` is granted `{model}`"),
        ));
        if grant.spec.admin_only {
            if *role == ORG_ADMIN {
                steps.push(step(
                    "admin-only",
                    Some(t),
                    Outcome::Pass,
                    format!("`{model}` is admin-only in `{t}`, and `{email}` is its `org_admin`"),
                ));
            } else {
                steps.push(step("admin-only", Some(t), Outcome::Fail, format!("`{model}` is admin-only in `{t}`, and `{email}` is `{role}`, not `org_admin`")));
                last_refusal = format!("`{model}` is reserved to the administrators of `{t}`");
                continue;
            }
        }
        allowed_by.get_or_insert_with(|| t.to_string());
    }
    match allowed_by {
        Some(t) => Decision {
            question,
            steps,
            allowed: true,
            verdict: format!("allowed through tenant `{t}`"),
        },
        None => Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: {last_refusal}"),
        },
    }
}

/// The permissions of a role: a custom role's list, a built-in role's from the catalog;
/// `org_admin` holds every permission.
fn role_permissions(state: &State, role: &str) -> Option<Vec<String>> {
    if role == ORG_ADMIN {
        return Some(
            catalog::PERMISSIONS
                .iter()
                .map(|p| p.name.to_string())
                .collect(),
        );
    }
    if let Some(b) = catalog::builtin_role(role) {
        return Some(b.permissions.iter().map(|p| p.to_string()).collect());
    }
    state.roles.get(role).map(|r| r.spec.permissions.clone())
}

/// Whether `email` holds a catalog permission (`project.create`) in a tenant.
fn permission(state: &State, email: &str, permission: &str, tenant: Option<&str>) -> Decision {
    let email = email.to_lowercase();
    let question = match tenant {
        Some(t) => format!("does `{email}` hold `{permission}` in tenant `{t}`?"),
        None => format!("does `{email}` hold `{permission}`?"),
    };
    let ms = memberships(state, &email, tenant);
    if ms.is_empty() {
        return not_member(state, &email, tenant, question);
    }
    let mut steps = Vec::new();
    if let Some(b) = blocked(state, &email) {
        steps.push(b);
        return Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: `{email}` is blocked"),
        };
    }
    let mut allowed_in: Vec<&str> = Vec::new();
    for (t, role, _) in &ms {
        steps.push(step(
            "membership",
            Some(t),
            Outcome::Pass,
            format!("member of `{t}` with role `{role}`"),
        ));
        match role_permissions(state, role) {
            Some(perms) if *role == ORG_ADMIN || perms.iter().any(|p| p == permission) => {
                let why = if *role == ORG_ADMIN {
                    "holds every permission".to_string()
                } else {
                    format!("includes `{permission}`")
                };
                steps.push(step(
                    "role",
                    Some(t),
                    Outcome::Pass,
                    format!("role `{role}` {why}"),
                ));
                allowed_in.push(t);
            }
            Some(_) => steps.push(step(
                "role",
                Some(t),
                Outcome::Fail,
                format!("role `{role}` does not include `{permission}`"),
            )),
            None => steps.push(step(
                "role",
                Some(t),
                Outcome::Fail,
                format!("role `{role}` does not exist"),
            )),
        }
    }
    if allowed_in.is_empty() {
        Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: no role of `{email}` includes `{permission}`"),
        }
    } else {
        Decision {
            question,
            steps,
            allowed: true,
            verdict: format!(
                "allowed in {}",
                allowed_in
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Whether `email` may perform a grant action (`read`, `update`, `delete`, `create`) on a
/// workspace of `tenant`: the role must see the workspace, then a grant to the user, to the
/// user's role or to the whole tenant must give the action. `org_admin` may do everything.
fn workspace_action(
    state: &State,
    email: &str,
    action: GrantAction,
    tenant: &str,
    workspace: &str,
) -> Decision {
    let email = email.to_lowercase();
    let a = action.as_str();
    let question = format!("can `{email}` {a} in workspace `{workspace}` of tenant `{tenant}`?");
    let ms = memberships(state, &email, Some(tenant));
    let Some((_, role, workspaces)) = ms.first().copied() else {
        return not_member(state, &email, Some(tenant), question);
    };
    let t = Some(tenant);
    let mut steps = vec![step(
        "membership",
        t,
        Outcome::Pass,
        format!("member of `{tenant}` with role `{role}`"),
    )];
    if let Some(b) = blocked(state, &email) {
        steps.push(b);
        return Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: `{email}` is blocked"),
        };
    }
    let ws_key = keys::join(&[tenant, workspace]);
    if !state.workspaces.contains_key(&ws_key) {
        steps.push(step(
            "workspace",
            t,
            Outcome::Fail,
            format!("workspace `{workspace}` does not exist in `{tenant}`"),
        ));
        return Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: workspace `{workspace}` does not exist"),
        };
    }
    if role == ORG_ADMIN {
        steps.push(step(
            "role",
            t,
            Outcome::Pass,
            format!("`{ORG_ADMIN}` administers every workspace of `{tenant}`"),
        ));
        return Decision {
            question,
            steps,
            allowed: true,
            verdict: format!("allowed: `{email}` is `{ORG_ADMIN}` of `{tenant}`"),
        };
    }
    if role_sees_all_workspaces(state, role) {
        steps.push(step(
            "role",
            t,
            Outcome::Pass,
            format!("role `{role}` sees every workspace of `{tenant}`"),
        ));
    } else if workspaces.iter().any(|w| w == workspace) {
        steps.push(step(
            "role",
            t,
            Outcome::Pass,
            format!("the membership lists workspace `{workspace}`"),
        ));
    } else {
        steps.push(step("role", t, Outcome::Fail, format!("role `{role}` sees selected workspaces only, and the membership does not list `{workspace}`")));
        return Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: `{email}` does not see workspace `{workspace}`"),
        };
    }
    let mut by = None;
    for (grantee, label) in [
        (
            Grantee::User(email.clone()),
            format!("grant to user `{email}`"),
        ),
        (
            Grantee::Role(role.to_string()),
            format!("grant to role `{role}`"),
        ),
        (
            Grantee::Tenant,
            format!("grant to the whole tenant `{tenant}`"),
        ),
    ] {
        match state.grants.get(&keys::grant(tenant, workspace, &grantee)) {
            Some(g) if g.spec.actions.contains(&action) => {
                steps.push(step(
                    "workspace grant",
                    t,
                    Outcome::Pass,
                    format!("{label} on `{workspace}` gives `{a}`"),
                ));
                by.get_or_insert(label);
            }
            Some(g) => {
                let given: Vec<&str> = g.spec.actions.iter().map(|x| x.as_str()).collect();
                steps.push(step(
                    "workspace grant",
                    t,
                    Outcome::Fail,
                    format!(
                        "{label} on `{workspace}` gives {} but not `{a}`",
                        given.join(", ")
                    ),
                ));
            }
            None => steps.push(step(
                "workspace grant",
                t,
                Outcome::Info,
                format!("no {label} on `{workspace}`"),
            )),
        }
    }
    match by {
        Some(label) => Decision {
            question,
            steps,
            allowed: true,
            verdict: format!("allowed by the {label}"),
        },
        None => Decision {
            question,
            steps,
            allowed: false,
            verdict: format!("denied: no grant on `{workspace}` gives `{a}` to `{email}`"),
        },
    }
}
