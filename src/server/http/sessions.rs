//! Sign-in, sign-out and a user's sessions. Signing in checks the password (argon2id; an
//! unknown e-mail checks a dummy hash, so both answer alike and as slowly) behind the
//! throttle of failed attempts (`store::throttle`), and opens a session acting as the user
//! (`server::sessions`). A user's sessions are listed and ended by the user or by whoever
//! may manage that user (`Actor::may_manage_user`, as for blocking).

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{EndedSessions, ErrorBody, SessionList, SignInRequest, SignInResponse};
use crate::model::{keys, Kind, State, SystemRole, UserStatus};
use crate::server::authz::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::passwords;
use crate::server::sessions::{self, dummy_hash};
use crate::server::store::{self, Attempt, AuditCtx, AuditOp, AuditSubject, Ended, NewAudit};

use super::extract::{AuditHeaders, Auth, ClientAddr, JsonBody, Params};
use super::resources::visible;
use super::route::{Route, Routes, Schema};
use super::users::email_param;
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("sessions")
        .route(
            Route::post("/sessions", sign_in)
                .public()
                .doc(
                    "signIn",
                    "Sign in with an e-mail and a password: a session acting as that user (its secret is shown once)",
                )
                .about(
                    "Checks the password and opens a session acting as the user with \
                     exactly the user's access, in the tenant asked for (by default \
                     the user's only tenant; a super_admin: the platform). The secret \
                     is in this answer only. A wrong password and an unknown e-mail \
                     answer alike (401). Failed attempts are counted per account and \
                     per client address: past the limit, attempts are refused unchecked \
                     with 429 and `Retry-After`, for a time that doubles with each \
                     further failure. Pending and blocked users cannot sign in.",
                )
                .body(Schema::of::<SignInRequest>())
                .json(201, "Signed in", Schema::of::<SignInResponse>())
                .json(
                    401,
                    "Wrong e-mail or password (the same answer for an unknown e-mail and a user who cannot sign in yet)",
                    Schema::of::<ErrorBody>(),
                )
                .json(
                    429,
                    "Too many failed sign-ins for this account or address (`too_many_attempts`): retry after `Retry-After` seconds",
                    Schema::of::<ErrorBody>(),
                ),
        )
        .route(
            Route::delete("/sessions/current", sign_out)
                .doc("signOut", "Sign out: end the session making this request")
                .about(
                    "Ends the session that makes this request: its secret answers 401 \
                     at once, on every server sharing the database. A token is not a \
                     session: it answers 404 (revoke tokens with `revokeToken`).",
                )
                .answer(204, "Signed out", None),
        )
        .route(
            Route::get("/users/{email}/sessions", list_sessions)
                .doc("listUserSessions", "A user's sessions, newest first, never their secrets")
                .about(
                    "The user's sessions, newest first, ended ones included, with where \
                     each acts, when it was opened, last used and ends. The user reads \
                     their own; an administrator those of a user it may manage (as for \
                     blocking).",
                )
                .json(200, "The sessions", Schema::of::<SessionList>()),
        )
        .route(
            Route::delete("/users/{email}/sessions", end_all_sessions)
                .doc("endUserSessions", "End every session of a user at once")
                .about(
                    "Ends every working session of the user: each answers 401 at once on \
                     every server. The user may end their own (this one included); an \
                     administrator those of a user it may manage. Each ended session \
                     is in the audit log.",
                )
                .json(200, "The sessions ended", Schema::of::<EndedSessions>()),
        )
        .route(
            Route::delete("/users/{email}/sessions/{session}", end_one_session)
                .doc("endUserSession", "End one session of a user")
                .about(
                    "Ends one session of the user by its id, at once on every server. \
                     Ending an ended session answers 204 again.",
                )
                .answer(204, "Ended (or ended already)", None),
        )
}

/// The answer to a wrong password, an unknown e-mail and a user who cannot sign in yet:
/// one answer, so that it tells nothing of the account.
fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("wrong e-mail or password".into())
}

/// The answer to a locked account or address (the same for known and unknown e-mails).
fn too_many(retry_after_ms: i64) -> ApiError {
    let secs = (retry_after_ms.max(0) as u64).div_ceil(1000).max(1);
    ApiError::TooManyRequests {
        code: "too_many_attempts",
        message: format!("too many failed sign-ins: try again in {secs} s"),
        retry_after_secs: secs,
    }
}

/// The audit context of a request made without a credential (`sign-in`).
async fn anonymous(app: &AppState) -> Result<AuditCtx, ApiError> {
    let revision = app.engine.read(|s| s.revision).await?;
    Ok(AuditCtx {
        revision,
        token_id: "sign-in".into(),
        change_set: None,
        commit: None,
    })
}

/// Records a refused sign-in (never the password), and the lock it started, if any (the
/// attempts refused unchecked during a lock are not recorded one by one).
async fn audit_failure(app: &AppState, email: &str, address: &str, reason: &str, locks_ms: i64) {
    let mut after = json!({ "email": email, "address": address, "reason": reason });
    if locks_ms > 0 {
        after["locked_for_secs"] = json!((locks_ms as u64).div_ceil(1000));
    }
    let entry = NewAudit {
        op: AuditOp::SignInFailed,
        subject: AuditSubject::Session,
        key: email.to_string(),
        tenant: None,
        before: None,
        after: Some(after.to_string()),
    };
    let done = match anonymous(app).await {
        Ok(ctx) => app
            .engine
            .db
            .append_audit(&ctx, &[entry])
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, "cannot record a failed sign-in");
    }
}

/// How often a process forgets old sign-in counters.
const PRUNE_EVERY_MS: i64 = 10 * 60_000;

/// Forgets, in the background and at most every ten minutes per process, the sign-in
/// counters the throttle would forget anyway (no attempt for `forget_ms`, not locked).
fn forget_old_attempts(app: &AppState, now: i64) {
    use std::sync::atomic::Ordering;
    let last = app.throttle_pruned_ms.load(Ordering::Relaxed);
    if now - last < PRUNE_EVERY_MS
        || app
            .throttle_pruned_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let engine = std::sync::Arc::clone(&app.engine);
    let before = now - app.auth.throttle.forget_ms;
    tokio::spawn(async move {
        match engine.db.forget_sign_ins(before, now).await {
            Ok(n) if n > 0 => tracing::info!(n, "forgot old sign-in counters"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot forget old sign-in counters"),
        }
    });
}

/// Where a session of `email` acts: the tenant asked for (one of the user's, or any for a
/// super_admin), else the platform for a super_admin, else the user's only tenant.
fn session_tenant(s: &State, email: &str, asked: Option<&str>) -> Result<Option<String>, ApiError> {
    let super_admin = s
        .users
        .get(email)
        .is_some_and(|u| u.spec.system_role == Some(SystemRole::SuperAdmin));
    let prefix = format!("{email}/");
    let tenants: Vec<&str> = s
        .keys_in(Kind::Membership, &prefix)
        .filter_map(|k| keys::tenant_of(Kind::Membership, k))
        .collect();
    match asked {
        Some(t) if tenants.contains(&t) || (super_admin && s.tenants.contains_key(t)) => {
            Ok(Some(t.to_string()))
        }
        Some(t) => Err(ApiError::forbidden(format!(
            "`{email}` is not a member of tenant `{t}`"
        ))),
        None if super_admin => Ok(None),
        None => match tenants.as_slice() {
            [t] => Ok(Some((*t).to_string())),
            [] => Err(ApiError::forbidden(format!(
                "`{email}` is a member of no tenant"
            ))),
            many => Err(ApiError::invalid(
                "tenant_required",
                format!("`{email}` is a member of several tenants: say which in `tenant`"),
                json!({ "field": "tenant", "tenants": many }),
            )),
        },
    }
}

async fn sign_in(
    AxState(app): AxState<AppState>,
    ClientAddr(address): ClientAddr,
    JsonBody(req): JsonBody<SignInRequest>,
) -> ApiResult<Response> {
    let email = req.email.trim().to_lowercase();
    for (field, value, max) in [("email", &email, 320), ("password", &req.password, 1024)] {
        if value.chars().count() > max {
            return Err(ApiError::invalid(
                "invalid_body",
                format!("`{field}` is longer than {max} characters"),
                json!({ "field": field }),
            ));
        }
    }
    let policy = app.auth.throttle;
    let account_key = format!("account:{email}");
    let address_key = format!("address:{address}");
    let keys = [
        (account_key.as_str(), policy.account_limit),
        (address_key.as_str(), policy.address_limit),
    ];
    let now = store::now_ms();
    forget_old_attempts(&app, now);
    let locks_ms = match app.engine.db.begin_sign_in(&keys, &policy, now).await? {
        Attempt::Wait { retry_after_ms } => return Err(too_many(retry_after_ms)),
        Attempt::Go { locks_ms } => locks_ms,
    };
    let status = app
        .engine
        .read(|s| s.users.get(&email).map(|u| u.spec.status))
        .await?;
    // Read for an unknown e-mail too: the answer takes the same steps either way.
    let account = app.engine.db.account(&email).await?;
    // Only an active account (an accepted invitation) has a password to check.
    let phc = account
        .filter(|a| status.is_some() && a.activated_at.is_some())
        .and_then(|a| a.password_hash);
    let known = phc.is_some();
    let checked = match phc {
        Some(phc) => phc,
        None => dummy_hash().await,
    };
    let matches = passwords::verify(req.password.clone(), checked).await;
    if !(known && matches) {
        let reason = match (status, known) {
            (None, _) => "unknown_user",
            (Some(_), false) => "pending_user",
            _ => "wrong_password",
        };
        audit_failure(&app, &email, &address, reason, locks_ms).await;
        return Err(invalid_credentials());
    }
    if status == Some(UserStatus::Blocked) {
        audit_failure(&app, &email, &address, "blocked_user", locks_ms).await;
        return Err(ApiError::forbidden(format!("`{email}` is blocked")));
    }
    app.engine
        .db
        .sign_in_succeeded(&account_key, &address_key, policy.address_limit)
        .await?;
    let asked = req.tenant.as_deref().map(str::trim);
    let (tenant, revision) = app
        .engine
        .read(|s| -> Result<_, ApiError> {
            let tenant = session_tenant(s, &email, asked)?;
            sessions::principal_of(sessions::ID_PREFIX, &email, tenant.as_deref()).actor(s)?;
            Ok((tenant, s.revision))
        })
        .await??;
    let (row, secret) = sessions::mint(
        &email,
        tenant.as_deref(),
        Some(&address),
        &app.auth.sessions,
        store::now_ms(),
    );
    let ctx = AuditCtx {
        revision,
        token_id: row.id.clone(),
        change_set: None,
        commit: None,
    };
    let entry = NewAudit {
        op: AuditOp::SignIn,
        subject: AuditSubject::Session,
        key: row.id.clone(),
        tenant: row.tenant.clone(),
        before: None,
        after: Some(
            json!({
                "user": email,
                "tenant": row.tenant,
                "address": address,
                "expires_at": store::ms_to_rfc3339(row.life.expires_ms),
            })
            .to_string(),
        ),
    };
    app.engine
        .db
        .insert_session(
            &row,
            &super::extract::hash_secret(&secret),
            Some((&ctx, &[entry])),
        )
        .await?;
    app.touch(&email);
    tracing::info!(session = %row.id, "signed in");
    let session = sessions::info(&row, store::now_ms());
    Ok(json_response(
        StatusCode::CREATED,
        &SignInResponse {
            token: secret,
            session,
        },
    ))
}

async fn sign_out(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    if !sessions::is_session(&p) {
        return Err(ApiError::not_found(
            "no current session: this request is made with a token (revoke a token with `DELETE /api/v1/tokens/{id}`)",
        ));
    }
    let revision = app.engine.read(|s| s.revision).await?;
    let ctx = audit.context(revision, &p);
    let entry = NewAudit {
        op: AuditOp::SignOut,
        subject: AuditSubject::Session,
        key: p.token_id.clone(),
        tenant: p.tenant().map(str::to_string),
        before: None,
        after: Some(json!({ "user": p.user }).to_string()),
    };
    app.engine
        .db
        .end_session(
            &p.token_id,
            None,
            "signed_out",
            store::now_ms(),
            Some((&ctx, &[entry])),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// May `p` list and end the sessions of `email`: the user themself, or whoever may
/// manage that user as blocking needs (`users.block`). Returns the state's revision.
async fn may_manage_sessions(app: &AppState, p: &Principal, email: &str) -> Result<i64, ApiError> {
    app.engine
        .read(|s| -> Result<i64, ApiError> {
            let actor = p.actor(s)?;
            if p.user.as_deref() != Some(email) {
                visible(p, s, Kind::User, email)?;
                actor.may_manage_user(s, email, "users.block")?;
            }
            Ok(s.revision)
        })
        .await?
}

async fn list_sessions(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
) -> ApiResult<Response> {
    let email = email_param(&params)?;
    may_manage_sessions(&app, &p, &email).await?;
    let now = store::now_ms();
    let items = app
        .engine
        .db
        .sessions_of(&email)
        .await?
        .iter()
        .map(|r| sessions::info(r, now))
        .collect();
    Ok(json_response(StatusCode::OK, &SessionList { items }))
}

async fn end_all_sessions(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    let email = email_param(&params)?;
    let revision = may_manage_sessions(&app, &p, &email).await?;
    let ctx = audit.context(revision, &p);
    let ended = app
        .engine
        .db
        .end_sessions_of(&[email.as_str()], "revoked", store::now_ms(), Some(&ctx))
        .await?;
    tracing::info!(user = %email, n = ended.len(), by = %p.token_id, "sessions ended");
    Ok(json_response(
        StatusCode::OK,
        &EndedSessions {
            ended: ended.into_iter().map(|r| r.id).collect(),
        },
    ))
}

async fn end_one_session(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    let email = email_param(&params)?;
    let id = params.0.get(1).cloned().unwrap_or_default();
    let revision = may_manage_sessions(&app, &p, &email).await?;
    let ctx = audit.context(revision, &p);
    let now = store::now_ms();
    let found = app.engine.db.session(&id).await?;
    let entry = found
        .as_ref()
        .map(|r| store::ended_audit(r, "revoked"))
        .into_iter()
        .collect::<Vec<_>>();
    match app
        .engine
        .db
        .end_session(&id, Some(&email), "revoked", now, Some((&ctx, &entry)))
        .await?
    {
        Ended::Missing => Err(ApiError::not_found(format!(
            "`{email}` has no session `{id}`"
        ))),
        Ended::Now(_) | Ended::Already(_) => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
