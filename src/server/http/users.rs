//! Blocking and unblocking a user: a write of the user's `status` through the engine, so
//! rule 6 and the access matrix apply as to any write. And the platform's side of a user
//! shown beside its spec (`account`: pending / active / blocked, invited, last active).

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::{Account, AccountStatus, ResourceBody};
use crate::model::{AnySpec, Kind, UserStatus};
use crate::server::authz::Principal;
use crate::server::engine::{check_key, Effect, Mutation};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{ms_to_rfc3339, AccountRow};

use super::extract::{AuditHeaders, Auth, Params};
use super::resources::{resource_body, visible};
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("user")
        .route(
            Route::post("/users/{email}/block", block)
                .doc("blockUser", "Block a user")
                .json(200, "The user", Schema::of::<ResourceBody>()),
        )
        .route(
            Route::post("/users/{email}/unblock", unblock)
                .doc("unblockUser", "Unblock a user")
                .json(200, "The user", Schema::of::<ResourceBody>()),
        )
}

pub(super) fn email_param(params: &Params) -> Result<String, ApiError> {
    let email = params.0.first().cloned().unwrap_or_default();
    check_key(Kind::User, &email)?;
    Ok(email)
}

async fn set_status(
    app: AppState,
    p: Principal,
    params: Params,
    audit: AuditHeaders,
    status: UserStatus,
) -> ApiResult<Response> {
    let email = email_param(&params)?;
    let (meta, spec) = app
        .engine
        .read(|s| visible(&p, s, Kind::User, &email))
        .await??;
    let AnySpec::User(mut user) = spec else {
        return Err(ApiError::Internal("user spec of another kind".into()));
    };
    if user.status == status {
        return Ok(json_response(
            StatusCode::OK,
            &resource_body(Kind::User, &email, meta, &AnySpec::User(user)),
        ));
    }
    user.status = status;
    let mutation = Mutation {
        kind: Kind::User,
        key: email.clone(),
        if_version: Some(meta.version),
        effect: Effect::Put {
            spec: AnySpec::User(user),
            protected: None,
            managed: None,
        },
    };
    let w = audit.write(p, vec![mutation]);
    let out = app.engine.write(w).await?;
    let Some((_, Some((meta, spec)))) = out.results.into_iter().next() else {
        return Err(ApiError::Internal("no result".into()));
    };
    Ok(json_response(
        StatusCode::OK,
        &resource_body(Kind::User, &email, meta, &spec),
    ))
}

async fn block(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    set_status(app, p, params, audit, UserStatus::Blocked).await
}

async fn unblock(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    set_status(app, p, params, audit, UserStatus::Active).await
}

/// A user's platform status: blocked if its spec says so, active once it accepted an
/// invitation, pending before.
pub fn account_view(status: UserStatus, acc: Option<&AccountRow>) -> Account {
    let state = if status == UserStatus::Blocked {
        AccountStatus::Blocked
    } else if acc.is_some_and(|a| a.activated_at.is_some()) {
        AccountStatus::Active
    } else {
        AccountStatus::Pending
    };
    Account {
        status: state,
        created_at: acc.map(|a| a.created_at.clone()),
        invited_at: acc.and_then(|a| a.invited_at.clone()),
        last_active_at: acc.and_then(|a| a.last_active_ms).map(ms_to_rfc3339),
    }
}

fn spec_status(body: &ResourceBody) -> UserStatus {
    match body.spec.get("status").and_then(|v| v.as_str()) {
        Some("blocked") => UserStatus::Blocked,
        _ => UserStatus::Active,
    }
}

/// `body` (a user) with its `account`.
pub async fn with_account(
    app: &AppState,
    mut body: ResourceBody,
) -> Result<ResourceBody, ApiError> {
    if body.kind == Kind::User {
        let acc = app.engine.db.account(&body.key).await?;
        body.account = Some(account_view(spec_status(&body), acc.as_ref()));
    }
    Ok(body)
}

/// Users (`bodies`) with their `account`, read at once.
pub async fn with_accounts(app: &AppState, bodies: &mut [ResourceBody]) -> Result<(), ApiError> {
    if bodies.is_empty() || bodies.iter().all(|b| b.kind != Kind::User) {
        return Ok(());
    }
    let accounts = app.engine.db.accounts().await?;
    for b in bodies.iter_mut().filter(|b| b.kind == Kind::User) {
        b.account = Some(account_view(spec_status(b), accounts.get(&b.key)));
    }
    Ok(())
}
