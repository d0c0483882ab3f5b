//! Accepting an invitation: the link's secret is the only credential (no administrator's
//! token). The invitee sets a password (stored as argon2id) — or, already a user with one,
//! confirms it — and in one write the user and the memberships the invitation names are
//! created where missing, the invitation is marked accepted and the account made active.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::api::{AcceptRequest, AcceptResponse};
use crate::model::{keys, AnySpec, Kind, MembershipSpec, UserSpec};
use crate::server::authz::{Principal, Scope};
use crate::server::engine::{Activation, Effect, Mutation, WriteOutcome, WriteRequest};
use crate::server::error::{ApiError, ApiResult};
use crate::server::passwords;
use crate::server::store::{InvitationRow, LinkState};

use super::extract::{hash_secret, JsonBody};
use super::resources::resource_body;
use super::route::{Route, Routes, Schema};
use super::users::with_account;
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("invitations").route(
        Route::post("/invitations/accept", accept)
            .public()
            .doc(
                "acceptInvitation",
                "Accept an invitation with the link's token and a password: the user becomes active with the memberships it names",
            )
            .about(
                "Accepts a pending invitation with the one-time token of its e-mail's link \
                 and a password (no administrator's token): the password is stored as an \
                 argon2id hash, the user and the memberships the invitation names are \
                 created in one write, and the account becomes active.",
            )
            .body(Schema::of::<AcceptRequest>())
            .json(200, "Accepted", Schema::of::<AcceptResponse>()),
    )
}

/// The profile an invitee may give when accepting (used only if the user is created).
pub struct Profile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language: Option<crate::model::Language>,
}

/// Who the write of an accepted invitation is made by: the invitation itself (checked
/// when it was sent; the platform's rules still apply to the write).
fn invitation_principal(inv: &InvitationRow) -> Principal {
    Principal {
        token_id: inv.id.clone(),
        scope: Scope::System,
        role: None,
        user: None,
    }
}

/// Applies an accepted invitation in one write: creates the user if missing, the
/// memberships it names that are missing, marks it accepted and activates the account with
/// `password_hash`. (A redeemed password reset link is the other way a user becomes
/// active: it proves the address, as accepting does.)
pub async fn apply_accepted(
    app: &AppState,
    inv: &InvitationRow,
    profile: Profile,
    password_hash: String,
) -> Result<WriteOutcome, ApiError> {
    let email = inv.email.clone();
    let tenants = inv.tenants.clone();
    let mutations = app
        .engine
        .read(|s| {
            let mut mutations = Vec::new();
            if !s.users.contains_key(&email) {
                let spec = UserSpec {
                    first_name: profile.first_name,
                    last_name: profile.last_name,
                    language: profile.language.unwrap_or_default(),
                    ..UserSpec::default()
                };
                mutations.push(Mutation {
                    kind: Kind::User,
                    key: email.clone(),
                    if_version: None,
                    effect: Effect::Put {
                        spec: AnySpec::User(spec),
                        protected: None,
                        managed: Some(false),
                    },
                });
            }
            for t in &tenants {
                let key = keys::join(&[&email, &t.tenant]);
                if s.memberships.contains_key(&key) {
                    continue;
                }
                mutations.push(Mutation {
                    kind: Kind::Membership,
                    key,
                    if_version: None,
                    effect: Effect::Put {
                        spec: AnySpec::Membership(MembershipSpec {
                            role: t.role.clone(),
                            workspaces: t.workspaces.clone(),
                        }),
                        protected: None,
                        managed: Some(false),
                    },
                });
            }
            mutations
        })
        .await?;
    let mut w = WriteRequest::new(invitation_principal(inv), mutations);
    w.accept_invitation = Some(inv.id.clone());
    w.invite_created_users = false;
    w.activate = Some(Activation {
        email,
        password_hash,
    });
    app.engine.write(w).await
}

async fn accept(
    AxState(app): AxState<AppState>,
    JsonBody(req): JsonBody<AcceptRequest>,
) -> ApiResult<Response> {
    let (state, inv) = app
        .engine
        .db
        .invitation_by_link(&hash_secret(&req.token))
        .await?;
    let inv = match (state, inv) {
        (LinkState::Usable, Some(inv)) => inv,
        (LinkState::Expired, _) => {
            return Err(ApiError::Conflict {
                code: "invitation_expired",
                message: "this invitation has expired: ask for it to be sent again".into(),
                details: json!({}),
            })
        }
        (LinkState::Closed(s), _) => {
            return Err(ApiError::Conflict {
                code: "invitation_not_pending",
                message: format!("this invitation is {}", s.as_str()),
                details: json!({ "status": s.as_str() }),
            })
        }
        _ => {
            return Err(ApiError::not_found(
                "no such invitation link (a newer e-mail may have replaced it)",
            ))
        }
    };
    if let Some(e) = &req.email {
        if e.trim().to_lowercase() != inv.email {
            return Err(ApiError::forbidden(
                "this invitation is for another e-mail address",
            ));
        }
    }
    let existing = app
        .engine
        .db
        .account(&inv.email)
        .await?
        .and_then(|a| a.password_hash);
    let password_hash = match existing {
        Some(phc) => {
            if !passwords::verify(req.password.clone(), phc.clone()).await {
                return Err(ApiError::forbidden(
                    "this user already has a password: give it to accept the invitation",
                ));
            }
            phc
        }
        None => {
            passwords::check(&req.password, &inv.email).map_err(|e| {
                ApiError::invalid(
                    "weak_password",
                    e.to_string(),
                    json!({ "field": "password" }),
                )
            })?;
            passwords::hash(req.password.clone())
                .await
                .map_err(ApiError::Internal)?
        }
    };
    let profile = Profile {
        first_name: req.first_name.clone(),
        last_name: req.last_name.clone(),
        language: req.language,
    };
    let out = apply_accepted(&app, &inv, profile, password_hash).await?;
    let email = inv.email.clone();
    let keys: Vec<String> = inv
        .tenants
        .iter()
        .map(|t| keys::join(&[&email, &t.tenant]))
        .collect();
    let (user, memberships) = app
        .engine
        .read(|s| {
            let user = s
                .get(Kind::User, &email)
                .map(|(m, spec)| resource_body(Kind::User, &email, m, &spec));
            let memberships: Vec<_> = keys
                .iter()
                .filter_map(|k| {
                    s.get(Kind::Membership, k)
                        .map(|(m, spec)| resource_body(Kind::Membership, k, m, &spec))
                })
                .collect();
            (user, memberships)
        })
        .await?;
    let user = user.ok_or_else(|| ApiError::Internal("accepted invitation left no user".into()))?;
    let user = with_account(&app, user).await?;
    Ok(json_response(
        StatusCode::OK,
        &AcceptResponse {
            revision: out.revision,
            invitation: inv.id,
            user,
            memberships,
        },
    ))
}
