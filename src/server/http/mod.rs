//! The HTTP surface: the router (one table of routes, mirrored by `openapi`), body limits,
//! timeouts, request logs, and JSON answers for unknown routes and methods.

pub mod actions;
pub mod extract;
pub mod resources;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::api::{PutBody, PREFIX};
use crate::model::Kind;

use super::authz::Principal;
use super::engine::Engine;
use super::error::ApiError;
use extract::{AuditHeaders, Auth, IfMatch, JsonBody, Params, QueryPairs};

/// Body limit of the batch endpoint.
pub const BATCH_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Body limit of every other endpoint.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Time limit of one request (the batch gets [`BATCH_TIMEOUT`]).
pub const TIMEOUT: Duration = Duration::from_secs(60);
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(600);

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Known tokens by hash (tokens are never revoked, so a hit stays valid).
    pub token_cache: Arc<Mutex<HashMap<String, Principal>>>,
    /// Base URL for links the API hands out.
    pub public_url: String,
}

fn resource_routes(kind: Kind) -> MethodRouter<AppState> {
    get(
        move |AxState(app): AxState<AppState>, Auth(p): Auth, params: Params| {
            resources::get_one(kind, app, p, params)
        },
    )
    .put(
        move |AxState(app): AxState<AppState>,
              Auth(p): Auth,
              params: Params,
              if_match: IfMatch,
              audit: AuditHeaders,
              JsonBody(body): JsonBody<PutBody>| {
            resources::put_one(kind, app, p, params, if_match, audit, body)
        },
    )
    .delete(
        move |AxState(app): AxState<AppState>,
              Auth(p): Auth,
              params: Params,
              if_match: IfMatch,
              audit: AuditHeaders| {
            resources::delete_one(kind, app, p, params, if_match, audit)
        },
    )
}

fn list_route(kind: Kind) -> MethodRouter<AppState> {
    get(
        move |AxState(app): AxState<AppState>, Auth(p): Auth, q: QueryPairs| {
            resources::list(kind, app, p, q)
        },
    )
}

/// The OpenAPI document, served as committed.
async fn openapi_doc() -> Response {
    let doc = super::openapi::document();
    resources::json_response(StatusCode::OK, &doc)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no route for `{}`", req.uri().path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Answers 503 `timeout` when a request takes too long. Writes run in their own task, so a
/// timed-out write still completes or rolls back as a whole.
async fn timeout(req: Request, next: Next) -> Response {
    let limit = if req.uri().path().ends_with("/batch") {
        BATCH_TIMEOUT
    } else {
        TIMEOUT
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Gives a JSON error body to the few answers axum makes itself (e.g. a 405 from a
/// nested router); every handler error already has one.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error())
        && resp.headers().get(header::CONTENT_TYPE)
            != Some(&HeaderValue::from_static("application/json"))
    {
        let err = match status {
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::NOT_FOUND => ApiError::not_found("not found"),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge("the request body is too large".into())
            }
            s if s.is_server_error() => ApiError::Internal(format!("status {s} without a body")),
            s => ApiError::BadRequest {
                code: "bad_request",
                message: format!("bad request ({s})"),
                details: serde_json::Value::Null,
            },
        };
        let mut out = err.into_response();
        *out.status_mut() = status;
        return out;
    }
    resp
}

/// The application: every route of the API.
pub fn router(engine: Arc<Engine>, public_url: String) -> Router {
    let state = AppState {
        engine,
        token_cache: Arc::new(Mutex::new(HashMap::new())),
        public_url,
    };
    let mut api = Router::new()
        .route("/state", get(resources::get_state))
        .route(
            "/batch",
            post(resources::batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/whoami", get(actions::whoami))
        .route("/tokens", post(actions::create_token))
        .route(
            "/invitations",
            get(actions::list_invitations).post(actions::invite),
        )
        .route("/invitations/{id}/accept", post(actions::accept))
        .route("/users/{email}/block", post(actions::block))
        .route("/users/{email}/unblock", post(actions::unblock))
        .route(
            "/users/{email}/password-reset",
            post(actions::password_reset),
        )
        .route(
            "/password-resets/redeem",
            post(actions::redeem_password_reset),
        )
        .route(
            "/users/{email}/memberships",
            axum::routing::delete(actions::remove_memberships),
        )
        .route("/dashboard", get(actions::dashboard))
        .route("/exports/users.csv", get(actions::users_csv))
        .route("/audit", get(actions::audit))
        .route("/openapi.json", get(openapi_doc));
    for &kind in Kind::ALL {
        api = api
            .route(&format!("/{}", kind.plural()), list_route(kind))
            .route(resources::resource_path(kind), resource_routes(kind));
    }
    Router::new()
        .route("/healthz", get(actions::health))
        .nest(PREFIX, api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(timeout))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
