//! API tokens: random secrets shown once, stored as the SHA-256 of the secret (long random
//! tokens need no slow password hash).

use base64::Engine as _;
use rand::RngCore;

use crate::api::TokenResponse;

use super::authz::Scope;
use super::store::{AuditCtx, AuditOp, AuditSubject, Db, NewAudit, TokenRow};
use super::ServerError;

/// Validates a scope, role and user, mints a token and stores its hash, with an audit
/// entry when `audit` says who asked (the API; the CLI and the bootstrap write none). A
/// tenant token needs a role or a user: with a user and no role it acts with exactly that
/// user's access in the tenant; a role, where given, only narrows it.
pub async fn create(
    db: &Db,
    scope: &str,
    role: Option<&str>,
    user: Option<&str>,
    description: Option<&str>,
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
        after: Some(serde_json::json!({ "scope": scope, "role": role, "user": user, "description": description }).to_string()),
    };
    let entries = [entry];
    db.insert_token(
        &row,
        &super::http::extract::hash_secret(&token),
        description,
        audit.map(|a| (a, &entries[..])),
    )
    .await?;
    Ok(TokenResponse { id, token })
}
