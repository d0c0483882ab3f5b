//! Tokens through the API (system tokens only): mint, list, revoke. The minting, the
//! expiry and the revocation themselves are `server::tokens`.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{TokenList, TokenRequest, TokenResponse};
use crate::server::authz::{Actor, Principal};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::Revoked;

use super::extract::{AuditHeaders, Auth, JsonBody, Params};
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("tokens")
        .route(
            Route::post("/tokens", create_token)
                .doc(
                    "createToken",
                    "Mint a token (system tokens only), with an optional expiry; the secret is shown once",
                )
                .about(
                    "Mints an API token for the system or for one tenant, with an \
                     optional role, an optional user it acts as and an optional \
                     expiry. Only a system token may do this. The secret is in this \
                     answer only; the platform keeps its hash.",
                )
                .body(Schema::of::<TokenRequest>())
                .json(201, "Created", Schema::of::<TokenResponse>()),
        )
        .route(
            Route::get("/tokens", list_tokens)
                .doc(
                    "listTokens",
                    "Every token with its scope, role, expiry and status, never its secret (system tokens only)",
                )
                .about(
                    "Every token, oldest first, with its id, scope, role, user, \
                     expiry and status; never its secret. Only a system token may \
                     list tokens.",
                )
                .json(200, "The tokens, oldest first", Schema::of::<TokenList>()),
        )
        .route(
            Route::delete("/tokens/{token}", revoke_token)
                .doc(
                    "revokeToken",
                    "Revoke a token by its id (system tokens only); it stops working at once on every server sharing the database",
                )
                .about(
                    "Revokes the token with this id: it stops working at once on \
                     every server sharing the database (each request reads its \
                     token's row). Revoking a revoked token answers 204 again. Only a \
                     system token may revoke tokens.",
                )
                .answer(204, "Revoked (or revoked already)", None),
        )
}

/// Only the system (a system token, or a session or token acting as an active
/// super_admin) mints, lists and revokes tokens.
async fn system_only(app: &AppState, p: &Principal, what: &str) -> ApiResult<()> {
    let system = app
        .engine
        .read(|s| p.actor(s).map(|a| matches!(a, Actor::System)))
        .await??;
    if system {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only a system token can {what} tokens"
        )))
    }
}

async fn create_token(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    system_only(&app, &p, "create").await?;
    let revision = app
        .engine
        .read(|s| -> Result<i64, ApiError> {
            p.actor(s)?;
            if let Some(r) = req.role.as_deref() {
                if crate::rules::is_role_name(r) && !crate::rules::role_exists(s, r) {
                    return Err(ApiError::invalid(
                        "invalid_token_request",
                        format!("role `{r}` does not exist"),
                        json!({ "role": r }),
                    ));
                }
            }
            Ok(s.revision)
        })
        .await??;
    let ctx = audit.context(revision, &p);
    let token = crate::server::tokens::create(
        &app.engine.db,
        &req.scope,
        req.role.as_deref(),
        req.user.as_deref(),
        req.description.as_deref(),
        req.expires_at.as_deref(),
        Some(&ctx),
    )
    .await
    .map_err(|e| match e {
        crate::server::ServerError::InvalidToken(m) => {
            ApiError::invalid("invalid_token_request", m, json!({}))
        }
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok(json_response(StatusCode::CREATED, &token))
}

async fn list_tokens(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    system_only(&app, &p, "list").await?;
    let now = time::OffsetDateTime::now_utc();
    let tokens = app
        .engine
        .db
        .list_tokens()
        .await?
        .into_iter()
        .map(|e| crate::server::tokens::info(e, now))
        .collect();
    Ok(json_response(StatusCode::OK, &TokenList { tokens }))
}

async fn revoke_token(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    Params(params): Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    system_only(&app, &p, "revoke").await?;
    let id = params.first().map(String::as_str).unwrap_or_default();
    let revision = app.engine.read(|s| s.revision).await?;
    let ctx = audit.context(revision, &p);
    let out = crate::server::tokens::revoke(&app.engine.db, id, Some(&ctx))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match out {
        Revoked::Missing => Err(ApiError::not_found(format!("no token `{id}`"))),
        Revoked::Now | Revoked::Already(_) => {
            tracing::info!(token = %id, by = %p.token_id, "token revoked");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}
