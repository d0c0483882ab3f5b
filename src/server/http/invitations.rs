//! Invitations into a tenant (rule 8): sending up to 100 at once, listing them, and
//! accepting one, which creates the user and its membership in one write.

use std::collections::BTreeSet;

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{
    AcceptRequest, AcceptResponse, Emails, Invitation, InvitationList, InvitationRequest,
    InvitationStatus,
};
use crate::model::{keys, AnySpec, Kind, MembershipSpec, State, UserSpec};
use crate::rules::invitation;
use crate::server::authz::Principal;
use crate::server::engine::{Effect, Mutation};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{self, AuditOp, AuditSubject, InvitationRow, NewAudit};

use super::extract::{AuditHeaders, Auth, JsonBody, Params, QueryPairs};
use super::resources::resource_body;
use super::route::{Route, Routes, Schema};
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("invitations")
        .route(
            Route::post("/invitations", invite)
                .doc("invite", "Invite up to 100 e-mails into a tenant")
                .body(Schema::of::<InvitationRequest>())
                .json(201, "Pending invitations", Schema::of::<InvitationList>()),
        )
        .route(
            Route::get("/invitations", list_invitations)
                .doc("listInvitations", "Invitations visible to the token")
                .json(200, "Invitations", Schema::of::<InvitationList>()),
        )
        .route(
            Route::post("/invitations/{id}/accept", accept)
                .doc(
                    "acceptInvitation",
                    "Accept an invitation: creates the user and its membership",
                )
                .body(Schema::of::<AcceptRequest>())
                .json(200, "Accepted", Schema::of::<AcceptResponse>()),
        )
}

fn invitation_wire(r: InvitationRow) -> Invitation {
    Invitation {
        id: r.id,
        email: r.email,
        tenant: r.tenant,
        role: r.role,
        workspaces: r.workspaces,
        message: r.message,
        status: match r.status {
            store::InvitationStatus::Pending => InvitationStatus::Pending,
            store::InvitationStatus::Accepted => InvitationStatus::Accepted,
        },
        invited_by: r.invited_by,
        created_at: r.created_at,
        accepted_at: r.accepted_at,
    }
}

/// Checks that `p` may invite into (or accept for) tenant `t` with `role`: the tenant is
/// its own, it holds `users.invite`, and it may give `role` (the access decision's
/// [`crate::rules::access::may_give_role`]).
fn may_invite(p: &Principal, state: &State, t: &str, role: &str) -> Result<(), ApiError> {
    p.actor(state)?.may_invite(state, t, role)
}

async fn invite(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<InvitationRequest>,
) -> ApiResult<Response> {
    let raw: Vec<String> = match req.emails {
        Emails::List(v) => v,
        Emails::Joined(s) => s.split(';').map(str::to_string).collect(),
    };
    let emails = invitation::normalise_emails(&raw);
    let t = req.tenant.clone();
    let asked = invitation::Request {
        tenant: &t,
        role: &req.role,
        workspaces: &req.workspaces,
        emails: &emails,
    };
    let mut problems = invitation::check_request(&asked);
    let (pending, revision) = {
        let existing = app.engine.db.invitations(Some(&t)).await?;
        let pending: BTreeSet<String> = existing
            .into_iter()
            .filter(|r| r.status == store::InvitationStatus::Pending)
            .map(|r| r.email)
            .collect();
        (pending, app.engine.read(|s| s.revision).await?)
    };
    app.engine
        .read(|s| -> Result<(), ApiError> {
            may_invite(&p, s, &t, &req.role)?;
            problems.extend(invitation::check_against(s, &asked, &pending));
            Ok(())
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
    let rows: Vec<InvitationRow> = emails
        .iter()
        .map(|e| InvitationRow {
            id: format!("inv_{}", uuid::Uuid::new_v4().simple()),
            email: e.clone(),
            tenant: t.clone(),
            role: req.role.clone(),
            workspaces: req.workspaces.clone(),
            message: req.message.clone(),
            status: store::InvitationStatus::Pending,
            invited_by: p.token_id.clone(),
            created_at: now.clone(),
            accepted_at: None,
        })
        .collect();
    let entries: Vec<NewAudit> = rows
        .iter()
        .map(|r| NewAudit {
            op: AuditOp::Invite,
            subject: AuditSubject::Invitation,
            key: r.id.clone(),
            tenant: Some(t.clone()),
            before: None,
            after: Some(json!({ "email": r.email, "tenant": r.tenant, "role": r.role, "workspaces": r.workspaces, "message": r.message }).to_string()),
        })
        .collect();
    let ctx = audit.context(revision, &p);
    app.engine
        .db
        .insert_invitations(&rows, Some((&ctx, &entries)))
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &InvitationList {
            items: rows.into_iter().map(invitation_wire).collect(),
        },
    ))
}

async fn list_invitations(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    q.only(&[])?;
    app.engine.read(|s| p.require(s, "users.read")).await??;
    let rows = app.engine.db.invitations(p.tenant()).await?;
    Ok(json_response(
        StatusCode::OK,
        &InvitationList {
            items: rows.into_iter().map(invitation_wire).collect(),
        },
    ))
}

async fn accept(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<AcceptRequest>,
) -> ApiResult<Response> {
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
    if p.tenant().is_some_and(|t| t != inv.tenant) {
        return Err(not_found());
    }
    if inv.status != store::InvitationStatus::Pending {
        return Err(ApiError::Conflict {
            code: "invitation_not_pending",
            message: format!("invitation `{id}` was already accepted"),
            details: json!({ "id": id }),
        });
    }
    let membership_key = keys::join(&[&inv.email, &inv.tenant]);
    let user_exists = app
        .engine
        .read(|s| -> Result<bool, ApiError> {
            may_invite(&p, s, &inv.tenant, &inv.role)?;
            if s.memberships.contains_key(&membership_key) {
                return Err(ApiError::Conflict {
                    code: "already_member",
                    message: format!("`{}` is already a member of `{}`", inv.email, inv.tenant),
                    details: json!({ "key": membership_key }),
                });
            }
            Ok(s.users.contains_key(&inv.email))
        })
        .await??;
    let mut mutations = Vec::new();
    if !user_exists {
        let spec = UserSpec {
            first_name: req.first_name.clone(),
            last_name: req.last_name.clone(),
            language: req.language.unwrap_or_default(),
            ..UserSpec::default()
        };
        mutations.push(Mutation {
            kind: Kind::User,
            key: inv.email.clone(),
            if_version: Some(0),
            effect: Effect::Put {
                spec: AnySpec::User(spec),
                protected: None,
                managed: Some(false),
            },
        });
    }
    let spec = MembershipSpec {
        role: inv.role.clone(),
        workspaces: inv.workspaces.clone(),
    };
    mutations.push(Mutation {
        kind: Kind::Membership,
        key: membership_key.clone(),
        if_version: Some(0),
        effect: Effect::Put {
            spec: AnySpec::Membership(spec),
            protected: None,
            managed: Some(false),
        },
    });
    let mut w = audit.write(p.clone(), mutations);
    w.accept_invitation = Some(id.clone());
    let out = app.engine.write(w).await?;
    let (user, membership) = app
        .engine
        .read(|s| {
            (
                s.get(Kind::User, &inv.email),
                s.get(Kind::Membership, &membership_key),
            )
        })
        .await?;
    let (Some((um, us)), Some((mm, ms))) = (user, membership) else {
        return Err(ApiError::Internal(
            "accepted invitation left no user or membership".into(),
        ));
    };
    Ok(json_response(
        StatusCode::OK,
        &AcceptResponse {
            revision: out.revision,
            user: resource_body(Kind::User, &inv.email, um, &us),
            membership: resource_body(Kind::Membership, &membership_key, mm, &ms),
        },
    ))
}
