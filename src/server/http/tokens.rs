//! Minting tokens through the API (system tokens only); the minting itself is
//! `server::tokens`.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{TokenRequest, TokenResponse};
use crate::server::error::{ApiError, ApiResult};

use super::extract::{AuditHeaders, Auth, JsonBody};
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("tokens").route(
        Route::post("/tokens", create_token)
            .doc(
                "createToken",
                "Mint a token (system tokens only); the secret is shown once",
            )
            .body(Schema::of::<TokenRequest>())
            .json(201, "Created", Schema::of::<TokenResponse>()),
    )
}

async fn create_token(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    if !p.is_system() {
        return Err(ApiError::forbidden("only a system token can create tokens"));
    }
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
