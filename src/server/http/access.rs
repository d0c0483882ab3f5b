//! The question applications ask the platform: may this user do P in tenant T (on workspace
//! W), may this user use model M (`GET /api/v1/access`), and many of them in one request
//! (`POST /api/v1/access/batch`). The answer is the one access decision
//! ([`crate::rules::access::decide`]): verdict, reason, steps and what is effective, the
//! same `tenantctl explain --format json` prints. The system may ask anything; a principal
//! of the tenant may ask about itself, or about anyone when it holds `users.read`. Each
//! answer carries a `Server-Timing` header: the time the server spent on it.

use std::time::Instant;

use axum::extract::State as AxState;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::api::{AccessAnswer, AccessBatchRequest, AccessBatchResponse, AccessQuestion};
use crate::model::State;
use crate::rules::access::{self, Question};
use crate::server::authz::Principal;
use crate::server::error::{ApiError, ApiResult};

use super::extract::{Auth, JsonBody, QueryPairs};
use super::route::{Param, Route, Routes, Schema};
use super::{json_response, AppState};

/// At most this many questions in one batch.
pub const MAX_BATCH: usize = 1000;

pub fn router() -> Routes {
    Routes::new("access")
        .route(
            Route::get("/access", check)
                .doc(
                    "checkAccess",
                    "May a user hold a permission (on a workspace) or use a model in a tenant: the decision and its steps",
                )
                .param(Param::Access)
                .json(200, "The decision", Schema::of::<AccessAnswer>()),
        )
        .route(
            Route::post("/access/batch", check_batch)
                .doc(
                    "checkAccessBatch",
                    "Many access questions in one request; the answers in the order asked",
                )
                .read_only()
                .body(Schema::of::<AccessBatchRequest>())
                .json(200, "The decisions", Schema::of::<AccessBatchResponse>()),
        )
}

/// Adds `Server-Timing: app;dur=MS` (the time since `started`) to `resp`.
fn timed(mut resp: Response, started: Instant) -> Response {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}

/// The decision for one question, if `p` may ask it.
fn answer(p: &Principal, state: &State, q: &AccessQuestion) -> Result<AccessAnswer, ApiError> {
    let user = q.user.trim().to_lowercase();
    p.actor(state)?.may_ask_about(state, &user, &q.tenant)?;
    let question = match (&q.permission, &q.model) {
        (Some(permission), None) => Question::Permission {
            permission,
            tenant: Some(&q.tenant),
            workspace: q.workspace.as_deref(),
        },
        (None, Some(model)) if q.workspace.is_none() => Question::Model {
            model,
            tenant: Some(&q.tenant),
        },
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "invalid_question",
                "a model question takes no `workspace`",
                json!({}),
            ))
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid_question",
                "ask about a `permission` or a `model`: one of them",
                json!({}),
            ))
        }
    };
    Ok(AccessAnswer::from(&access::decide(state, &user, &question)))
}

async fn check(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    let started = Instant::now();
    q.only(&["user", "tenant", "permission", "workspace", "model"])?;
    let required = |name: &str| -> Result<String, ApiError> {
        q.one(name)?
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request("invalid_query", format!("`{name}` is required")))
    };
    let question = AccessQuestion {
        user: required("user")?,
        tenant: required("tenant")?,
        permission: q.one("permission")?.map(str::to_string),
        workspace: q.one("workspace")?.map(str::to_string),
        model: q.one("model")?.map(str::to_string),
    };
    let out = app.engine.read(|s| answer(&p, s, &question)).await??;
    Ok(timed(json_response(StatusCode::OK, &out), started))
}

/// `e` with the index of the question it is about.
fn at_question(e: ApiError, i: usize) -> ApiError {
    match e {
        ApiError::Forbidden(m) => ApiError::Forbidden(format!("question {i}: {m}")),
        ApiError::NotFound { message, .. } => ApiError::NotFound {
            message: format!("question {i}: {message}"),
            details: json!({ "question": i }),
        },
        ApiError::Invalid { code, message, .. } => ApiError::Invalid {
            code,
            message: format!("question {i}: {message}"),
            details: json!({ "question": i }),
        },
        other => other,
    }
}

async fn check_batch(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<AccessBatchRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    if req.questions.is_empty() || req.questions.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "invalid_body",
            format!(
                "{} questions: ask between 1 and {MAX_BATCH} at once",
                req.questions.len()
            ),
            json!({}),
        ));
    }
    let answers = app
        .engine
        .read(|s| {
            req.questions
                .iter()
                .enumerate()
                .map(|(i, q)| answer(&p, s, q).map_err(|e| at_question(e, i)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await??;
    Ok(timed(
        json_response(StatusCode::OK, &AccessBatchResponse { answers }),
        started,
    ))
}
