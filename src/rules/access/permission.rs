//! A permission on a [`Standing`]: held through the role (on the workspaces it sees, for a
//! permission that applies on a workspace), or on one workspace through a grant of its
//! action to the user, to the user's role or to the whole tenant (document 001).

use crate::model::catalog::{self, On, Permission};
use crate::model::keys::{self, Grantee};
use crate::model::State;

use super::standing::{role_permissions, Standing, Workspaces};
use super::{did_you_mean, step, verdict, Effective, Outcome, Reason, Trace, Verdict};

/// Whether `s` holds `p` (on `workspace` when given), with the steps.
pub(super) fn decide<T: Trace>(
    state: &State,
    s: &Standing,
    p: &'static Permission,
    workspace: Option<&str>,
    t: &mut T,
) -> Verdict {
    let mut v = decide_inner(state, s, p, workspace, t);
    if T::ON {
        v.effective = Some(Box::new(Effective::Permissions {
            tenant: s.tenant.to_string(),
            role: s.role.map(str::to_string),
            permissions: s.permissions.names().collect(),
            workspaces: match s.workspaces {
                Workspaces::All => None,
                Workspaces::Listed(l) => Some(l.to_vec()),
            },
        }));
    }
    v
}

/// The permission of the catalog that gives `name` to `role` when the role does not name
/// it itself (`workspace.manage` gives `project.update`).
fn implied_by(state: &State, role: &str, name: &str) -> Option<&'static str> {
    let declared = |p: &str| match catalog::builtin_role(role) {
        Some(b) => b.permissions.contains(&p),
        None => state
            .roles
            .get(role)
            .is_some_and(|r| r.spec.permissions.iter().any(|x| x == p)),
    };
    if declared(name) {
        return None;
    }
    catalog::IMPLIES
        .iter()
        .find(|(holder, held)| held.contains(&name) && declared(holder))
        .map(|(holder, _)| *holder)
}

fn decide_inner<T: Trace>(
    state: &State,
    s: &Standing,
    p: &'static Permission,
    workspace: Option<&str>,
    t: &mut T,
) -> Verdict {
    let tenant = s.tenant;
    let name = p.name;
    if let Some(w) = workspace {
        if !state.workspaces.contains_key(&keys::join(&[tenant, w])) {
            t.step(|| {
                let prefix = format!("{tenant}/");
                let help = did_you_mean(
                    w,
                    state
                        .workspaces
                        .keys()
                        .filter_map(|k| k.strip_prefix(&prefix)),
                )
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
                step(
                    "workspace",
                    Some(tenant),
                    Outcome::Fail,
                    format!("workspace `{w}` does not exist in `{tenant}`{help}"),
                )
            });
            return verdict(t, false, Reason::UnknownWorkspace, || {
                format!("workspace `{w}` does not exist in `{tenant}`")
            });
        }
    }
    let who = || s.holder();
    if s.super_admin {
        return if s.mask.contains(name) {
            verdict(t, true, Reason::SuperAdmin, || {
                format!("{} administers every tenant", who())
            })
        } else {
            t.step(|| {
                step(
                    "token role",
                    Some(tenant),
                    Outcome::Fail,
                    format!("the token's own role does not let `{name}` through"),
                )
            });
            verdict(t, false, Reason::NotGranted, || {
                format!("the token's own role does not let `{name}` through")
            })
        };
    }
    let role = s.role.unwrap_or("");
    let holds = s.permissions.contains(name);
    let role_words = || {
        let via = implied_by(state, role, name)
            .map(|h| format!(" (through `{h}`)"))
            .unwrap_or_default();
        format!("role `{role}` includes `{name}`{via}")
    };
    let lacks_words = || {
        let narrowed = role_permissions(state, role).is_some_and(|(set, _)| set.contains(name));
        if narrowed {
            format!("role `{role}` includes `{name}`, but the token's own role does not")
        } else {
            format!("role `{role}` does not include `{name}`")
        }
    };
    let (action, w) = match (p.on, workspace) {
        (On::Workspace(action), Some(w)) => (action, w),
        _ => {
            // Held in the tenant (on the workspaces the role sees, for a workspace permission).
            return if holds {
                t.step(|| step("role", Some(tenant), Outcome::Pass, role_words()));
                verdict(t, true, Reason::Role, || {
                    format!("{} holds `{name}` through its role", who())
                })
            } else {
                t.step(|| step("role", Some(tenant), Outcome::Fail, lacks_words()));
                verdict(t, false, Reason::NotGranted, || {
                    format!("no role of {} gives `{name}`", who())
                })
            };
        }
    };
    if holds && s.sees(w) {
        t.step(|| {
            let sees = match s.workspaces {
                Workspaces::All => format!("sees every workspace of `{tenant}`"),
                Workspaces::Listed(_) => format!("the membership lists `{w}`"),
            };
            step(
                "role",
                Some(tenant),
                Outcome::Pass,
                format!("{}, and {sees}", role_words()),
            )
        });
        return verdict(t, true, Reason::Role, || {
            format!("{} holds `{name}` on `{w}` through its role", who())
        });
    }
    t.step(|| {
        let detail = if holds {
            format!(
                "{}, but it sees selected workspaces only, and `{w}` is not among them",
                role_words()
            )
        } else {
            lacks_words()
        };
        step("role", Some(tenant), Outcome::Fail, detail)
    });
    if !s.mask.contains(name) {
        return verdict(t, false, Reason::NotGranted, || {
            format!("{} does not hold `{name}` on `{w}`", who())
        });
    }
    let a = action.as_str();
    let grantees = [
        s.user.map(|u| Grantee::User(u.to_string())),
        s.role.map(|r| Grantee::Role(r.to_string())),
        Some(Grantee::Tenant),
    ];
    let mut by: Option<Grantee> = None;
    for g in grantees.into_iter().flatten() {
        let label = || match &g {
            Grantee::User(u) => format!("grant to user `{u}`"),
            Grantee::Role(r) => format!("grant to role `{r}`"),
            Grantee::Tenant => format!("grant to the whole tenant `{tenant}`"),
        };
        match state.grants.get(&keys::grant(tenant, w, &g)) {
            Some(gr) if gr.spec.actions.contains(&action) => {
                t.step(|| {
                    step(
                        "workspace grant",
                        Some(tenant),
                        Outcome::Pass,
                        format!("{} on `{w}` gives `{a}`, so `{name}`", label()),
                    )
                });
                if by.is_none() {
                    by = Some(g);
                    if !T::ON {
                        break;
                    }
                }
            }
            Some(gr) => t.step(|| {
                let given: Vec<&str> = gr.spec.actions.iter().map(|x| x.as_str()).collect();
                step(
                    "workspace grant",
                    Some(tenant),
                    Outcome::Fail,
                    format!(
                        "{} on `{w}` gives {} but not `{a}`",
                        label(),
                        given.join(", ")
                    ),
                )
            }),
            None => t.step(|| {
                step(
                    "workspace grant",
                    Some(tenant),
                    Outcome::Info,
                    format!("no {} on `{w}`", label()),
                )
            }),
        }
    }
    match by {
        Some(g) => verdict(t, true, Reason::Grant, || {
            let to = match g {
                Grantee::User(_) => "to the user".to_string(),
                Grantee::Role(r) => format!("to role `{r}`"),
                Grantee::Tenant => "to the whole tenant".to_string(),
            };
            format!("a grant of `{a}` on `{w}` {to} gives `{name}`")
        }),
        None => verdict(t, false, Reason::NotGranted, || {
            format!("nothing gives {} `{name}` on `{w}`", who())
        }),
    }
}
