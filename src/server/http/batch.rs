//! The atomic batch: many operations in one transaction, all applied or none (what
//! `apply` sends).

use std::collections::HashMap;

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{BatchRequest, BatchResponse, OpKind};
use crate::server::engine::{check_key, Effect, Mutation};
use crate::server::error::{ApiError, ApiResult};
use crate::server::sensitive;

use super::extract::{AuditHeaders, Auth, JsonBody};
use super::resources::spec_of;
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState, BATCH_BODY_LIMIT};

pub fn router() -> Routes {
    Routes::new("state").route(
        Route::post("/batch", batch)
            .body_limit(BATCH_BODY_LIMIT)
            .doc(
                "batch",
                "Apply many operations in one transaction, all or none",
            )
            .body(Schema::of::<BatchRequest>())
            .json(200, "Applied", Schema::of::<BatchResponse>()),
    )
}

async fn batch(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<BatchRequest>,
) -> ApiResult<Response> {
    let mut mutations = Vec::with_capacity(req.operations.len());
    let mut sensitive = HashMap::new();
    for (i, o) in req.operations.into_iter().enumerate() {
        let at = |e: ApiError| e.at_operation(i);
        check_key(o.kind, &o.key).map_err(at)?;
        if o.if_version.is_some_and(|v| v < 0) {
            return Err(at(ApiError::invalid(
                "invalid_body",
                "`if_version` must be 0 or more",
                json!({}),
            )));
        }
        let effect = match o.op {
            OpKind::Put => {
                let Some(spec) = o.spec else {
                    return Err(at(ApiError::invalid(
                        "invalid_spec",
                        "a `put` needs a `spec`",
                        json!({}),
                    )));
                };
                if let Some(fields) = o.sensitive {
                    sensitive::check(&spec, &fields).map_err(at)?;
                    sensitive.insert((o.kind, o.key.clone()), fields);
                }
                Effect::Put {
                    spec: spec_of(o.kind, spec).map_err(at)?,
                    protected: o.protected,
                    managed: Some(true),
                }
            }
            OpKind::Delete | OpKind::Adopt => {
                if o.spec.is_some() || o.protected.is_some() || o.sensitive.is_some() {
                    return Err(at(ApiError::invalid(
                        "invalid_body",
                        "only a `put` takes `spec`, `protected` and `sensitive`",
                        json!({}),
                    )));
                }
                if o.op == OpKind::Delete {
                    Effect::Delete
                } else {
                    Effect::Adopt
                }
            }
        };
        mutations.push(Mutation {
            kind: o.kind,
            key: o.key,
            if_version: o.if_version,
            effect,
        });
    }
    let mut w = audit.write(p, mutations);
    w.expected_revision = req.expected_revision;
    w.allow_limit_below_usage = req.allow_limit_below_usage;
    w.dry_run = req.dry_run;
    w.sensitive = sensitive;
    let out = app.engine.write(w).await?;
    Ok(json_response(
        StatusCode::OK,
        &BatchResponse {
            revision: out.revision,
            applied: out.applied,
        },
    ))
}
