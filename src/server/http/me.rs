//! `GET /api/v1/me`: who is asking — the user a session (or a token acting as a user)
//! acts as, with their account, every membership of theirs, their pending invitations and
//! the session itself.

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::{InvitationStatus, Me};
use crate::model::Kind;
use crate::server::error::{ApiError, ApiResult};
use crate::server::sessions;
use crate::server::store;

use super::extract::Auth;
use super::invitations::invitation_wire;
use super::resources::resource_body;
use super::route::{Route, Routes, Schema};
use super::users::with_account;
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("sessions").route(
        Route::get("/me", me)
            .doc(
                "getMe",
                "The signed-in user: their account, memberships, pending invitations and session",
            )
            .about(
                "The user the session (or a token acting as a user) acts as, with \
                 their account (pending, active, blocked; last active), every \
                 membership of theirs, the invitations to their e-mail still pending, \
                 and the session asking. A credential that acts as no user answers \
                 404.",
            )
            .json(200, "The user", Schema::of::<Me>()),
    )
}

async fn me(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let Some(email) = p.user.clone() else {
        return Err(ApiError::not_found(
            "this token acts as no user: `GET /me` answers for a session or a token acting as a user",
        ));
    };
    let (user, memberships) = app
        .engine
        .read(|s| -> Result<_, ApiError> {
            p.actor(s)?;
            let user = s
                .get(Kind::User, &email)
                .map(|(m, spec)| resource_body(Kind::User, &email, m, &spec))
                .ok_or_else(|| ApiError::not_found(format!("user `{email}` does not exist")))?;
            let prefix = format!("{email}/");
            let memberships: Vec<_> = s
                .keys_in(Kind::Membership, &prefix)
                .filter_map(|k| {
                    s.get(Kind::Membership, k)
                        .map(|(m, spec)| resource_body(Kind::Membership, k, m, &spec))
                })
                .collect();
            Ok((user, memberships))
        })
        .await??;
    let user = with_account(&app, user).await?;
    let now = store::now_ms();
    let invitations = app
        .engine
        .db
        .invitations_of(&email)
        .await?
        .into_iter()
        .map(|r| invitation_wire(r, now))
        .filter(|i| i.status == InvitationStatus::Pending)
        .collect();
    let session = if sessions::is_session(&p) {
        app.engine
            .db
            .session(&p.token_id)
            .await?
            .map(|r| sessions::info(&r, now))
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &Me {
            user,
            memberships,
            invitations,
            session,
        },
    ))
}
