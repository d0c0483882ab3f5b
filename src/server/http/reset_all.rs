//! "Change all passwords" after an incident (seed 001; issue 12, item 7), one call: every
//! user of a tenant (or of the platform, for the system) whom the caller may change loses
//! every session and gets a reset e-mail, and their older unused links end — in one
//! transaction, audited (one entry, and one per ended session). Who may be changed is the one rule of every action on a user
//! ([`Actor::may_manage_user`](crate::server::authz::Actor::may_manage_user)); the others
//! are named in the answer and left alone.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::ResetAllResponse;
use crate::model::{keys, Kind, State, UserStatus};
use crate::server::authz::{Actor, Principal};
use crate::server::error::{ApiError, ApiResult};
use crate::server::mail::language_name;
use crate::server::store::{AuditOp, AuditSubject, NewAudit, NewReset, ResetOrigin};

use super::extract::{AuditHeaders, Auth, Params};
use super::password_resets::{new_reset_id, ADMIN_LINK_HOURS};
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("user")
        .route(
            Route::post("/tenants/{tenant}/password-resets", reset_tenant)
                .doc(
                    "resetTenantPasswords",
                    "Change all passwords of a tenant: every user gets a reset e-mail",
                )
                .about(
                    "After an incident (document 001: \"change all passwords\"): every \
                     session of each member of the tenant whom the token may change ends, \
                     and each gets a one-time reset link by e-mail (valid 24 hours); their \
                     older unused links end. \
                     Pending and blocked users get no e-mail; users the token may not \
                     change (a system role, another tenant) are named and left to the \
                     system. Needs `users.update` in the tenant. Audited as one entry.",
                )
                .json(202, "Queued", Schema::of::<ResetAllResponse>()),
        )
        .route(
            Route::post("/password-resets/all", reset_platform)
                .doc(
                    "resetAllPasswords",
                    "Change all passwords of the platform (system tokens only)",
                )
                .about(
                    "As `resetTenantPasswords`, for every user of the platform; only the \
                     system (a system token, or one acting as an active super_admin) may.",
                )
                .json(202, "Queued", Schema::of::<ResetAllResponse>()),
        )
}

/// Who is reset: every user in `users` the actor may change, active and with a password.
struct Selection {
    answer: ResetAllResponse,
    /// (e-mail, language) of the users to e-mail.
    emailed: Vec<(String, &'static str)>,
    /// Every user it may change: their sessions end.
    changed: Vec<String>,
    revision: i64,
}

fn select(
    actor: &Actor,
    s: &State,
    users: Vec<String>,
    activated: &dyn Fn(&str) -> bool,
) -> Selection {
    let mut answer = ResetAllResponse {
        users: users.len() as u64,
        emailed: 0,
        pending: 0,
        blocked: 0,
        refused: Vec::new(),
        sessions_ended: 0,
    };
    let mut emailed = Vec::new();
    let mut changed = Vec::new();
    for email in users {
        let Some(u) = s.users.get(&email) else {
            continue;
        };
        if actor.may_manage_user(s, &email, "users.update").is_err() {
            answer.refused.push(email);
            continue;
        }
        changed.push(email.clone());
        if u.spec.status == UserStatus::Blocked {
            answer.blocked += 1;
        } else if !activated(&email) {
            answer.pending += 1;
        } else {
            emailed.push((email, language_name(u.spec.language)));
        }
    }
    answer.emailed = emailed.len() as u64;
    Selection {
        answer,
        emailed,
        changed,
        revision: s.revision,
    }
}

/// Resets the users of `tenant` (None: every user) the principal may change.
async fn reset_all(
    app: AppState,
    p: Principal,
    audit: AuditHeaders,
    tenant: Option<String>,
) -> ApiResult<Response> {
    let accounts = app.engine.db.accounts().await?;
    let activated = |e: &str| {
        accounts
            .get(e)
            .is_some_and(|a| a.password_hash.is_some() && a.activated_at.is_some())
    };
    let t = tenant.clone();
    let sel = app
        .engine
        .read(|s| -> Result<Selection, ApiError> {
            let actor = p.actor(s)?;
            let users: Vec<String> = match &t {
                None => {
                    if !matches!(actor, Actor::System) {
                        return Err(ApiError::forbidden(
                            "denied: only the system changes every password of the platform (system tokens)",
                        ));
                    }
                    s.users.keys().cloned().collect()
                }
                Some(t) => {
                    if !s.tenants.contains_key(t) || actor.tenant().is_some_and(|a| a != t) {
                        return Err(ApiError::not_found(format!(
                            "tenant `{t}` does not exist"
                        )));
                    }
                    actor.require(s, "users.update")?;
                    s.memberships
                        .keys()
                        .filter(|k| keys::tenant_of(Kind::Membership, k) == Some(t))
                        .filter_map(|k| keys::split2(k).map(|(u, _)| u.to_string()))
                        .collect()
                }
            };
            Ok(select(&actor, s, users, &activated))
        })
        .await??;
    let mut resets = Vec::with_capacity(sel.emailed.len());
    let mut expires = String::new();
    for (email, language) in &sel.emailed {
        let (id, expires_at) = new_reset_id(ADMIN_LINK_HOURS)?;
        expires.clone_from(&expires_at);
        resets.push(NewReset {
            id,
            email: email.clone(),
            hash: None,
            expires_at,
            origin: ResetOrigin::Incident,
            language: (*language).to_string(),
        });
    }
    let entry = NewAudit {
        op: AuditOp::ResetAllPasswords,
        subject: match &tenant {
            Some(_) => AuditSubject::Resource(Kind::Tenant),
            None => AuditSubject::Resource(Kind::User),
        },
        key: tenant.clone().unwrap_or_else(|| "*".into()),
        tenant: tenant.clone(),
        before: None,
        after: Some(
            json!({
                "users": sel.answer.users,
                "emailed": sel.answer.emailed,
                "pending": sel.answer.pending,
                "blocked": sel.answer.blocked,
                "refused": sel.answer.refused.len(),
                "expires_at": if expires.is_empty() { None } else { Some(&expires) },
            })
            .to_string(),
        ),
    };
    let ctx = audit.context(sel.revision, &p);
    let changed: Vec<&str> = sel.changed.iter().map(String::as_str).collect();
    let ended = app
        .engine
        .db
        .reset_all_passwords(&changed, &resets, (&ctx, &[entry]))
        .await?;
    if !resets.is_empty() {
        app.engine.mail_queued();
    }
    let mut answer = sel.answer;
    answer.sessions_ended = ended as u64;
    Ok(json_response(StatusCode::ACCEPTED, &answer))
}

async fn reset_tenant(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    let tenant = params.0.first().cloned().unwrap_or_default();
    reset_all(app, p, audit, Some(tenant)).await
}

async fn reset_platform(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    reset_all(app, p, audit, None).await
}
