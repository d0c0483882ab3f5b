//! The sensitive fields the platform knows (values that came from `${env:…}`), for
//! `export` to write their placeholders back.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::{SensitiveEntry, SensitiveFieldList};
use crate::server::authz::Visibility;
use crate::server::error::ApiResult;

use super::extract::Auth;
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("state").route(
        Route::get("/sensitive-fields", list)
            .doc(
                "listSensitiveFields",
                "The sensitive fields of the resources visible to the token: where each value came from (`${env:NAME}`)",
            )
            .json(200, "The fields", Schema::of::<SensitiveFieldList>()),
    )
}

async fn list(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    app.engine
        .read(|s| p.require(s, "organization.read"))
        .await??;
    let known = app.engine.db.sensitive_fields().await?;
    let mut items = app
        .engine
        .read(|s| {
            known
                .into_iter()
                .filter(|((kind, key), _)| {
                    s.contains(*kind, key) && p.visibility(s, *kind, key) == Visibility::Visible
                })
                .flat_map(|((kind, key), fields)| {
                    fields.into_iter().map(move |f| SensitiveEntry {
                        kind,
                        key: key.clone(),
                        pointer: f.pointer,
                        source: f.source,
                    })
                })
                .collect::<Vec<_>>()
        })
        .await?;
    items.sort_by(|a, b| (a.kind, &a.key, &a.pointer).cmp(&(b.kind, &b.key, &b.pointer)));
    Ok(json_response(StatusCode::OK, &SensitiveFieldList { items }))
}
