//! The users CSV of seeds 002 and 004: one row per membership the token may read.

use std::collections::HashMap;

use axum::extract::State as AxState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::model::{keys, Kind, UserStatus};
use crate::server::authz::Visibility;
use crate::server::error::{ApiError, ApiResult};

use super::extract::{Auth, QueryPairs};
use super::route::{Route, Routes, Schema};
use super::AppState;

pub fn router() -> Routes {
    Routes::new("reports").route(
        Route::get("/exports/users.csv", users_csv)
            .doc("usersCsv", "Users CSV: one row per membership")
            .answer(
                200,
                "first_name,last_name,email,created,status,language,tenant,role",
                Some((
                    "text/csv",
                    Schema::Inline(serde_json::json!({ "type": "string" })),
                )),
            ),
    )
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// The seed 002/004 users CSV: one row per membership, limited to what the token sees.
async fn users_csv(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    q.only(&[])?;
    let created: HashMap<String, String> = app.engine.db.user_created().await?;
    let body = app
        .engine
        .read(|s| -> Result<String, ApiError> {
            let actor = p.actor(s)?;
            actor.require(s, "users.export")?;
            let mut out =
                String::from("first_name,last_name,email,created,status,language,tenant,role\n");
            for (key, m) in &s.memberships {
                if actor.visibility(s, Kind::Membership, key) != Visibility::Visible {
                    continue;
                }
                let Some((email, tenant)) = keys::split2(key) else {
                    continue;
                };
                let Some(u) = s.users.get(email) else {
                    continue;
                };
                let status = if u.spec.status == UserStatus::Blocked {
                    "blocked"
                } else {
                    "active"
                };
                let language = serde_json::to_value(u.spec.language)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let fields = [
                    u.spec.first_name.as_deref().unwrap_or(""),
                    u.spec.last_name.as_deref().unwrap_or(""),
                    email,
                    created.get(email).map(String::as_str).unwrap_or(""),
                    status,
                    &language,
                    tenant,
                    &m.spec.role,
                ];
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(&mut out, f);
                }
                out.push('\n');
            }
            Ok(out)
        })
        .await??;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}
