//! The resource endpoints: the whole state, the atomic batch, and read, list, put and delete
//! of each kind.

use axum::extract::State as AxState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{BatchRequest, BatchResponse, OpKind, PutBody, ResourceBody};
use crate::model::{keys, AnySpec, Kind, Meta};
use crate::server::authz::{Access, Principal};
use crate::server::engine::{check_key, Effect, Mutation, WriteRequest};
use crate::server::error::{ApiError, ApiResult};

use super::extract::{AuditHeaders, Auth, IfMatch, JsonBody, Params, QueryPairs};
use super::AppState;

/// The route of one resource of `kind`, under `/api/v1`.
pub fn resource_path(kind: Kind) -> &'static str {
    match kind {
        Kind::Plan => "/plans/{plan}",
        Kind::Model => "/models/{model}",
        Kind::Role => "/roles/{role}",
        Kind::Tenant => "/tenants/{tenant}",
        Kind::Workspace => "/tenants/{tenant}/workspaces/{workspace}",
        Kind::TenantModel => "/tenants/{tenant}/models/{model}",
        Kind::Grant => "/tenants/{tenant}/workspaces/{workspace}/grants/{grantee}",
        Kind::User => "/users/{email}",
        Kind::Membership => "/users/{email}/memberships/{tenant}",
        Kind::UserModel => "/users/{email}/models/{model}",
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

pub fn resource_body(kind: Kind, key: &str, meta: Meta, spec: &AnySpec) -> ResourceBody {
    ResourceBody {
        kind,
        key: key.to_string(),
        version: meta.version,
        managed: meta.managed,
        protected: meta.protected,
        spec: spec.to_value(),
    }
}

fn resource_response(
    status: StatusCode,
    kind: Kind,
    key: &str,
    meta: Meta,
    spec: &AnySpec,
) -> Response {
    let mut resp = json_response(status, &resource_body(kind, key, meta, spec));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", meta.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// The key of `kind` from the path parameters.
fn key_of(kind: Kind, params: &[String]) -> Result<String, ApiError> {
    let key = keys::join(&params.iter().map(String::as_str).collect::<Vec<_>>());
    check_key(kind, &key)?;
    Ok(key)
}

fn spec_of(kind: Kind, value: serde_json::Value) -> Result<AnySpec, ApiError> {
    crate::server::specs::parse(kind, value)
}

/// Answers a read of `kind/key` for `principal`.
pub fn visible(
    principal: &Principal,
    state: &crate::model::State,
    kind: Kind,
    key: &str,
) -> Result<(Meta, AnySpec), ApiError> {
    match principal.read_access(state, kind, key) {
        Access::Forbidden => Err(ApiError::forbidden(format!(
            "this token cannot read {kind}s"
        ))),
        Access::Hidden => Err(ApiError::NotFound {
            message: format!("{kind} `{key}` does not exist"),
            details: json!({ "kind": kind, "key": key }),
        }),
        Access::Allowed => state.get(kind, key).ok_or_else(|| ApiError::NotFound {
            message: format!("{kind} `{key}` does not exist"),
            details: json!({ "kind": kind, "key": key }),
        }),
    }
}

pub async fn get_state(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let bytes = app.engine.state_json(&p).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

pub async fn batch(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<BatchRequest>,
) -> ApiResult<Response> {
    p.require_admin()?;
    let mut mutations = Vec::with_capacity(req.operations.len());
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
                Effect::Put {
                    spec: spec_of(o.kind, spec).map_err(at)?,
                    protected: o.protected,
                    managed: Some(true),
                }
            }
            OpKind::Delete | OpKind::Adopt => {
                if o.spec.is_some() || o.protected.is_some() {
                    return Err(at(ApiError::invalid(
                        "invalid_body",
                        "only a `put` takes `spec` and `protected`",
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
    let mut w = WriteRequest::new(p, mutations);
    w.expected_revision = req.expected_revision;
    w.allow_limit_below_usage = req.allow_limit_below_usage;
    w.change_set = audit.change_set;
    w.commit = audit.commit;
    let out = app.engine.write(w).await?;
    Ok(json_response(
        StatusCode::OK,
        &BatchResponse {
            revision: out.revision,
            applied: out.applied,
        },
    ))
}

pub async fn get_one(
    kind: Kind,
    app: AppState,
    p: Principal,
    params: Params,
) -> ApiResult<Response> {
    let key = key_of(kind, &params.0)?;
    let (meta, spec) = app.engine.read(|s| visible(&p, s, kind, &key)).await??;
    Ok(resource_response(StatusCode::OK, kind, &key, meta, &spec))
}

pub async fn put_one(
    kind: Kind,
    app: AppState,
    p: Principal,
    params: Params,
    if_match: IfMatch,
    audit: AuditHeaders,
    body: PutBody,
) -> ApiResult<Response> {
    p.require_admin()?;
    let key = key_of(kind, &params.0)?;
    let spec = spec_of(kind, body.spec)?;
    let mutation = Mutation {
        kind,
        key: key.clone(),
        if_version: if_match.0,
        effect: Effect::Put {
            spec,
            protected: body.protected,
            managed: body.managed,
        },
    };
    let mut w = WriteRequest::new(p, vec![mutation]);
    w.change_set = audit.change_set;
    w.commit = audit.commit;
    let out = app.engine.write(w).await?;
    let Some((created, Some((meta, spec)))) = out.results.into_iter().next() else {
        return Err(ApiError::Internal("put returned no resource".into()));
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(resource_response(status, kind, &key, meta, &spec))
}

pub async fn delete_one(
    kind: Kind,
    app: AppState,
    p: Principal,
    params: Params,
    if_match: IfMatch,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    p.require_admin()?;
    let key = key_of(kind, &params.0)?;
    let mutation = Mutation {
        kind,
        key,
        if_version: if_match.0,
        effect: Effect::Delete,
    };
    let mut w = WriteRequest::new(p, vec![mutation]);
    w.change_set = audit.change_set;
    w.commit = audit.commit;
    app.engine.write(w).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list(kind: Kind, app: AppState, p: Principal, q: QueryPairs) -> ApiResult<Response> {
    p.require_admin()?;
    let (limit, cursor) = q.page(100, 1000)?;
    let page = app
        .engine
        .read(|s| {
            let mut items = Vec::new();
            let mut next = None;
            let keys: Box<dyn Iterator<Item = &str>> = match &cursor {
                Some(c) => Box::new(s.keys(kind).filter(move |k| *k > c.as_str())),
                None => s.keys(kind),
            };
            for k in keys {
                if p.read_access(s, kind, k) != Access::Allowed {
                    continue;
                }
                if items.len() == limit {
                    next = items.last().map(|b: &ResourceBody| b.key.clone());
                    break;
                }
                if let Some((meta, spec)) = s.get(kind, k) {
                    items.push(resource_body(kind, k, meta, &spec));
                }
            }
            json!({ "items": items, "next_cursor": next })
        })
        .await?;
    Ok(json_response(StatusCode::OK, &page))
}
