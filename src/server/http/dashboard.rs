//! The dashboard: totals over what the token sees (tenants, users, workspaces, plan usage of
//! the four limits, pending invitations) and the latest audit entries.

use std::collections::BTreeSet;

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::{Dashboard, TenantUsage, Usage};
use crate::model::{Kind, UserStatus};
use crate::rules;
use crate::server::authz::Visibility;
use crate::server::error::{ApiError, ApiResult};
use crate::server::store;

use super::audit::audit_wire;
use super::extract::{Auth, QueryPairs};
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("reports").route(
        Route::get("/dashboard", dashboard)
            .doc("dashboard", "Totals for a dashboard")
            .about(
                "Totals over what the token may read (tenants, users, blocked \
                 users, workspaces, memberships, pending invitations), plan \
                 usage per tenant (users, workspaces, registers and records, each \
                 with its effective limit) and the latest audit entries.",
            )
            .json(200, "Totals", Schema::of::<Dashboard>()),
    )
}

async fn dashboard(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    q.only(&[])?;
    let recent = app.engine.db.audit_page(p.tenant(), None, 20).await?;
    let now = store::now_ms();
    let pending = app
        .engine
        .db
        .invitations(p.tenant())
        .await?
        .into_iter()
        .filter(|r| r.status_at(now) == store::InvitationStatus::Pending)
        .count() as u64;
    let data = app.engine.db.data_usage().await?;
    let mut dash = app
        .engine
        .read(|s| -> Result<Dashboard, ApiError> {
            let actor = p.actor(s)?;
            actor.require(s, "organization.read")?;
            let members = rules::members_by_tenant(s);
            let tenants: Vec<&String> = s
                .tenants
                .keys()
                .filter(|t| actor.visibility(s, Kind::Tenant, t) == Visibility::Visible)
                .collect();
            let mut plan_usage = Vec::new();
            let mut workspaces = 0u64;
            let mut memberships = 0u64;
            let mut users = BTreeSet::new();
            for t in &tenants {
                let Some(e) = s.tenants.get(*t) else { continue };
                let limits =
                    rules::limits::effective(&e.spec, s.plans.get(&e.spec.plan).map(|p| &p.spec));
                let held = data.get(t.as_str()).copied().unwrap_or_default();
                let ms = members.get(t.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                let ws = s.keys_in(Kind::Workspace, &format!("{t}/")).count() as u64;
                workspaces += ws;
                memberships += ms.len() as u64;
                users.extend(ms.iter().map(|(u, _)| *u));
                plan_usage.push(TenantUsage {
                    tenant: (*t).clone(),
                    plan: e.spec.plan.clone(),
                    status: serde_json::to_value(e.spec.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    users: Usage {
                        used: ms.len() as u64,
                        limit: limits.users.map(u64::from),
                    },
                    workspaces: Usage {
                        used: ws,
                        limit: limits.workspaces.map(u64::from),
                    },
                    registries: Usage {
                        used: held.registries,
                        limit: limits.registries.map(u64::from),
                    },
                    records: Usage {
                        used: held.records,
                        limit: limits.records.map(u64::from),
                    },
                });
            }
            let (user_count, blocked) = if p.is_system() {
                (
                    s.users.len() as u64,
                    s.users
                        .values()
                        .filter(|u| u.spec.status == UserStatus::Blocked)
                        .count() as u64,
                )
            } else {
                let blocked = users
                    .iter()
                    .filter(|u| {
                        s.users
                            .get(**u)
                            .is_some_and(|u| u.spec.status == UserStatus::Blocked)
                    })
                    .count() as u64;
                (users.len() as u64, blocked)
            };
            Ok(Dashboard {
                revision: s.revision,
                tenants: tenants.len() as u64,
                users: user_count,
                blocked_users: blocked,
                workspaces,
                memberships,
                pending_invitations: 0,
                plan_usage,
                recent_activity: Vec::new(),
            })
        })
        .await??;
    dash.pending_invitations = pending;
    dash.recent_activity = recent.into_iter().map(audit_wire).collect();
    Ok(json_response(StatusCode::OK, &dash))
}
