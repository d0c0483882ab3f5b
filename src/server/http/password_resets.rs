//! Password resets: a one-time link for a user (only the hash of its secret is stored),
//! and redeeming it, once, with the link's secret as the only credential.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use rand::RngCore;
use serde_json::json;

use crate::api::{PasswordResetResponse, RedeemRequest, RedeemResponse};
use crate::model::Kind;
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{self, AuditOp, AuditSubject, NewAudit};

use super::extract::{hash_secret, AuditHeaders, Auth, JsonBody, Params};
use super::resources::visible;
use super::route::{Route, Routes, Schema};
use super::users::email_param;
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("user")
        .route(
            Route::post("/users/{email}/password-reset", password_reset)
                .doc(
                    "passwordReset",
                    "A one-time password reset link (only a hash is stored)",
                )
                .json(201, "The link", Schema::of::<PasswordResetResponse>()),
        )
        .route(
            Route::post("/password-resets/redeem", redeem_password_reset)
                .public()
                .doc(
                    "redeemPasswordReset",
                    "Redeem a password reset link, once (the link's secret is the credential)",
                )
                .body(Schema::of::<RedeemRequest>())
                .json(200, "Redeemed", Schema::of::<RedeemResponse>()),
        )
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
            p.actor(s)?.may_manage_user(s, &email, "users.update")?;
            Ok(s.revision)
        })
        .await??;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(24);
    let expires_at = expires
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = format!("pwr_{}", uuid::Uuid::new_v4().simple());
    let entry = NewAudit {
        op: AuditOp::PasswordReset,
        subject: AuditSubject::Resource(Kind::User),
        key: email.clone(),
        tenant: None,
        before: None,
        after: Some(json!({ "reset": id, "expires_at": expires_at }).to_string()),
    };
    let ctx = audit.context(revision, &p);
    app.engine
        .db
        .insert_password_reset(
            &id,
            &email,
            &hash_secret(&secret),
            &expires_at,
            Some((&ctx, &[entry])),
        )
        .await?;
    let link = format!("{}/reset-password?token={secret}", app.public_url);
    Ok(json_response(
        StatusCode::CREATED,
        &PasswordResetResponse { link, expires_at },
    ))
}

/// Redeems a password reset link, once: the link's secret is the credential (no token).
async fn redeem_password_reset(
    AxState(app): AxState<AppState>,
    JsonBody(req): JsonBody<crate::api::RedeemRequest>,
) -> ApiResult<Response> {
    use store::Redeemed;
    match app
        .engine
        .db
        .redeem_password_reset(&hash_secret(&req.token))
        .await?
    {
        Redeemed::Ok(email) => Ok(json_response(
            StatusCode::OK,
            &crate::api::RedeemResponse { email },
        )),
        Redeemed::Unknown => Err(ApiError::not_found("no such password reset link")),
        Redeemed::Used => Err(ApiError::Conflict {
            code: "reset_used",
            message: "this password reset link was already used".into(),
            details: json!({}),
        }),
        Redeemed::Expired => Err(ApiError::Conflict {
            code: "reset_expired",
            message: "this password reset link has expired".into(),
            details: json!({}),
        }),
    }
}
