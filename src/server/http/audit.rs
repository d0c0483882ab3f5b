//! The audit log, newest first, paged by entry id; a tenant token reads its tenant's
//! entries.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{AuditEntry, AuditPage};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::AuditRow;

use super::extract::{Auth, QueryPairs};
use super::route::{Param, Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("reports").route(
        Route::get("/audit", audit)
            .doc("audit", "The audit log, newest first")
            .param(Param::AuditPage)
            .json(200, "A page", Schema::of::<AuditPage>()),
    )
}

pub(super) fn audit_wire(r: AuditRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: r.at,
        revision: r.revision,
        token_id: r.token_id,
        op: r.op.as_str().to_string(),
        kind: r.subject.as_str().to_string(),
        key: r.key,
        tenant: r.tenant,
        before: r.before,
        after: r.after,
        change_set: r.change_set,
        commit: r.commit,
    }
}

async fn audit(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    app.engine
        .read(|s| p.require(s, "organization.read"))
        .await??;
    let (limit, cursor) = q.page(100, 1000)?;
    let before =
        match cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::BadRequest {
                    code: "invalid_pagination",
                    message: format!(
                        "`cursor` must be the `next_cursor` of a previous page, got `{c}`"
                    ),
                    details: json!({ "parameter": "cursor" }),
                }
            })?),
        };
    let rows = app
        .engine
        .db
        .audit_page(p.tenant(), before, limit as i64)
        .await?;
    let next_cursor = if rows.len() == limit {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &AuditPage {
            items: rows.into_iter().map(audit_wire).collect(),
            next_cursor,
        },
    ))
}
