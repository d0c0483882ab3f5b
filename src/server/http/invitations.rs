//! Invitations (rule 8, seeds 000–004): sending up to 100 at once into one tenant or
//! several, listing them by status and e-mail, resending (a new link, a renewed expiry) and
//! revoking. Each invitation's e-mail goes through the outbox; its link's secret is made
//! when the e-mail is sent and only its hash is stored. Accepting is in `accept`.

use std::collections::{BTreeSet, HashSet};

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{
    Emails, Invitation, InvitationList, InvitationRequest, InvitationStatus, InvitedTenant,
};
use crate::model::State;
use crate::rules::{invitation, Violation};
use crate::server::authz::Principal;
use crate::server::engine::people::{
    expiry_ms, invitation_id, invite_audit, DEFAULT_INVITATION_DAYS, INVITATION_DAYS,
};
use crate::server::error::{ApiError, ApiResult};
use crate::server::mail::language_name;
use crate::server::store::{self, now_ms, AuditOp, AuditSubject, InvitationRow, NewAudit, Origin};

use super::extract::{AuditHeaders, Auth, JsonBody, Params, QueryPairs};
use super::route::{Param, Route, Routes, Schema};
use super::{accept, json_response, AppState};

pub fn router() -> Routes {
    Routes::new("invitations")
        .route(
            Route::post("/invitations", invite)
                .doc(
                    "invite",
                    "Invite up to 100 e-mails into one tenant or several; each gets an e-mail with a one-time link",
                )
                .about(
                    "Invites up to 100 e-mails into one tenant or several, with a role and \
                     workspaces per tenant; each invitee gets an e-mail with a one-time link \
                     and the invitation stays pending until it is accepted.",
                )
                .body(Schema::of::<InvitationRequest>())
                .json(201, "Pending invitations", Schema::of::<InvitationList>()),
        )
        .route(
            Route::get("/invitations", list_invitations)
                .doc("listInvitations", "Invitations visible to the token, by status and e-mail")
                .about(
                    "The invitations the token may see, optionally filtered by status \
                     and by e-mail.",
                )
                .param(Param::InvitationFilter)
                .json(200, "Invitations", Schema::of::<InvitationList>()),
        )
        .route(
            Route::post("/invitations/{id}/resend", resend)
                .doc(
                    "resendInvitation",
                    "Send an invitation again: a new link (the old one stops working) and a renewed expiry",
                )
                .about(
                    "Sends a pending invitation again with a new one-time link (the old \
                     link stops working) and a renewed expiry.",
                )
                .json(200, "The invitation", Schema::of::<Invitation>()),
        )
        .route(
            Route::delete("/invitations/{id}", revoke)
                .doc("revokeInvitation", "Revoke an invitation: its link stops working")
                .about("Revokes a pending invitation: its link stops working at once.")
                .json(200, "The invitation", Schema::of::<Invitation>()),
        )
        .merge(accept::router())
}

/// The wire form of an invitation, its status at `now`.
pub(super) fn invitation_wire(r: InvitationRow, now: i64) -> Invitation {
    let status = match r.status_at(now) {
        store::InvitationStatus::Pending => InvitationStatus::Pending,
        store::InvitationStatus::Accepted => InvitationStatus::Accepted,
        store::InvitationStatus::Expired => InvitationStatus::Expired,
        store::InvitationStatus::Revoked => InvitationStatus::Revoked,
    };
    Invitation {
        status,
        origin: r.origin.as_str().to_string(),
        expires_at: store::ms_to_rfc3339(r.expires_ms),
        tenants: r
            .tenants
            .into_iter()
            .map(|t| InvitedTenant {
                tenant: t.tenant,
                role: t.role,
                workspaces: t.workspaces,
            })
            .collect(),
        id: r.id,
        email: r.email,
        message: r.message,
        invited_by: r.invited_by,
        created_at: r.created_at,
        accepted_at: r.accepted_at,
        revoked_at: r.revoked_at,
    }
}

/// Checks that `p` may invite into (or manage an invitation to) tenant `t` with `role`:
/// the tenant is its own, it holds `users.invite`, and it may give `role` (the access
/// decision's [`crate::rules::access::may_give_role`]).
fn may_invite(p: &Principal, state: &State, t: &str, role: &str) -> Result<(), ApiError> {
    p.actor(state)?.may_invite(state, t, role)
}

/// The tenants a request names: `tenant` with `role` and `workspaces`, or `tenants`.
fn requested_tenants(req: &InvitationRequest) -> Result<Vec<InvitedTenant>, ApiError> {
    let single = req.tenant.is_some() || req.role.is_some() || !req.workspaces.is_empty();
    match (single, req.tenants.is_empty()) {
        (true, false) => Err(ApiError::invalid(
            "invalid_body",
            "give either `tenant` and `role` (and `workspaces`) or `tenants`, not both",
            json!({}),
        )),
        (false, true) => Err(ApiError::invalid(
            "invalid_body",
            "the invitation names no tenant: give `tenant` and `role`, or `tenants`",
            json!({}),
        )),
        (true, true) => match (&req.tenant, &req.role) {
            (Some(t), Some(r)) => Ok(vec![InvitedTenant {
                tenant: t.clone(),
                role: r.clone(),
                workspaces: req.workspaces.clone(),
            }]),
            _ => Err(ApiError::invalid(
                "invalid_body",
                "`tenant` and `role` go together",
                json!({}),
            )),
        },
        (false, false) => {
            let mut seen = HashSet::new();
            for t in &req.tenants {
                if !seen.insert(t.tenant.as_str()) {
                    return Err(ApiError::invalid(
                        "invalid_body",
                        format!("tenant `{}` is listed twice", t.tenant),
                        json!({ "tenant": t.tenant }),
                    ));
                }
            }
            Ok(req.tenants.clone())
        }
    }
}

/// The e-mails with a pending invitation into `tenant`.
async fn pending_emails(app: &AppState, tenant: &str) -> Result<BTreeSet<String>, ApiError> {
    let now = now_ms();
    Ok(app
        .engine
        .db
        .invitations(Some(tenant))
        .await?
        .into_iter()
        .filter(|r| r.status_at(now) == store::InvitationStatus::Pending)
        .map(|r| r.email)
        .collect())
}

async fn invite(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<InvitationRequest>,
) -> ApiResult<Response> {
    let tenants = requested_tenants(&req)?;
    let days = req.expires_in_days.unwrap_or(DEFAULT_INVITATION_DAYS);
    if !INVITATION_DAYS.contains(&days) {
        return Err(ApiError::invalid(
            "invalid_expiry",
            format!("`expires_in_days` must be from 1 to 30, got {days}"),
            json!({ "min": 1, "max": 30 }),
        ));
    }
    let raw: Vec<String> = match &req.emails {
        Emails::List(v) => v.clone(),
        Emails::Joined(s) => s.split(';').map(str::to_string).collect(),
    };
    let emails = invitation::normalise_emails(&raw);
    let mut problems: Vec<Violation> = Vec::new();
    let mut pending = Vec::with_capacity(tenants.len());
    for t in &tenants {
        pending.push(pending_emails(&app, &t.tenant).await?);
    }
    let (revision, languages) = app
        .engine
        .read(|s| -> Result<_, ApiError> {
            for (t, pending) in tenants.iter().zip(&pending) {
                may_invite(&p, s, &t.tenant, &t.role)?;
                let asked = invitation::Request {
                    tenant: &t.tenant,
                    role: &t.role,
                    workspaces: &t.workspaces,
                    emails: &emails,
                };
                for v in invitation::check_request(&asked)
                    .into_iter()
                    .chain(invitation::check_against(s, &asked, pending))
                {
                    let dup = problems
                        .iter()
                        .any(|x| x.code == v.code && x.key == v.key && x.field == v.field);
                    if !dup {
                        problems.push(v);
                    }
                }
            }
            let languages: Vec<&'static str> = emails
                .iter()
                .map(|e| match s.users.get(e) {
                    Some(u) => language_name(u.spec.language),
                    None => language_name(req.language.unwrap_or_default()),
                })
                .collect();
            Ok((s.revision, languages))
        })
        .await??;
    if !problems.is_empty() {
        return Err(ApiError::Rules {
            message: format!(
                "the invitation breaks {} rule(s): {}",
                problems.len(),
                problems[0].message
            ),
            violations: problems,
        });
    }
    let now = store::now();
    let expires_ms = expiry_ms(days);
    let rows: Vec<InvitationRow> = emails
        .iter()
        .zip(languages)
        .map(|(e, lang)| InvitationRow {
            id: invitation_id(),
            email: e.clone(),
            origin: Origin::Invite,
            language: lang.to_string(),
            message: req.message.clone(),
            status: store::InvitationStatus::Pending,
            link_seq: 1,
            invited_by: p.token_id.clone(),
            created_at: now.clone(),
            expires_ms,
            accepted_at: None,
            revoked_at: None,
            tenants: tenants
                .iter()
                .map(|t| store::InvitedTenant {
                    tenant: t.tenant.clone(),
                    role: t.role.clone(),
                    workspaces: t.workspaces.clone(),
                })
                .collect(),
        })
        .collect();
    let entries: Vec<NewAudit> = rows.iter().map(invite_audit).collect();
    let ctx = audit.context(revision, &p);
    if let Some((email, tenant)) = app
        .engine
        .db
        .insert_invitations(&rows, Some((&ctx, &entries)))
        .await?
    {
        return Err(already_invited(&email, &tenant));
    }
    app.engine.mail_queued();
    let now = now_ms();
    Ok(json_response(
        StatusCode::CREATED,
        &InvitationList {
            items: rows.into_iter().map(|r| invitation_wire(r, now)).collect(),
        },
    ))
}

fn already_invited(email: &str, tenant: &str) -> ApiError {
    ApiError::Conflict {
        code: "already_invited",
        message: format!("`{email}` already has a pending invitation to `{tenant}`"),
        details: json!({ "email": email, "tenant": tenant }),
    }
}

async fn list_invitations(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    q.only(&["status", "email"])?;
    app.engine.read(|s| p.require(s, "users.read")).await??;
    let status = match q.one("status")? {
        None => None,
        Some(s) => Some(
            store::InvitationStatus::parse(s).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_query",
                message: format!(
                    "`status` must be pending, accepted, expired or revoked, got `{s}`"
                ),
                details: json!({ "parameter": "status" }),
            })?,
        ),
    };
    let email = q.one("email")?.map(|e| e.trim().to_lowercase());
    let now = now_ms();
    let rows = app.engine.db.invitations(p.tenant()).await?;
    let items = rows
        .into_iter()
        .filter(|r| status.is_none_or(|s| r.status_at(now) == s))
        .filter(|r| email.as_deref().is_none_or(|e| r.email == e))
        .map(|r| invitation_wire(r, now))
        .collect();
    Ok(json_response(StatusCode::OK, &InvitationList { items }))
}

/// The invitation `id` of the path, if `p` may manage it: visible (a tenant token sees
/// those naming its tenant) and each of its tenants' roles one `p` may invite with.
async fn managed_invitation(
    app: &AppState,
    p: &Principal,
    params: &Params,
) -> Result<InvitationRow, ApiError> {
    let id = params.0.first().cloned().unwrap_or_default();
    let not_found = || ApiError::NotFound {
        message: format!("invitation `{id}` does not exist"),
        details: json!({ "id": id }),
    };
    let well_formed = id
        .strip_prefix("inv_")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(not_found());
    }
    let inv = app.engine.db.invitation(&id).await?.ok_or_else(not_found)?;
    if let Some(t) = p.tenant() {
        if !inv.tenants.iter().any(|x| x.tenant == t) {
            return Err(not_found());
        }
    }
    let tenants = inv.tenants.clone();
    app.engine
        .read(|s| -> Result<(), ApiError> {
            for t in &tenants {
                if p.tenant().is_none_or(|x| x == t.tenant) {
                    may_invite(p, s, &t.tenant, &t.role)?;
                }
            }
            Ok(())
        })
        .await??;
    Ok(inv)
}

fn lifecycle_audit(op: AuditOp, inv: &InvitationRow, what: &str) -> NewAudit {
    NewAudit {
        op,
        subject: AuditSubject::Invitation,
        key: inv.id.clone(),
        tenant: inv.tenants.first().map(|t| t.tenant.clone()),
        before: None,
        after: Some(json!({ "email": inv.email, "action": what }).to_string()),
    }
}

async fn resend(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    let inv = managed_invitation(&app, &p, &params).await?;
    let days = DEFAULT_INVITATION_DAYS;
    let entry = lifecycle_audit(AuditOp::Invite, &inv, "resend");
    let ctx = audit.context(app.engine.revision(), &p);
    match app
        .engine
        .db
        .resend_invitation(&inv.id, expiry_ms(days), Some((&ctx, &[entry])))
        .await?
    {
        Ok(true) => {}
        Ok(false) => return Err(not_pending(&inv.id)),
        Err((email, tenant)) => return Err(already_invited(&email, &tenant)),
    }
    app.engine.mail_queued();
    answer_invitation(&app, &inv.id, "resent").await
}

/// The invitation `id` as it is now, after a `done` (resent, revoked) write: 200.
async fn answer_invitation(app: &AppState, id: &str, done: &str) -> ApiResult<Response> {
    let row = app
        .engine
        .db
        .invitation(id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("a {done} invitation vanished")))?;
    Ok(json_response(
        StatusCode::OK,
        &invitation_wire(row, now_ms()),
    ))
}

fn not_pending(id: &str) -> ApiError {
    ApiError::Conflict {
        code: "invitation_not_pending",
        message: format!("invitation `{id}` was already accepted or revoked"),
        details: json!({ "id": id }),
    }
}

async fn revoke(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    let inv = managed_invitation(&app, &p, &params).await?;
    let entry = lifecycle_audit(AuditOp::Delete, &inv, "revoke");
    let ctx = audit.context(app.engine.revision(), &p);
    if !app
        .engine
        .db
        .revoke_invitation(&inv.id, Some((&ctx, &[entry])))
        .await?
    {
        return Err(not_pending(&inv.id));
    }
    answer_invitation(&app, &inv.id, "revoked").await
}
