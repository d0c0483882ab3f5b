//! The endpoints about the API itself: liveness, the token's identity and the OpenAPI
//! document.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::{Health, WhoAmI};
use crate::server::error::ApiResult;

use super::extract::Auth;
use super::json_response;
use super::route::{Route, Routes, Schema};
use super::AppState;

pub fn router() -> Routes {
    Routes::new("meta")
        .route(
            Route::get("/healthz", health)
                .at_root()
                .public()
                .doc("health", "Liveness probe")
                .json(200, "Alive", Schema::of::<Health>()),
        )
        .route(
            Route::get("/openapi.json", openapi_doc)
                .public()
                .doc("openapi", "This document")
                .json(
                    200,
                    "The OpenAPI document",
                    Schema::Inline(serde_json::json!({ "type": "object" })),
                ),
        )
        .route(
            Route::get("/whoami", whoami)
                .doc(
                    "whoami",
                    "The token's identity, and what it may read and change kind by kind",
                )
                .json(200, "The token", Schema::of::<WhoAmI>()),
        )
}

async fn whoami(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let access = app
        .engine
        .read(|s| crate::server::scope::table(&p, s))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &WhoAmI {
            token_id: p.token_id.clone(),
            scope: p.scope.to_string(),
            role: p.role.clone(),
            user: p.user.clone(),
            access,
        },
    ))
}

async fn health() -> Response {
    json_response(
        StatusCode::OK,
        &crate::api::Health {
            status: "ok".into(),
        },
    )
}

/// The OpenAPI document, served as committed.
async fn openapi_doc() -> Response {
    let doc = crate::server::openapi::document();
    json_response(StatusCode::OK, &doc)
}
