//! The users CSV of seeds 002 and 004: one row per membership the token may read, with the
//! user's platform status (pending / active / blocked), creation date and last activity,
//! and the tenant's display name beside its key; pending invitations are rows too (003:
//! "En attente").

use std::collections::HashMap;

use axum::extract::State as AxState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::api::AccountStatus;
use crate::model::{keys, Kind};
use crate::server::authz::Visibility;
use crate::server::error::{ApiError, ApiResult};
use crate::server::mail::language_name;
use crate::server::store::{now_ms, InvitationRow, InvitationStatus, Origin};

use super::extract::{Auth, QueryPairs};
use super::route::{Route, Routes, Schema};
use super::users::account_view;
use super::AppState;

pub fn router() -> Routes {
    Routes::new("reports").route(
        Route::get("/exports/users.csv", users_csv)
            .doc(
                "usersCsv",
                "Users CSV: one row per membership and per pending invitation",
            )
            .answer(
                200,
                "first_name,last_name,email,created,last_active,status,language,tenant,tenant_name,role",
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

const HEADER: &str =
    "first_name,last_name,email,created,last_active,status,language,tenant,tenant_name,role\n";

fn csv_row(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push('\n');
}

/// The seed 002/004 users CSV: one row per membership, then one per pending invitation,
/// limited to what the token sees.
async fn users_csv(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    q.only(&[])?;
    let created: HashMap<String, String> = app.engine.db.user_created().await?;
    let accounts = app.engine.db.accounts().await?;
    let now = now_ms();
    let invitations: Vec<InvitationRow> = app
        .engine
        .db
        .invitations(p.tenant())
        .await?
        .into_iter()
        .filter(|r| r.status_at(now) == InvitationStatus::Pending && r.origin == Origin::Invite)
        .collect();
    let body = app
        .engine
        .read(|s| -> Result<String, ApiError> {
            let actor = p.actor(s)?;
            actor.require(s, "users.export")?;
            let mut out = String::from(HEADER);
            let tenant_name = |t: &str| -> String {
                s.tenants
                    .get(t)
                    .and_then(|x| x.spec.display_name.clone())
                    .unwrap_or_default()
            };
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
                let acc = accounts.get(email);
                let account = account_view(u.spec.status, acc);
                let last_active = account.last_active_at.unwrap_or_default();
                csv_row(
                    &mut out,
                    &[
                        u.spec.first_name.as_deref().unwrap_or(""),
                        u.spec.last_name.as_deref().unwrap_or(""),
                        email,
                        created.get(email).map(String::as_str).unwrap_or(""),
                        &last_active,
                        status_name(account.status),
                        language_name(u.spec.language),
                        tenant,
                        &tenant_name(tenant),
                        &m.spec.role,
                    ],
                );
            }
            for inv in &invitations {
                for t in &inv.tenants {
                    let key = keys::join(&[&inv.email, &t.tenant]);
                    if s.memberships.contains_key(&key)
                        || actor.visibility(s, Kind::Tenant, &t.tenant) != Visibility::Visible
                    {
                        continue;
                    }
                    csv_row(
                        &mut out,
                        &[
                            "",
                            "",
                            &inv.email,
                            &inv.created_at,
                            "",
                            "pending",
                            &inv.language,
                            &t.tenant,
                            &tenant_name(&t.tenant),
                            &t.role,
                        ],
                    );
                }
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

fn status_name(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Pending => "pending",
        AccountStatus::Active => "active",
        AccountStatus::Blocked => "blocked",
    }
}
