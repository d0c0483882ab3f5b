//! Password resets (issue 12, item 5), two flows: an administrator gets a one-time link
//! for a user to pass on through a secure channel (seed 001), allowed exactly when it may
//! change that user ([`Actor::may_manage_user`](crate::server::authz::Actor::may_manage_user));
//! or the user asks for one by e-mail, with the same answer whether the address is known or
//! not. Redeeming a link (its secret is the only credential) sets the new password, once.
//! Only the hash of a link's secret is stored.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{
    ErrorBody, PasswordResetResponse, RedeemRequest, RedeemResponse, ResetRequest, ResetRequested,
};
use crate::model::{Kind, UserStatus};
use crate::server::error::{ApiError, ApiResult};
use crate::server::mail::{language_name, new_secret};
use crate::server::passwords;
use crate::server::store::{
    self, now_ms, AuditCtx, AuditOp, AuditSubject, NewAudit, NewReset, ResetOrigin,
};

use super::extract::{hash_secret, AuditHeaders, Auth, ClientAddr, JsonBody, Params};
use super::resources::visible;
use super::route::{Route, Routes, Schema};
use super::users::email_param;
use super::{json_response, AppState};

/// How long a link handed to an administrator works.
pub const ADMIN_LINK_HOURS: i64 = 24;
/// How long a link asked for by the user works.
pub const REQUEST_LINK_HOURS: i64 = 1;
/// At most this many links asked for per address…
pub const REQUESTS_PER_WINDOW: i64 = 3;
/// …in this many milliseconds; more are answered the same and send nothing.
pub const REQUEST_WINDOW_MS: i64 = 3_600_000;
/// At most this many reset requests per client address and window; more answer 429
/// (whatever the address asked about, so the refusal says nothing of it).
pub const REQUESTS_PER_CLIENT: i64 = 30;

/// The answer to every reset request.
const REQUESTED: &str =
    "if this address belongs to a user, an e-mail with a password reset link is on its way";

pub fn router() -> Routes {
    Routes::new("user")
        .route(
            Route::post("/users/{email}/password-reset", password_reset)
                .doc(
                    "passwordReset",
                    "A one-time password reset link (only a hash is stored)",
                )
                .about(
                    "Creates a one-time password reset link for the user, to pass on \
                     through a secure channel; the platform stores only its hash, so the \
                     link is in this answer only. Allowed exactly when the token may change \
                     the user: a tenant token only for a user who belongs to its tenant \
                     alone, holds no system role, and whose role it may give (a \
                     `user_admin`: plain members); others only with a system token.",
                )
                .json(201, "The link", Schema::of::<PasswordResetResponse>()),
        )
        .route(
            Route::post("/password-resets", request_reset)
                .public()
                .doc(
                    "requestPasswordReset",
                    "Ask for a password reset link by e-mail (same answer whether the address is known or not)",
                )
                .about(
                    "A user who forgot their password asks for a reset: if the address is \
                     an active user's, a one-time link (valid one hour) is e-mailed in the \
                     user's language. The answer is the same, and as quick, whether the \
                     address is known or not; at most three links per address and hour are \
                     sent, and a client may ask 30 times an hour (then 429 with \
                     `Retry-After`).",
                )
                .body(Schema::of::<ResetRequest>())
                .json(202, "Accepted", Schema::of::<ResetRequested>())
                .json(
                    429,
                    "Too many reset requests from this client address (`too_many_requests`): retry after `Retry-After` seconds",
                    Schema::of::<ErrorBody>(),
                ),
        )
        .route(
            Route::post("/password-resets/redeem", redeem_password_reset)
                .public()
                .doc(
                    "redeemPasswordReset",
                    "Redeem a password reset link, once, setting the new password",
                )
                .about(
                    "Sets a new password (stored as an argon2id hash) with a reset link's \
                     secret, once: of two redeems of one link, one succeeds and the other \
                     answers 409. The user's other unused links and every session end. \
                     The secret is the credential, so no token is needed.",
                )
                .body(Schema::of::<RedeemRequest>())
                .json(200, "Redeemed", Schema::of::<RedeemResponse>()),
        )
}

/// A new reset link's id and the time it expires, `hours` from now (RFC 3339).
pub fn new_reset_id(hours: i64) -> Result<(String, String), ApiError> {
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(hours);
    let expires_at = expires
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((format!("pwr_{}", uuid::Uuid::new_v4().simple()), expires_at))
}

/// The audit entry of a link made for `email` (no secret in it).
fn made(email: &str, id: &str, expires_at: &str, origin: ResetOrigin) -> NewAudit {
    NewAudit {
        op: AuditOp::PasswordReset,
        subject: AuditSubject::Resource(Kind::User),
        key: email.to_string(),
        tenant: None,
        before: None,
        after: Some(
            json!({ "reset": id, "expires_at": expires_at, "origin": origin.as_str() }).to_string(),
        ),
    }
}

async fn password_reset(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    let email = email_param(&params)?;
    let revision = app
        .engine
        .read(|s| -> Result<i64, ApiError> {
            visible(&p, s, Kind::User, &email)?;
            p.may_manage_user(s, &email, "users.update")?;
            Ok(s.revision)
        })
        .await??;
    let secret = new_secret();
    let (id, expires_at) = new_reset_id(ADMIN_LINK_HOURS)?;
    let entry = made(&email, &id, &expires_at, ResetOrigin::Admin);
    let ctx = audit.context(revision, &p);
    let reset = NewReset {
        id,
        email,
        hash: Some(hash_secret(&secret)),
        expires_at: expires_at.clone(),
        origin: ResetOrigin::Admin,
        language: String::new(),
    };
    app.engine
        .db
        .insert_password_reset(&reset, Some((&ctx, &[entry])))
        .await?;
    let link = format!("{}/reset-password?token={secret}", app.public_url);
    Ok(json_response(
        StatusCode::CREATED,
        &PasswordResetResponse { link, expires_at },
    ))
}

/// Answers at once, the same for any address; the work (looking the user up, storing the
/// link, queueing the e-mail) is done afterwards, so the time of the answer says nothing.
async fn request_reset(
    AxState(app): AxState<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(req): JsonBody<ResetRequest>,
) -> ApiResult<Response> {
    let n = req.email.chars().count();
    if n == 0 || n > 320 {
        return Err(ApiError::invalid(
            "invalid_email",
            "`email` must be 1 to 320 characters",
            json!({ "field": "email" }),
        ));
    }
    if let Some(wait_ms) = app
        .engine
        .db
        .reset_request_from(
            &client,
            now_ms() - REQUEST_WINDOW_MS,
            REQUESTS_PER_CLIENT,
            REQUEST_WINDOW_MS,
        )
        .await?
    {
        let secs = (wait_ms.max(0) as u64).div_ceil(1000).max(1);
        return Err(ApiError::TooManyRequests {
            code: "too_many_requests",
            message: format!(
                "too many password reset requests from this address: try again in {secs} s"
            ),
            retry_after_secs: secs,
        });
    }
    let email = req.email.trim().to_lowercase();
    tokio::spawn(async move {
        if let Err(e) = send_requested_reset(&app, &email).await {
            tracing::warn!(error = %e, "password reset request: not stored");
        }
    });
    Ok(json_response(
        StatusCode::ACCEPTED,
        &ResetRequested {
            message: REQUESTED.into(),
        },
    ))
}

/// Stores a link for `email` and queues its e-mail, if it is an active user's who has a
/// password and did not ask too often. Never says which.
async fn send_requested_reset(app: &AppState, email: &str) -> Result<(), ApiError> {
    let found = app
        .engine
        .read(|s| {
            s.users
                .get(email)
                .filter(|u| u.spec.status == UserStatus::Active)
                .map(|u| (language_name(u.spec.language), s.revision))
        })
        .await?;
    let Some((language, revision)) = found else {
        return Ok(());
    };
    let has_password = app
        .engine
        .db
        .account(email)
        .await?
        .is_some_and(|a| a.password_hash.is_some());
    if !has_password {
        // A pending user: their invitation is how they choose a password.
        return Ok(());
    }
    let (id, expires_at) = new_reset_id(REQUEST_LINK_HOURS)?;
    let entry = made(email, &id, &expires_at, ResetOrigin::Request);
    let ctx = AuditCtx {
        revision,
        token_id: id.clone(),
        change_set: None,
        commit: None,
    };
    let reset = NewReset {
        id,
        email: email.to_string(),
        hash: None,
        expires_at,
        origin: ResetOrigin::Request,
        language: language.to_string(),
    };
    let queued = app
        .engine
        .db
        .request_password_reset(
            &reset,
            now_ms() - REQUEST_WINDOW_MS,
            REQUESTS_PER_WINDOW,
            Some((&ctx, &[entry])),
        )
        .await?;
    if queued {
        app.engine.mail_queued();
    }
    Ok(())
}

fn used() -> ApiError {
    ApiError::Conflict {
        code: "reset_used",
        message: "this password reset link was already used (or a newer one was)".into(),
        details: json!({}),
    }
}

fn expired() -> ApiError {
    ApiError::Conflict {
        code: "reset_expired",
        message: "this password reset link has expired: ask for a new one".into(),
        details: json!({}),
    }
}

/// Redeems a password reset link, once: the link's secret is the credential (no token).
async fn redeem_password_reset(
    AxState(app): AxState<AppState>,
    JsonBody(req): JsonBody<RedeemRequest>,
) -> ApiResult<Response> {
    let hash = hash_secret(&req.token);
    let unknown = || ApiError::not_found("no such password reset link");
    let row = app
        .engine
        .db
        .password_reset_by_hash(&hash)
        .await?
        .ok_or_else(unknown)?;
    if row.used_at.is_some() {
        return Err(used());
    }
    if row.expired(time::OffsetDateTime::now_utc())? {
        return Err(expired());
    }
    let email = row.email.clone();
    let revision = app
        .engine
        .read(|s| s.users.contains_key(&email).then_some(s.revision))
        .await?
        .ok_or_else(unknown)?;
    passwords::check(&req.password, &email).map_err(|e| {
        ApiError::invalid(
            "weak_password",
            e.to_string(),
            json!({ "field": "password" }),
        )
    })?;
    let phc = passwords::hash(req.password.clone())
        .await
        .map_err(ApiError::Internal)?;
    let entry = NewAudit {
        op: AuditOp::PasswordResetRedeemed,
        subject: AuditSubject::Resource(Kind::User),
        key: email.clone(),
        tenant: None,
        before: None,
        after: Some(json!({ "reset": row.id }).to_string()),
    };
    let ctx = AuditCtx {
        revision,
        token_id: row.id.clone(),
        change_set: None,
        commit: None,
    };
    match app
        .engine
        .db
        .redeem_password_reset(&hash, &phc, Some((&ctx, &[entry])))
        .await?
    {
        store::Redeemed::Ok(email, ended) => Ok(json_response(
            StatusCode::OK,
            &RedeemResponse {
                email,
                sessions_ended: ended as u64,
            },
        )),
        store::Redeemed::Unknown => Err(unknown()),
        store::Redeemed::Used => Err(used()),
        store::Redeemed::Expired => Err(expired()),
    }
}
