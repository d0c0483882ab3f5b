//! The HTTP surface: one module per resource, each with its [`route::Routes`] (handlers
//! and their OpenAPI description, declared once), merged here into the router with body
//! limits, timeouts, request logs, and JSON answers for unknown routes and methods.

mod accept;
mod access;
mod apply_lock;
mod audit;
mod batch;
mod dashboard;
mod exports;
pub mod extract;
mod invitations;
mod me;
mod memberships;
mod meta;
mod password_resets;
mod records;
mod registries;
mod resources;
pub mod route;
mod sensitive;
mod sessions;
mod state;
mod tokens;
mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::trace::TraceLayer;

use super::engine::Engine;
use super::error::ApiError;
use route::Routes;

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
    /// Base URL for links the API hands out.
    pub public_url: String,
    /// How sessions live and failed sign-ins are throttled.
    pub auth: crate::server::sessions::AuthPolicy,
    /// When this process last forgot old sign-in counters (ms since the epoch).
    pub throttle_pruned_ms: Arc<std::sync::atomic::AtomicI64>,
    /// When this process last recorded each user as active (the database also refuses
    /// to move `last_active` more than once a minute, across processes).
    pub last_active: Arc<Mutex<HashMap<String, std::time::Instant>>>,
}

impl AppState {
    /// Records that `email` made an authenticated request: at most once a minute per user,
    /// in the background (a request never waits for it).
    pub fn touch(&self, email: &str) {
        let every = Duration::from_millis(super::store::LAST_ACTIVE_EVERY_MS as u64);
        let now = std::time::Instant::now();
        if let Ok(mut seen) = self.last_active.lock() {
            if seen
                .get(email)
                .is_some_and(|t| now.duration_since(*t) < every)
            {
                return;
            }
            seen.insert(email.to_string(), now);
        }
        let engine = Arc::clone(&self.engine);
        let email = email.to_string();
        tokio::spawn(async move {
            if let Err(e) = engine.db.touch_last_active(&email).await {
                tracing::warn!(error = %e, "cannot record the last activity of a user");
            }
        });
    }
}

/// A JSON answer with a status.
pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

/// Every route of the API, in the order the OpenAPI document lists them.
pub fn routes() -> Routes {
    Routes::default()
        .merge(meta::router())
        .merge(state::router())
        .merge(access::router())
        .merge(batch::router())
        .merge(apply_lock::router())
        .merge(sensitive::router())
        .merge(resources::router())
        .merge(tokens::router())
        .merge(sessions::router())
        .merge(me::router())
        .merge(invitations::router())
        .merge(users::router())
        .merge(password_resets::router())
        .merge(memberships::router())
        .merge(registries::router())
        .merge(dashboard::router())
        .merge(exports::router())
        .merge(audit::router())
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
pub fn router(
    engine: Arc<Engine>,
    public_url: String,
    auth: crate::server::sessions::AuthPolicy,
) -> Router {
    let state = AppState {
        engine,
        public_url,
        auth,
        throttle_pruned_ms: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        last_active: Arc::new(Mutex::new(HashMap::new())),
    };
    routes()
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(timeout))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
