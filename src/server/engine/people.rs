//! What a write does to people beside their specs, in the write's transaction: a created
//! user gets a pending account and an invitation whose e-mail is queued in the outbox; a
//! deleted user loses its account, its pending invitations and its sessions; a blocked user
//! loses its sessions; an accepted invitation sets the password hash and activates the
//! account.

use serde_json::json;

use crate::model::{keys, Kind, State, UserStatus};
use crate::server::error::ApiError;
use crate::server::mail::language_name;
use crate::server::store::{
    self, AuditOp, AuditSubject, InvitationRow, InvitationStatus, InvitedTenant, NewAudit, Origin,
    Tx,
};

use super::journal::Journal;
use super::WriteRequest;

/// How long an invitation is valid unless the request says otherwise.
pub const DEFAULT_INVITATION_DAYS: i64 = 7;
/// The range of validity a request may ask for.
pub const INVITATION_DAYS: std::ops::RangeInclusive<i64> = 1..=30;

/// The expiry, in milliseconds since the epoch, of an invitation valid `days` from now.
pub fn expiry_ms(days: i64) -> i64 {
    store::now_ms() + days * 86_400_000
}

/// A new invitation id.
pub fn invitation_id() -> String {
    format!("inv_{}", uuid::Uuid::new_v4().simple())
}

/// What a write does to people, worked out from the state after it before any statement:
/// the users it created, deleted and blocked, and the invitations of those it created
/// with their audit entries.
pub(super) struct People<'a> {
    created: Vec<&'a str>,
    deleted: Vec<&'a str>,
    blocked: Vec<&'a str>,
    invitations: Vec<InvitationRow>,
    audit: Vec<NewAudit>,
}

/// How many created users [`prepare`] works out between two yields.
const PREPARE_STEP: usize = 512;

/// Works out [`People`] for the write journaled in `journal`. It yields to the executor
/// every [`PREPARE_STEP`] created users, so that run beside the resource statements (an
/// apply from empty creates 100,000 users) it builds their rows while SQLite inserts the
/// resources, instead of between statements while SQLite waits.
pub(super) async fn prepare<'a>(
    state: &'a State,
    journal: &'a Journal,
    req: &WriteRequest,
) -> People<'a> {
    let mut people = People {
        created: Vec::new(),
        deleted: Vec::new(),
        blocked: Vec::new(),
        invitations: Vec::new(),
        audit: Vec::new(),
    };
    for t in journal.changes_of(state, Kind::User) {
        match (t.existed, t.exists) {
            (false, true) => people.created.push(t.key),
            (true, false) => people.deleted.push(t.key),
            (true, true)
                if state
                    .users
                    .get(t.key)
                    .is_some_and(|u| u.spec.status == UserStatus::Blocked) =>
            {
                people.blocked.push(t.key)
            }
            _ => {}
        }
    }
    if req.invite_created_users && !people.created.is_empty() {
        people.invitations.reserve(people.created.len());
        people.audit.reserve(people.created.len());
        for chunk in people.created.chunks(PREPARE_STEP) {
            for e in chunk {
                let row = user_invitation(state, e, &req.principal.token_id);
                people.audit.push(invite_audit(&row));
                people.invitations.push(row);
            }
            tokio::task::yield_now().await;
        }
    }
    people
}

/// Persists the people side of a write (see the module doc), as [`prepare`] worked it out.
/// Returns whether e-mail was queued (the sender is then woken).
pub(super) async fn persist(
    tx: &mut Tx,
    people: People<'_>,
    revision: i64,
    req: &WriteRequest,
) -> Result<bool, ApiError> {
    let People {
        created,
        deleted,
        blocked,
        invitations,
        audit,
    } = people;
    if !deleted.is_empty() {
        tx.delete_accounts(&deleted).await?;
        tx.revoke_user_invitations(&deleted).await?;
    }
    end_sessions(tx, &deleted, "user_deleted", revision, req).await?;
    end_sessions(tx, &blocked, "user_blocked", revision, req).await?;
    let mut queued = false;
    if !created.is_empty() {
        tx.insert_accounts(&created).await?;
        if req.invite_created_users {
            tx.insert_user_invitations(&invitations).await?;
            tx.insert_audit(
                revision,
                &req.principal.token_id,
                &audit,
                req.change_set.as_deref(),
                req.commit.as_deref(),
            )
            .await?;
            queued = !invitations.is_empty();
        }
    }
    if let Some(a) = &req.activate {
        tx.activate_account(&a.email, &a.password_hash).await?;
    }
    Ok(queued)
}

/// Ends the working sessions of `emails` with the reason `why`, audited with the write.
async fn end_sessions(
    tx: &mut Tx,
    emails: &[&str],
    why: &str,
    revision: i64,
    req: &WriteRequest,
) -> Result<(), ApiError> {
    if emails.is_empty() {
        return Ok(());
    }
    let ended = tx.end_sessions_of(emails, why, store::now_ms()).await?;
    let entries: Vec<NewAudit> = ended.iter().map(|r| store::ended_audit(r, why)).collect();
    tx.insert_audit(
        revision,
        &req.principal.token_id,
        &entries,
        req.change_set.as_deref(),
        req.commit.as_deref(),
    )
    .await?;
    Ok(())
}

/// The invitation of a user a write created: the tenants it is a member of after the write.
fn user_invitation(state: &State, email: &str, invited_by: &str) -> InvitationRow {
    let prefix = format!("{email}/");
    let tenants = state
        .keys_in(Kind::Membership, &prefix)
        .filter_map(|k| {
            let (_, t) = keys::split2(k)?;
            let m = state.memberships.get(k)?;
            Some(InvitedTenant {
                tenant: t.to_string(),
                role: m.spec.role.clone(),
                workspaces: m.spec.workspaces.clone(),
            })
        })
        .collect();
    let language = state
        .users
        .get(email)
        .map_or("en", |u| language_name(u.spec.language));
    InvitationRow {
        id: invitation_id(),
        email: email.to_string(),
        origin: Origin::User,
        language: language.to_string(),
        message: None,
        status: InvitationStatus::Pending,
        link_seq: 1,
        invited_by: invited_by.to_string(),
        created_at: store::now(),
        expires_ms: expiry_ms(DEFAULT_INVITATION_DAYS),
        accepted_at: None,
        revoked_at: None,
        tenants,
    }
}

/// The audit entry of a new invitation.
pub fn invite_audit(r: &InvitationRow) -> NewAudit {
    let tenants: Vec<serde_json::Value> = r
        .tenants
        .iter()
        .map(|t| json!({ "tenant": t.tenant, "role": t.role, "workspaces": t.workspaces }))
        .collect();
    NewAudit {
        op: AuditOp::Invite,
        subject: AuditSubject::Invitation,
        key: r.id.clone(),
        tenant: r.tenants.first().map(|t| t.tenant.clone()),
        before: None,
        after: Some(
            json!({
                "email": r.email,
                "tenants": tenants,
                "message": r.message,
                "expires_at": store::ms_to_rfc3339(r.expires_ms),
            })
            .to_string(),
        ),
    }
}
