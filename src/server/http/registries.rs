//! Registers and records (document 001): the data users keep in a workspace, stored by
//! `store::registries`, never part of `GET /state`. Every request is decided on the
//! workspace by the one access decision ([`crate::server::authz`]'s `may_on_data`: `read`,
//! `create`, `update` or `delete`); creates count against the tenant's effective limits
//! atomically in the store. The record handlers are in `records.rs`.

use axum::extract::State as AxState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{
    Record, RecordBody, RecordPage, Registry, RegistryCreate, RegistryPage, RegistryUpdate,
};
use crate::model::{keys, GrantAction};
use crate::rules::{self, limits};
use crate::server::authz::Principal;
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{Changed, Created, RegistryRow};

use super::extract::{Auth, IfMatch, JsonBody, Params, QueryPairs};
use super::records;
use super::route::{Param, Route, Routes, Schema};
use super::{json_response, AppState};

const REGISTRIES: &str = "/tenants/{tenant}/workspaces/{workspace}/registries";
const REGISTRY: &str = "/tenants/{tenant}/workspaces/{workspace}/registries/{registry}";
const RECORDS: &str = "/tenants/{tenant}/workspaces/{workspace}/registries/{registry}/records";
const RECORD: &str =
    "/tenants/{tenant}/workspaces/{workspace}/registries/{registry}/records/{record}";

const ACCESS: &str = "A user (a session, or a token created with `--user`) needs the grant \
                      action named here on the workspace, through its role or a grant to it, \
                      to its role or to the whole tenant (the decision `explain` shows); a \
                      tenant token without a user needs it through its role.";

pub fn router() -> Routes {
    Routes::new("registry")
        .route(
            Route::get(REGISTRIES, list_registries)
                .doc("listRegistries", "List the registers of a workspace")
                .about(format!(
                    "The registers of the workspace, by key, a page at a time (`read`). {ACCESS}"
                ))
                .param(Param::KeyPage)
                .json(200, "A page", Schema::of::<RegistryPage>()),
        )
        .route(
            Route::post(REGISTRIES, create_registry)
                .unaudited()
                .doc("createRegistry", "Create a register in a workspace")
                .about(format!(
                    "Creates a register (`create`), within the tenant's `registries` \
                     limit (its plan's, or its own): beyond it, 409 `limit_exceeded` \
                     names the limit, its value and the usage. 409 `registry_exists` when \
                     the key is taken. {ACCESS}"
                ))
                .body(Schema::of::<RegistryCreate>())
                .json(201, "Created", Schema::of::<Registry>()),
        )
        .route(
            Route::get(REGISTRY, get_registry)
                .doc("getRegistry", "Read one register")
                .about(format!("The register, with its version (`read`). {ACCESS}"))
                .json(200, "The register", Schema::of::<Registry>()),
        )
        .route(
            Route::put(REGISTRY, update_registry)
                .unaudited()
                .doc("updateRegistry", "Change a register's name and description")
                .about(format!(
                    "Replaces its name and description (`update`); with `If-Match`, only \
                     if its version is that one (412 otherwise). {ACCESS}"
                ))
                .param(Param::IfMatch)
                .body(Schema::of::<RegistryUpdate>())
                .json(200, "Updated", Schema::of::<Registry>()),
        )
        .route(
            Route::delete(REGISTRY, delete_registry)
                .unaudited()
                .doc("deleteRegistry", "Delete a register")
                .about(format!(
                    "Deletes the register (`delete`). One that holds records is refused \
                     (409 `registry_not_empty`) unless `cascade=true`, which deletes its \
                     records too. {ACCESS}"
                ))
                .param(Param::IfMatch)
                .param(Param::Cascade)
                .answer(204, "Deleted", None),
        )
        .route(
            Route::get(RECORDS, records::list_records)
                .doc("listRecords", "List the records of a register")
                .about(format!(
                    "The records of the register in creation order, a page at a time \
                     (`read`). {ACCESS}"
                ))
                .param(Param::RecordPage)
                .json(200, "A page", Schema::of::<RecordPage>()),
        )
        .route(
            Route::post(RECORDS, records::create_record)
                .unaudited()
                .doc("createRecord", "Create a record in a register")
                .about(format!(
                    "Creates a record with the id the platform gives it (`create`), within \
                     the tenant's `records` limit: beyond it, 409 `limit_exceeded` names \
                     the limit, its value and the usage. {ACCESS}"
                ))
                .body(Schema::of::<RecordBody>())
                .json(201, "Created", Schema::of::<Record>()),
        )
        .route(
            Route::get(RECORD, records::get_record)
                .doc("getRecord", "Read one record")
                .about(format!("The record, with its version (`read`). {ACCESS}"))
                .json(200, "The record", Schema::of::<Record>()),
        )
        .route(
            Route::put(RECORD, records::update_record)
                .unaudited()
                .doc("updateRecord", "Change a record's title and fields")
                .about(format!(
                    "Replaces its title and fields (`update`); with `If-Match`, only if its \
                     version is that one (412 otherwise). {ACCESS}"
                ))
                .param(Param::IfMatch)
                .body(Schema::of::<RecordBody>())
                .json(200, "Updated", Schema::of::<Record>()),
        )
        .route(
            Route::delete(RECORD, records::delete_record)
                .unaudited()
                .doc("deleteRecord", "Delete a record")
                .about(format!("Deletes the record (`delete`). {ACCESS}"))
                .param(Param::IfMatch)
                .answer(204, "Deleted", None),
        )
}

/// Where a request acts: a tenant, a workspace and, below them, a register.
pub(super) struct Place {
    pub(super) tenant: String,
    pub(super) workspace: String,
    pub(super) registry: Option<String>,
}

impl Place {
    pub(super) fn registry_key(&self) -> (&str, &str, &str) {
        (
            &self.tenant,
            &self.workspace,
            self.registry.as_deref().unwrap_or(""),
        )
    }

    pub(super) fn registry_name(&self) -> String {
        keys::join(&[
            &self.tenant,
            &self.workspace,
            self.registry.as_deref().unwrap_or(""),
        ])
    }
}

/// The place named by the path, once `principal` may do `action` there (404 for what it
/// cannot see or what cannot exist, 403 with the decision's words).
pub(super) async fn place(
    app: &AppState,
    principal: &Principal,
    params: &Params,
    action: GrantAction,
) -> Result<Place, ApiError> {
    let (tenant, workspace) = match params.0.as_slice() {
        [t, w, ..] => (t.clone(), w.clone()),
        _ => {
            return Err(ApiError::Internal(
                "a data route without its workspace".into(),
            ))
        }
    };
    let registry = params.0.get(2).cloned();
    let missing = |what: String| ApiError::not_found(format!("{what} does not exist"));
    if !rules::is_valid_key(&tenant) || !rules::is_valid_key(&workspace) {
        return Err(missing(format!("workspace `{tenant}/{workspace}`")));
    }
    if let Some(r) = &registry {
        if !rules::is_valid_key(r) {
            return Err(missing(format!("register `{r}`")));
        }
    }
    app.engine
        .read(|s| {
            principal
                .actor(s)?
                .may_on_data(s, &tenant, &workspace, action)
        })
        .await??;
    Ok(Place {
        tenant,
        workspace,
        registry,
    })
}

fn registry_wire(r: RegistryRow) -> Registry {
    Registry {
        tenant: r.tenant,
        workspace: r.workspace,
        key: r.key,
        name: r.name,
        description: r.description,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// A JSON answer with the version as its `ETag`.
pub(super) fn versioned<T: serde::Serialize>(
    status: StatusCode,
    body: &T,
    version: i64,
) -> Response {
    let mut resp = json_response(status, body);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

pub(super) fn limit_exceeded(
    tenant: &str,
    limit: &'static str,
    value: u32,
    usage: u64,
) -> ApiError {
    let e = limits::Exceeded {
        tenant,
        limit,
        value,
        usage,
    };
    ApiError::Conflict {
        code: "limit_exceeded",
        message: e.message(),
        details: json!({ "tenant": tenant, "limit": limit, "value": value, "usage": usage }),
    }
}

pub(super) fn stale(what: String, expected: Option<i64>, actual: i64) -> ApiError {
    ApiError::StaleVersion {
        message: format!(
            "{what} is at version {actual}, not {}: read it again",
            expected.unwrap_or(0)
        ),
        details: json!({ "expected": expected, "actual": actual }),
    }
}

/// `cascade=true|false` (default false), the only query parameter of a delete.
pub(super) fn cascade(q: &QueryPairs) -> Result<bool, ApiError> {
    q.only(&["cascade"])?;
    match q.one("cascade")? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "invalid_query",
            format!("`cascade` must be `true` or `false`, got `{other}`"),
        )),
    }
}

/// A cursor is the key or id that ended the previous page: anything else is refused (and
/// never reaches the database).
pub(super) fn check_cursor(cursor: Option<&str>, valid: fn(&str) -> bool) -> Result<(), ApiError> {
    match cursor {
        Some(c) if !valid(c) => Err(ApiError::BadRequest {
            code: "invalid_pagination",
            message:
                "`cursor` is not one this list gives: pass the `next_cursor` of the previous page"
                    .into(),
            details: json!({ "parameter": "cursor" }),
        }),
        _ => Ok(()),
    }
}

/// The page of `rows` (one more than asked for when there is a next page).
pub(super) fn page<T>(
    mut rows: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(key)
    } else {
        None
    };
    (rows, next)
}

async fn list_registries(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    q: QueryPairs,
) -> ApiResult<Response> {
    let (limit, cursor) = q.page(100, 1000)?;
    check_cursor(cursor.as_deref(), rules::is_valid_key)?;
    let at = place(&app, &p, &params, GrantAction::Read).await?;
    let rows = app
        .engine
        .db
        .registries_page(&at.tenant, &at.workspace, cursor.as_deref(), limit + 1)
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.key.clone());
    Ok(json_response(
        StatusCode::OK,
        &RegistryPage {
            items: rows.into_iter().map(registry_wire).collect(),
            next_cursor,
        },
    ))
}

async fn create_registry(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    JsonBody(body): JsonBody<RegistryCreate>,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Create).await?;
    check_text(&body.name, &body.description)?;
    if !rules::is_valid_key(&body.key) {
        return Err(ApiError::invalid(
            "invalid_key",
            rules::invalid_key_message("register", &body.key),
            json!({ "field": "key", "key": body.key }),
        ));
    }
    let created = app
        .engine
        .db
        .create_registry(
            &at.tenant,
            &at.workspace,
            &body.key,
            body.name.trim(),
            body.description.as_deref(),
        )
        .await?;
    match created {
        Created::Created(row) => {
            let v = row.version;
            Ok(versioned(StatusCode::CREATED, &registry_wire(row), v))
        }
        Created::Full {
            limit,
            value,
            usage,
        } => Err(limit_exceeded(&at.tenant, limit, value, usage)),
        Created::NoParent => Err(ApiError::not_found(format!(
            "workspace `{}/{}` does not exist",
            at.tenant, at.workspace
        ))),
        Created::Exists => Err(ApiError::Conflict {
            code: "registry_exists",
            message: format!(
                "register `{}` already exists in workspace `{}/{}`",
                body.key, at.tenant, at.workspace
            ),
            details: json!({ "key": body.key }),
        }),
    }
}

/// A name (not blank) and a description within their lengths.
fn check_text(name: &str, description: &Option<String>) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_body",
            "`name` must hold 1 to 200 characters, not only spaces",
            json!({ "field": "name" }),
        ));
    }
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(ApiError::invalid(
            "invalid_body",
            "`description` holds at most 2000 characters",
            json!({ "field": "description" }),
        ));
    }
    Ok(())
}

pub(super) fn no_registry(at: &Place) -> ApiError {
    ApiError::not_found(format!("register `{}` does not exist", at.registry_name()))
}

async fn get_registry(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Read).await?;
    let (t, w, r) = at.registry_key();
    let row = app
        .engine
        .db
        .registry(t, w, r)
        .await?
        .ok_or_else(|| no_registry(&at))?;
    let v = row.version;
    Ok(versioned(StatusCode::OK, &registry_wire(row), v))
}

async fn update_registry(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    if_match: IfMatch,
    JsonBody(body): JsonBody<RegistryUpdate>,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Update).await?;
    check_text(&body.name, &body.description)?;
    let changed = app
        .engine
        .db
        .update_registry(
            at.registry_key(),
            body.name.trim(),
            body.description.as_deref(),
            if_match.0,
        )
        .await?;
    match changed {
        Changed::Done(row) => {
            let v = row.version;
            Ok(versioned(StatusCode::OK, &registry_wire(row), v))
        }
        Changed::Stale(v) => Err(stale(
            format!("register `{}`", at.registry_name()),
            if_match.0,
            v,
        )),
        Changed::Missing | Changed::NotEmpty(_) => Err(no_registry(&at)),
    }
}

async fn delete_registry(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    if_match: IfMatch,
    q: QueryPairs,
) -> ApiResult<Response> {
    let cascade = cascade(&q)?;
    let at = place(&app, &p, &params, GrantAction::Delete).await?;
    match app
        .engine
        .db
        .delete_registry(at.registry_key(), if_match.0, cascade)
        .await?
    {
        Changed::Done(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Changed::Missing => Err(no_registry(&at)),
        Changed::Stale(v) => Err(stale(
            format!("register `{}`", at.registry_name()),
            if_match.0,
            v,
        )),
        Changed::NotEmpty(n) => Err(ApiError::Conflict {
            code: "registry_not_empty",
            message: format!(
                "register `{}` holds {n} record(s): delete them first, or delete it with \
                 `?cascade=true`, which deletes its records too",
                at.registry_name()
            ),
            details: json!({ "records": n }),
        }),
    }
}
