//! Records (document 001's "fiches"): the entries of a register, with the id the platform
//! gives them, decided and counted as [`super::registries`] says.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde_json::json;

use crate::api::{Record, RecordBody, RecordPage};
use crate::model::GrantAction;
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{self, Changed, Created, NewRecord, RecordRow};

use super::extract::{Auth, IfMatch, JsonBody, Params, QueryPairs};
use super::json_response;
use super::registries::{
    check_cursor, limit_exceeded, no_registry, page, place, stale, versioned, Place,
};
use super::AppState;

fn record_wire(r: RecordRow) -> Record {
    Record {
        id: r.id,
        tenant: r.tenant,
        workspace: r.workspace,
        registry: r.registry,
        title: r.title,
        fields: r.fields,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// A record id as the platform makes them: `rec_` and 24 hexadecimal digits, the creation
/// time in milliseconds times 4096 (made to grow in this process when two records share a
/// millisecond) then random, so that ids sort in creation order.
fn new_record_id() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(store::now_ms())
        .unwrap_or(0)
        .saturating_mul(4096);
    let mut stamp = now;
    let _ = LAST.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        stamp = now.max(last + 1);
        Some(stamp)
    });
    let random = rand::rng().next_u32();
    format!("rec_{stamp:016x}{random:08x}")
}

fn is_record_id(id: &str) -> bool {
    id.strip_prefix("rec_")
        .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn check_record(body: &RecordBody) -> Result<(), ApiError> {
    if body.title.trim().is_empty() || body.title.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_body",
            "`title` must hold 1 to 200 characters, not only spaces",
            json!({ "field": "title" }),
        ));
    }
    Ok(())
}

pub(super) async fn list_records(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    q: QueryPairs,
) -> ApiResult<Response> {
    let (limit, cursor) = q.page(100, 1000)?;
    check_cursor(cursor.as_deref(), is_record_id)?;
    let at = place(&app, &p, &params, GrantAction::Read).await?;
    let (t, w, r) = at.registry_key();
    if app.engine.db.registry(t, w, r).await?.is_none() {
        return Err(no_registry(&at));
    }
    let rows = app
        .engine
        .db
        .records_page(at.registry_key(), cursor.as_deref(), limit + 1)
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.id.clone());
    Ok(json_response(
        StatusCode::OK,
        &RecordPage {
            items: rows.into_iter().map(record_wire).collect(),
            next_cursor,
        },
    ))
}

pub(super) async fn create_record(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    JsonBody(body): JsonBody<RecordBody>,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Create).await?;
    check_record(&body)?;
    let id = new_record_id();
    let (tenant, workspace, registry) = at.registry_key();
    let new = NewRecord {
        id: &id,
        tenant,
        workspace,
        registry,
        title: body.title.trim(),
        fields: &body.fields,
    };
    match app.engine.db.create_record(&new).await? {
        Created::Created(row) => {
            let v = row.version;
            Ok(versioned(StatusCode::CREATED, &record_wire(row), v))
        }
        Created::Full {
            limit,
            value,
            usage,
        } => Err(limit_exceeded(&at.tenant, limit, value, usage)),
        Created::NoParent | Created::Exists => Err(no_registry(&at)),
    }
}

/// The record id of the path (404 for one the platform never makes).
fn record_id(params: &Params, at: &Place) -> Result<String, ApiError> {
    match params.0.get(3) {
        Some(id) if is_record_id(id) => Ok(id.clone()),
        Some(id) => Err(no_record(at, id)),
        None => Err(ApiError::Internal("a record route without its id".into())),
    }
}

fn no_record(at: &Place, id: &str) -> ApiError {
    ApiError::not_found(format!(
        "record `{id}` does not exist in register `{}`",
        at.registry_name()
    ))
}

pub(super) async fn get_record(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Read).await?;
    let id = record_id(&params, &at)?;
    let row = app
        .engine
        .db
        .record(at.registry_key(), &id)
        .await?
        .ok_or_else(|| no_record(&at, &id))?;
    let v = row.version;
    Ok(versioned(StatusCode::OK, &record_wire(row), v))
}

pub(super) async fn update_record(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    if_match: IfMatch,
    JsonBody(body): JsonBody<RecordBody>,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Update).await?;
    let id = record_id(&params, &at)?;
    check_record(&body)?;
    match app
        .engine
        .db
        .update_record(
            at.registry_key(),
            &id,
            body.title.trim(),
            &body.fields,
            if_match.0,
        )
        .await?
    {
        Changed::Done(row) => {
            let v = row.version;
            Ok(versioned(StatusCode::OK, &record_wire(row), v))
        }
        Changed::Stale(v) => Err(stale(format!("record `{id}`"), if_match.0, v)),
        Changed::Missing | Changed::NotEmpty(_) => Err(no_record(&at, &id)),
    }
}

pub(super) async fn delete_record(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    if_match: IfMatch,
) -> ApiResult<Response> {
    let at = place(&app, &p, &params, GrantAction::Delete).await?;
    let id = record_id(&params, &at)?;
    match app
        .engine
        .db
        .delete_record(at.registry_key(), &id, if_match.0)
        .await?
    {
        Changed::Done(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Changed::Stale(v) => Err(stale(format!("record `{id}`"), if_match.0, v)),
        Changed::Missing | Changed::NotEmpty(_) => Err(no_record(&at, &id)),
    }
}
