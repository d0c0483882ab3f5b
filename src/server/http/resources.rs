//! The resources of the ten kinds: list, read, put and delete one, at the paths of
//! [`resource_path`].

use axum::extract::State as AxState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{PutBody, ResourceBody, ResourcePage};
use crate::model::{keys, AnySpec, Kind, Meta};
use crate::server::authz::{self, Principal, Visibility};
use crate::server::engine::{check_key, Effect, Mutation};
use crate::server::error::{ApiError, ApiResult};
use crate::server::sensitive;

use super::extract::{AuditHeaders, Auth, IfMatch, JsonBody, Params, QueryPairs};
use super::route::{pascal_case, Param, Route, Routes, Schema};
use super::users::{with_account, with_accounts};
use super::{json_response, AppState};

/// For each kind, under its tag: list, read, put and delete.
pub fn router() -> Routes {
    Kind::ALL.iter().fold(Routes::default(), |routes, &kind| {
        routes.merge(kind_routes(kind))
    })
}

fn kind_routes(kind: Kind) -> Routes {
    let (plural, name, path) = (kind.plural(), kind.as_str(), resource_path(kind));
    let (one, many) = (pascal_case(name), pascal_case(plural));
    Routes::new(name)
        .route(
            Route::get(
                format!("/{plural}"),
                move |AxState(app): AxState<AppState>, Auth(p): Auth, q: QueryPairs| {
                    list(kind, app, p, q)
                },
            )
            .doc(format!("list{many}"), format!("List {plural}"))
            .about(format!(
                "The {plural} the token may read, sorted by key, a page at a time: pass the \
                 answer's `next_cursor` as `cursor` for the next page (null on the last)."
            ))
            .param(Param::Page)
            .json(200, "A page", Schema::ResourcePage(kind)),
        )
        .route(
            Route::get(
                path,
                move |AxState(app): AxState<AppState>, Auth(p): Auth, params: Params| {
                    get_one(kind, app, p, params)
                },
            )
            .doc(format!("get{one}"), format!("Read one {name}"))
            .about(format!(
                "The {name} at this path: its spec, version (the `If-Match` value of a later \
                 write), and its `managed` and `protected` flags. 404 when it does not exist \
                 or the token may not read it."
            ))
            .json(200, "The resource", Schema::Resource(kind)),
        )
        .route(
            Route::put(
                path,
                move |AxState(app): AxState<AppState>,
                      Auth(p): Auth,
                      params: Params,
                      if_match: IfMatch,
                      audit: AuditHeaders,
                      JsonBody(body): JsonBody<PutBody>| {
                    put_one(kind, app, p, params, if_match, audit, body)
                },
            )
            .doc(format!("put{one}"), format!("Create or update one {name}"))
            .about(format!(
                "Creates the {name} at this path (201) or replaces its spec (200), checking \
                 the platform's rules against the whole state. With `If-Match`, only if its \
                 version is that one (`\"0\"`: only if it does not exist yet; 412 otherwise)."
            ))
            .param(Param::IfMatch)
            .body(Schema::PutBody(kind))
            .json(200, "Updated", Schema::Resource(kind))
            .json(201, "Created", Schema::Resource(kind)),
        )
        .route(delete_route(kind))
}

/// DELETE of one resource; a tenant or a workspace takes `cascade` (their registers and
/// records).
fn delete_route(kind: Kind) -> Route {
    let (name, path) = (kind.as_str(), resource_path(kind));
    let holds_data = matches!(kind, Kind::Tenant | Kind::Workspace);
    let route = Route::delete(
        path,
        move |AxState(app): AxState<AppState>,
              Auth(p): Auth,
              params: Params,
              if_match: IfMatch,
              audit: AuditHeaders,
              q: QueryPairs| { delete_one(kind, app, p, params, if_match, audit, q) },
    )
    .doc(
        format!("delete{}", pascal_case(name)),
        format!("Delete one {name} and what depends on it"),
    )
    .param(Param::IfMatch);
    if holds_data {
        route
            .about(format!(
                "Deletes the {name} at this path and, in the same transaction, the resources \
                 that depend on it. A protected resource is refused (409 \
                 `resource_protected`); with `If-Match`, only if its version is that one. \
                 A workspace that holds registers is refused (409 `workspace_not_empty`) \
                 unless `cascade=true`, which deletes its registers and records too."
            ))
            .param(Param::Cascade)
            .answer(204, "Deleted", None)
    } else {
        route
            .about(format!(
                "Deletes the {name} at this path and, in the same transaction, the resources \
                 that depend on it. A protected resource is refused (409 \
                 `resource_protected`); with `If-Match`, only if its version is that one."
            ))
            .answer(204, "Deleted", None)
    }
}

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

pub fn resource_body(kind: Kind, key: &str, meta: Meta, spec: &AnySpec) -> ResourceBody {
    ResourceBody {
        kind,
        key: key.to_string(),
        version: meta.version,
        managed: meta.managed,
        protected: meta.protected,
        spec: spec.to_value(),
        account: None,
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

pub(super) fn spec_of(kind: Kind, value: serde_json::Value) -> Result<AnySpec, ApiError> {
    crate::server::json_schema::parse_spec(kind, value)
}

/// Answers a read of `kind/key` for `principal`: the resource, its name only (see
/// [`authz::redact`]), 403 or 404.
pub fn visible(
    principal: &Principal,
    state: &crate::model::State,
    kind: Kind,
    key: &str,
) -> Result<(Meta, AnySpec), ApiError> {
    let missing = || ApiError::NotFound {
        message: format!("{kind} `{key}` does not exist"),
        details: json!({ "kind": kind, "key": key }),
    };
    let actor = principal.actor(state)?;
    match actor.visibility(state, kind, key) {
        Visibility::Forbidden => {
            actor.require_list(state, kind)?;
            Err(ApiError::forbidden(format!(
                "denied: this token cannot read {kind} `{key}`"
            )))
        }
        Visibility::Hidden => Err(missing()),
        Visibility::Names => state
            .get(kind, key)
            .map(|(m, s)| (m, authz::redact(&s)))
            .ok_or_else(missing),
        Visibility::Visible => state.get(kind, key).ok_or_else(missing),
    }
}

async fn get_one(kind: Kind, app: AppState, p: Principal, params: Params) -> ApiResult<Response> {
    let key = key_of(kind, &params.0)?;
    let (meta, spec) = app.engine.read(|s| visible(&p, s, kind, &key)).await??;
    if kind == Kind::User {
        let body = with_account(&app, resource_body(kind, &key, meta, &spec)).await?;
        let mut resp = json_response(StatusCode::OK, &body);
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", meta.version)) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    Ok(resource_response(StatusCode::OK, kind, &key, meta, &spec))
}

async fn put_one(
    kind: Kind,
    app: AppState,
    p: Principal,
    params: Params,
    if_match: IfMatch,
    audit: AuditHeaders,
    body: PutBody,
) -> ApiResult<Response> {
    let key = key_of(kind, &params.0)?;
    if let Some(fields) = &body.sensitive {
        sensitive::check(&body.spec, fields)?;
    }
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
    let mut w = audit.write(p, vec![mutation]);
    if let Some(fields) = body.sensitive {
        w.sensitive.insert((kind, key.clone()), fields);
    }
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

async fn delete_one(
    kind: Kind,
    app: AppState,
    p: Principal,
    params: Params,
    if_match: IfMatch,
    audit: AuditHeaders,
    q: QueryPairs,
) -> ApiResult<Response> {
    let cascade = if matches!(kind, Kind::Tenant | Kind::Workspace) {
        super::registries::cascade(&q)?
    } else {
        q.only(&[])?;
        false
    };
    let key = key_of(kind, &params.0)?;
    let mutation = Mutation {
        kind,
        key,
        if_version: if_match.0,
        effect: Effect::Delete,
    };
    let mut w = audit.write(p, vec![mutation]);
    w.cascade = cascade;
    app.engine.write(w).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list(kind: Kind, app: AppState, p: Principal, q: QueryPairs) -> ApiResult<Response> {
    let (limit, cursor) = q.page(100, 1000)?;
    let page = app
        .engine
        .read(|s| -> Result<ResourcePage, ApiError> {
            let actor = p.actor(s)?;
            actor.require_list(s, kind)?;
            let mut items = Vec::new();
            let mut next = None;
            let keys: Box<dyn Iterator<Item = &str>> = match &cursor {
                Some(c) => Box::new(s.keys(kind).filter(move |k| *k > c.as_str())),
                None => s.keys(kind),
            };
            for k in keys {
                let shown = match actor.list_visibility(s, kind, k) {
                    Visibility::Visible => s.get(kind, k),
                    Visibility::Names => s.get(kind, k).map(|(m, x)| (m, authz::redact(&x))),
                    Visibility::Forbidden | Visibility::Hidden => continue,
                };
                if items.len() == limit {
                    next = items.last().map(|b: &ResourceBody| b.key.clone());
                    break;
                }
                if let Some((meta, spec)) = shown {
                    items.push(resource_body(kind, k, meta, &spec));
                }
            }
            Ok(ResourcePage {
                items,
                next_cursor: next,
            })
        })
        .await??;
    let mut page = page;
    with_accounts(&app, &mut page.items).await?;
    Ok(json_response(StatusCode::OK, &page))
}
