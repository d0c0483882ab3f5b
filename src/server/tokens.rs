//! API tokens: random secrets shown once, stored as the SHA-256 of the secret (long random
//! tokens need no slow password hash), with an optional expiry; revoked ones keep their row
//! for the audit log. What makes a stored token unusable is [`refusal`], the one check.

use base64::Engine as _;
use rand::RngCore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::api::{TokenInfo, TokenResponse, TokenStatus};

use super::authz::Scope;
use super::store::{
    AuditCtx, AuditOp, AuditSubject, Db, NewAudit, Revoked, TokenEntry, TokenLife, TokenRow,
};
use super::ServerError;

/// An RFC 3339 time, as UTC.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// The expiry of a new token: RFC 3339, in the future, stored as UTC.
fn expiry(expires_at: &str, now: OffsetDateTime) -> Result<String, ServerError> {
    let Some(at) = parse_time(expires_at) else {
        return Err(ServerError::InvalidToken(format!(
            "expires_at `{expires_at}` is not an RFC 3339 time (e.g. 2027-01-01T00:00:00Z)"
        )));
    };
    if at <= now {
        return Err(ServerError::InvalidToken(format!(
            "expires_at `{expires_at}` is in the past"
        )));
    }
    at.format(&Rfc3339)
        .map_err(|e| ServerError::InvalidToken(format!("expires_at `{expires_at}`: {e}")))
}

/// Why a stored token no longer authenticates at `now`, if it does not: revoked, or expired.
/// An expiry that does not parse refuses the token (a corrupt row never grants access).
pub fn refusal(life: &TokenLife, now: OffsetDateTime) -> Option<String> {
    if let Some(at) = &life.revoked_at {
        return Some(format!("token revoked at {at}"));
    }
    let at = life.expires_at.as_deref()?;
    match parse_time(at) {
        Some(t) if t > now => None,
        Some(_) => Some(format!("token expired at {at}")),
        None => Some(format!("token with an unreadable expiry `{at}`")),
    }
}

/// The status of a token at `now`.
pub fn status(life: &TokenLife, now: OffsetDateTime) -> TokenStatus {
    match refusal(life, now) {
        None => TokenStatus::Active,
        Some(_) if life.revoked_at.is_some() => TokenStatus::Revoked,
        Some(_) => TokenStatus::Expired,
    }
}

/// A listed token, as the API shows it.
pub fn info(entry: TokenEntry, now: OffsetDateTime) -> TokenInfo {
    let status = status(&entry.life, now);
    TokenInfo {
        id: entry.id,
        scope: entry.scope,
        role: Some(entry.role).filter(|r| !r.is_empty()),
        user: entry.user,
        description: entry.description,
        created_at: entry.created_at,
        expires_at: entry.life.expires_at,
        revoked_at: entry.life.revoked_at,
        status,
    }
}

/// Revokes the token `id`, with an audit entry when `audit` says who asked.
pub async fn revoke(db: &Db, id: &str, audit: Option<&AuditCtx>) -> Result<Revoked, ServerError> {
    let entries = [NewAudit {
        op: AuditOp::Revoke,
        subject: AuditSubject::Token,
        key: id.to_string(),
        tenant: None,
        before: None,
        after: None,
    }];
    Ok(db
        .revoke_token(id, audit.map(|a| (a, &entries[..])))
        .await?)
}

/// Validates a scope, role, user and expiry, mints a token and stores its hash, with an
/// audit entry when `audit` says who asked (the API; the CLI and the bootstrap write none). A
/// tenant token needs a role or a user: with a user and no role it acts with exactly that
/// user's access in the tenant; a role, where given, only narrows it.
pub async fn create(
    db: &Db,
    scope: &str,
    role: Option<&str>,
    user: Option<&str>,
    description: Option<&str>,
    expires_at: Option<&str>,
    audit: Option<&AuditCtx>,
) -> Result<TokenResponse, ServerError> {
    let Some(parsed_scope) = Scope::parse(scope) else {
        return Err(ServerError::InvalidToken(format!(
            "scope `{scope}` is neither `system` nor `tenant:SLUG` (a valid tenant key)"
        )));
    };
    if let Some(r) = role {
        if !crate::rules::is_role_name(r) {
            return Err(ServerError::InvalidToken(format!(
                "role `{r}` is neither a built-in role (org_admin, user_admin, billing_admin, member) nor a role key"
            )));
        }
    }
    if matches!(parsed_scope, Scope::Tenant(_)) && role.is_none() && user.is_none() {
        return Err(ServerError::InvalidToken(
            "a tenant token acts with a role or as a user: give a role, a user, or both".into(),
        ));
    }
    if let Some(u) = user {
        if !crate::rules::is_valid_email(u) {
            return Err(ServerError::InvalidToken(format!(
                "user `{u}` is not a valid (lower-case) e-mail address"
            )));
        }
    }
    if description.is_some_and(|d| d.len() > 1000) {
        return Err(ServerError::InvalidToken(
            "the description is longer than 1000 characters".into(),
        ));
    }
    let expires_at = expires_at
        .map(|e| expiry(e, OffsetDateTime::now_utc()))
        .transpose()?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let id = format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let token = format!(
        "tct_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let row = TokenRow {
        id: id.clone(),
        scope: parsed_scope,
        role: role.map(str::to_string),
        user: user.map(str::to_string),
    };
    let entry = NewAudit {
        op: AuditOp::Create,
        subject: AuditSubject::Token,
        key: id.clone(),
        tenant: scope.strip_prefix("tenant:").map(str::to_string),
        before: None,
        after: Some(serde_json::json!({ "scope": scope, "role": role, "user": user, "description": description, "expires_at": expires_at }).to_string()),
    };
    let entries = [entry];
    db.insert_token(
        &row,
        &super::http::extract::hash_secret(&token),
        description,
        expires_at.as_deref(),
        audit.map(|a| (a, &entries[..])),
    )
    .await?;
    Ok(TokenResponse { id, token })
}
