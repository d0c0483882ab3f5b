//! May a user use a model (document 000): a direct `deny` beats everything, a direct
//! `allow` overrides the tenant level, otherwise a tenant of the user must be granted the
//! model, the member's role must hold `models.use`, and an `admin_only` grant needs the
//! tenant's `org_admin`. What applies once allowed: the deployment and the model's
//! defaults overridden by the tenant's ([`effective_defaults`]).

use crate::model::{keys, Access, ModelDefaults, State, SystemRole, TenantStatus};

use super::standing::{role_permissions, super_admin_step, user};
use super::{did_you_mean, step, tenants_of, verdict, Effective, Outcome, Reason, Trace, Verdict};
use crate::rules::ORG_ADMIN;

/// The generation settings that apply: the model's `defaults`, each overridden by the
/// tenant's when it sets one (prompts merged by name, the tenant's winning).
pub fn effective_defaults(model: &ModelDefaults, tenant: Option<&ModelDefaults>) -> ModelDefaults {
    let Some(o) = tenant else {
        return model.clone();
    };
    let mut prompts = model.prompts.clone();
    prompts.extend(o.prompts.iter().map(|(k, v)| (k.clone(), v.clone())));
    ModelDefaults {
        lora_weight: o.lora_weight.or(model.lora_weight),
        guidance: o.guidance.or(model.guidance),
        prompts,
    }
}

/// The effective settings of `model` used through `tenant` (its overrides apply when it is
/// granted the model).
fn effective(state: &State, model: &str, tenant: Option<&str>) -> Option<Box<Effective>> {
    let m = state.models.get(model)?;
    let over = tenant.and_then(|t| state.tenant_models.get(&keys::join(&[t, model])));
    Some(Box::new(Effective::Model {
        model: model.to_string(),
        deployment_id: m.spec.deployment_id.clone(),
        tenant: over.and(tenant).map(str::to_string),
        defaults: effective_defaults(&m.spec.defaults, over.map(|o| &o.spec.defaults)),
    }))
}

fn with_effective<T: Trace>(
    mut v: Verdict,
    state: &State,
    model: &str,
    tenant: Option<&str>,
) -> Verdict {
    if T::ON && v.allowed {
        v.effective = effective(state, model, tenant);
    }
    v
}

/// Whether `email` (normalised) may use `model`, through `tenant` only when given.
pub(super) fn decide<T: Trace>(
    state: &State,
    email: &str,
    model: &str,
    tenant: Option<&str>,
    t: &mut T,
) -> Verdict {
    let u = match user(state, email, t) {
        Ok(u) => u,
        Err(v) => return v,
    };
    let Some(m) = state.models.get(model) else {
        t.step(|| {
            let help = did_you_mean(model, state.models.keys().map(String::as_str))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            step(
                "model",
                None,
                Outcome::Fail,
                format!("model `{model}` does not exist{help}"),
            )
        });
        return verdict(t, false, Reason::UnknownModel, || {
            format!("model `{model}` does not exist")
        });
    };
    t.step(|| {
        step(
            "model",
            None,
            Outcome::Info,
            format!("`{model}` runs on deployment `{}`", m.spec.deployment_id),
        )
    });
    let direct = state
        .user_models
        .get(&keys::join(&[email, model]))
        .map(|e| e.spec.access);
    if direct == Some(Access::Deny) {
        t.step(|| {
            step(
                "direct grant",
                None,
                Outcome::Fail,
                format!(
                    "`{email}` has a direct `deny` on `{model}`; it overrides every other grant"
                ),
            )
        });
        return verdict(t, false, Reason::DirectDeny, || {
            format!("a direct user-model grant denies `{model}` to `{email}`")
        });
    }
    if let Some(tn) = tenant {
        if !state.tenants.contains_key(tn) {
            t.step(|| {
                step(
                    "tenant",
                    Some(tn),
                    Outcome::Fail,
                    format!("tenant `{tn}` does not exist"),
                )
            });
            return verdict(t, false, Reason::UnknownTenant, || {
                format!("tenant `{tn}` does not exist")
            });
        }
    }
    if u.spec.system_role == Some(SystemRole::SuperAdmin) {
        super_admin_step(email, t);
        let v = verdict(t, true, Reason::SuperAdmin, || {
            format!("`{email}` is `super_admin`")
        });
        return with_effective::<T>(v, state, model, tenant);
    }
    let mut members: Vec<(&str, &str)> = Vec::new();
    let mut suspended = false;
    for tn in tenants_of(state, email) {
        if tenant.is_some_and(|want| want != tn) {
            continue;
        }
        let Some(ms) = state.memberships.get(&keys::join(&[email, tn])) else {
            continue;
        };
        let role = ms.spec.role.as_str();
        if state
            .tenants
            .get(tn)
            .is_some_and(|x| x.spec.status == TenantStatus::Suspended)
        {
            t.step(|| {
                step(
                    "tenant status",
                    Some(tn),
                    Outcome::Fail,
                    format!("tenant `{tn}` is suspended: its members cannot sign in"),
                )
            });
            suspended = true;
            continue;
        }
        t.step(|| {
            step(
                "membership",
                Some(tn),
                Outcome::Pass,
                format!("member of `{tn}` with role `{role}`"),
            )
        });
        members.push((tn, role));
    }
    if members.is_empty() {
        if suspended {
            return verdict(t, false, Reason::TenantSuspended, || match tenant {
                Some(tn) => format!("tenant `{tn}` is suspended"),
                None => format!("every tenant of `{email}` is suspended"),
            });
        }
        t.step(|| {
            let detail = match tenant {
                Some(tn) => format!("`{email}` is not a member of tenant `{tn}`"),
                None => format!("`{email}` is not a member of any tenant"),
            };
            step("membership", tenant, Outcome::Fail, detail)
        });
        return verdict(t, false, Reason::NotMember, || match tenant {
            Some(tn) => format!("`{email}` is not a member of tenant `{tn}`"),
            None => format!("`{email}` is not a member of any tenant"),
        });
    }
    if direct == Some(Access::Allow) {
        t.step(|| {
            step(
                "direct grant",
                None,
                Outcome::Pass,
                format!(
                    "`{email}` has a direct `allow` on `{model}`; it overrides the tenant level"
                ),
            )
        });
        let v = verdict(t, true, Reason::DirectAllow, || {
            format!("a direct user-model grant allows `{model}` to `{email}`")
        });
        return with_effective::<T>(v, state, model, tenant);
    }
    t.step(|| {
        step(
            "direct grant",
            None,
            Outcome::Info,
            format!("no direct grant of `{model}` to `{email}`; the tenant level decides"),
        )
    });
    let mut refusal = (Reason::NotGranted, None::<&str>, 0u8);
    for (tn, role) in members {
        let Some(grant) = state.tenant_models.get(&keys::join(&[tn, model])) else {
            t.step(|| {
                step(
                    "tenant grant",
                    Some(tn),
                    Outcome::Fail,
                    format!("tenant `{tn}` is not granted `{model}`"),
                )
            });
            continue;
        };
        t.step(|| {
            step(
                "tenant grant",
                Some(tn),
                Outcome::Pass,
                format!("tenant `{tn}` is granted `{model}`"),
            )
        });
        if !role_permissions(state, role).is_some_and(|(p, _)| p.contains("models.use")) {
            t.step(|| {
                step(
                    "role",
                    Some(tn),
                    Outcome::Fail,
                    format!("role `{role}` does not include `models.use`"),
                )
            });
            if refusal.2 < 1 {
                refusal = (Reason::NotGranted, Some(tn), 1);
            }
            continue;
        }
        t.step(|| {
            step(
                "role",
                Some(tn),
                Outcome::Pass,
                format!("role `{role}` includes `models.use`"),
            )
        });
        if grant.spec.admin_only {
            if role != ORG_ADMIN {
                t.step(|| {
                    step(
                        "admin-only",
                        Some(tn),
                        Outcome::Fail,
                        format!("`{model}` is admin-only in `{tn}`, and `{email}` is `{role}`, not `{ORG_ADMIN}`"),
                    )
                });
                refusal = (Reason::AdminOnly, Some(tn), 2);
                continue;
            }
            t.step(|| {
                step(
                    "admin-only",
                    Some(tn),
                    Outcome::Pass,
                    format!(
                        "`{model}` is admin-only in `{tn}`, and `{email}` is its `{ORG_ADMIN}`"
                    ),
                )
            });
        }
        let v = verdict(t, true, Reason::TenantGrant, || {
            format!("`{email}` uses `{model}` through tenant `{tn}`")
        });
        return with_effective::<T>(v, state, model, Some(tn));
    }
    let (reason, tn, _) = refusal;
    verdict(t, false, reason, || match (reason, tn) {
        (Reason::AdminOnly, Some(tn)) => {
            format!("`{model}` is reserved to the administrators of `{tn}`")
        }
        (_, Some(tn)) => format!("the role of `{email}` in `{tn}` does not include `models.use`"),
        _ => format!("no tenant of `{email}` is granted `{model}`"),
    })
}
