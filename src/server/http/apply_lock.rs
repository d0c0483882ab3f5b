//! The platform's apply lock: a lease that every `tenantctl apply` takes before it writes
//! and renews while it runs, so that two applies never interleave. A lease that is not
//! renewed ends by itself (a killed client does not hold the lock for ever). Stored in the
//! database, so every `serve` process on it shares the one lock.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{ApplyLock, ApplyLockRenewal, ApplyLockRequest, ApplyLockStatus};
use crate::server::authz::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{now, LockOutcome, LockRow};

use super::extract::{Auth, JsonBody, OptionalJsonBody, Params};
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

/// The lease when the request names none, and its bounds.
const DEFAULT_TTL: u32 = 60;
const TTL_RANGE: std::ops::RangeInclusive<u32> = 5..=3600;

pub fn router() -> Routes {
    Routes::new("apply-lock")
        .route(
            Route::get("/apply-lock", status)
                .doc("getApplyLock", "Who holds the apply lock, if anyone")
                .json(200, "The lock, or null", Schema::of::<ApplyLockStatus>()),
        )
        .route(
            Route::post("/apply-lock", acquire)
                .doc(
                    "acquireApplyLock",
                    "Take the apply lock for a lease of `ttl_seconds`; 409 `apply_locked` names the holder while another lease runs",
                )
                .body(Schema::of::<ApplyLockRequest>())
                .json(201, "Taken", Schema::of::<ApplyLock>()),
        )
        .route(
            Route::put("/apply-lock/{id}", renew)
                .doc(
                    "renewApplyLock",
                    "Extend the lease (the token that took it, or a system token); 409 `apply_lock_lost` when another apply holds the lock now",
                )
                .body(Schema::of::<ApplyLockRenewal>())
                .json(200, "Renewed", Schema::of::<ApplyLock>()),
        )
        .route(
            Route::delete("/apply-lock/{id}", release)
                .doc(
                    "releaseApplyLock",
                    "Release the lock (the token that took it, or a system token, which may break another's lock)",
                )
                .answer(204, "Released", None),
        )
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn wire(row: &LockRow) -> ApplyLock {
    ApplyLock {
        id: row.lock_id.clone(),
        holder: row.holder.clone(),
        token_id: row.token_id.clone(),
        change_set: row.change_set.clone(),
        acquired_at: row.acquired_at.clone(),
        renewed_at: row.renewed_at.clone(),
        expires_at: rfc3339(row.expires_ms),
    }
}

/// 409: another apply holds the lock; names it.
fn busy(code: &'static str, row: &LockRow) -> ApiError {
    let lock = wire(row);
    ApiError::Conflict {
        code,
        message: format!(
            "the platform's apply lock is held by `{}` (token `{}`) since {} (lease until {}); nothing was applied",
            lock.holder, lock.token_id, lock.acquired_at, lock.expires_at
        ),
        details: serde_json::to_value(&lock).unwrap_or_default(),
    }
}

fn ttl(requested: Option<u32>) -> Result<u32, ApiError> {
    let t = requested.unwrap_or(DEFAULT_TTL);
    if TTL_RANGE.contains(&t) {
        Ok(t)
    } else {
        Err(ApiError::invalid(
            "invalid_body",
            format!(
                "`ttl_seconds` must be from {} to {}, got {t}",
                TTL_RANGE.start(),
                TTL_RANGE.end()
            ),
            json!({ "field": "ttl_seconds" }),
        ))
    }
}

/// Renewing and releasing are for the token that took the lock, or a system token.
fn may_touch(p: &Principal, row: Option<&LockRow>) -> Result<(), ApiError> {
    match row {
        Some(r) if r.token_id != p.token_id && !p.is_system() => Err(ApiError::forbidden(
            "only the token that took the apply lock, or a system token, may renew or release it",
        )),
        _ => Ok(()),
    }
}

async fn status(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    // Whoever reads the state (an apply, an export) may see and take the lock.
    app.engine
        .read(|s| p.require(s, "organization.read"))
        .await??;
    let lock = app
        .engine
        .db
        .apply_lock()
        .await?
        .filter(|r| r.expires_ms > now_ms())
        .map(|r| wire(&r));
    Ok(json_response(StatusCode::OK, &ApplyLockStatus { lock }))
}

async fn acquire(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<ApplyLockRequest>,
) -> ApiResult<Response> {
    // Whoever reads the state (an apply, an export) may see and take the lock.
    app.engine
        .read(|s| p.require(s, "organization.read"))
        .await??;
    let holder = req.holder.trim();
    if holder.is_empty() || holder.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_body",
            "`holder` must be 1 to 200 characters",
            json!({ "field": "holder" }),
        ));
    }
    if req.change_set.as_ref().is_some_and(|c| c.len() > 200) {
        return Err(ApiError::invalid(
            "invalid_body",
            "`change_set` is at most 200 characters",
            json!({ "field": "change_set" }),
        ));
    }
    let ttl = ttl(req.ttl_seconds)?;
    let (at, at_ms) = (now(), now_ms());
    let row = LockRow {
        lock_id: format!("lock_{}", uuid::Uuid::new_v4().simple()),
        holder: holder.to_string(),
        token_id: p.token_id.clone(),
        change_set: req.change_set,
        acquired_at: at.clone(),
        renewed_at: at,
        expires_ms: at_ms + 1000 * i64::from(ttl),
        ttl_seconds: i64::from(ttl),
    };
    match app.engine.db.acquire_apply_lock(&row, at_ms).await? {
        LockOutcome::Held(r) => {
            tracing::info!(lock = %r.lock_id, holder = %r.holder, token = %r.token_id, "apply lock taken");
            Ok(json_response(StatusCode::CREATED, &wire(&r)))
        }
        LockOutcome::Busy(other) => Err(busy("apply_locked", &other)),
        LockOutcome::Missing => Err(ApiError::Conflict {
            code: "apply_locked",
            message: "the apply lock changed hands while it was being taken; try again".into(),
            details: json!({}),
        }),
    }
}

async fn renew(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    Params(params): Params,
    OptionalJsonBody(body): OptionalJsonBody<ApplyLockRenewal>,
) -> ApiResult<Response> {
    // Whoever reads the state (an apply, an export) may see and take the lock.
    app.engine
        .read(|s| p.require(s, "organization.read"))
        .await??;
    let id = params.first().map(String::as_str).unwrap_or_default();
    let ttl = match body.and_then(|b| b.ttl_seconds) {
        Some(t) => Some(i64::from(ttl(Some(t))?)),
        None => None,
    };
    let current = app.engine.db.apply_lock().await?;
    may_touch(&p, current.as_ref().filter(|r| r.lock_id == id))?;
    match app
        .engine
        .db
        .renew_apply_lock(id, &now(), now_ms(), ttl)
        .await?
    {
        LockOutcome::Held(r) => Ok(json_response(StatusCode::OK, &wire(&r))),
        LockOutcome::Busy(other) => Err(busy("apply_lock_lost", &other)),
        LockOutcome::Missing => Err(ApiError::not_found(format!(
            "no apply lock `{id}`: it was released, or its lease ended and the lock was taken since"
        ))),
    }
}

async fn release(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    Params(params): Params,
) -> ApiResult<Response> {
    // Whoever reads the state (an apply, an export) may see and take the lock.
    app.engine
        .read(|s| p.require(s, "organization.read"))
        .await??;
    let id = params.first().map(String::as_str).unwrap_or_default();
    let current = app.engine.db.apply_lock().await?;
    may_touch(&p, current.as_ref().filter(|r| r.lock_id == id))?;
    if app.engine.db.release_apply_lock(id).await? {
        tracing::info!(lock = %id, token = %p.token_id, "apply lock released");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no apply lock `{id}`")))
    }
}
