//! Sessions: what signing in makes. A session is a random secret shown once (only its
//! SHA-256 is stored, as for tokens) acting as one user with exactly that user's access —
//! the same [`Principal`] as a token created with `--user` — in one tenant, or as the system
//! for a `super_admin`. It expires after a time without requests (sliding) and after a
//! maximum whatever happens; [`refusal`] is the one check. The throttle of failed sign-ins
//! is `store::throttle`; the HTTP side is `http::sessions`.

use std::sync::OnceLock;

use base64::Engine as _;
use rand::RngCore;

use crate::api::SessionInfo;

use super::authz::{Principal, Scope};
use super::store::{ms_to_rfc3339, SessionLife, SessionRow};

/// The prefix of a session's secret (tokens' is `tct_`): the extractor reads the session
/// table for these, the token table for the others.
pub const SECRET_PREFIX: &str = "tcs_";
/// The prefix of a session's id.
pub const ID_PREFIX: &str = "ses_";

/// How sessions live and how failed sign-ins are throttled (`serve` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthPolicy {
    pub sessions: SessionPolicy,
    pub throttle: super::store::ThrottlePolicy,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Without a request for this long, a session ends (sliding).
    pub idle_ms: i64,
    /// A session ends this long after sign-in whatever happens.
    pub max_ms: i64,
}

impl Default for SessionPolicy {
    /// 12 hours idle, 7 days at most.
    fn default() -> SessionPolicy {
        SessionPolicy {
            idle_ms: 12 * 3_600_000,
            max_ms: 7 * 86_400_000,
        }
    }
}

/// A new session of `email` in `tenant` (None: the system) from `address`, and its secret
/// (shown once).
pub fn mint(
    email: &str,
    tenant: Option<&str>,
    address: Option<&str>,
    policy: &SessionPolicy,
    now_ms: i64,
) -> (SessionRow, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let row = SessionRow {
        id: format!(
            "{ID_PREFIX}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        ),
        email: email.to_string(),
        tenant: tenant.map(str::to_string),
        address: address.map(str::to_string),
        created_ms: now_ms,
        life: SessionLife {
            last_seen_ms: now_ms,
            idle_ms: policy.idle_ms,
            expires_ms: now_ms.saturating_add(policy.max_ms),
            revoked_ms: None,
        },
    };
    (row, secret)
}

/// Why a stored session no longer authenticates at `now_ms`, if it does not: ended
/// (signed out or revoked), idle too long, or past its maximum.
pub fn refusal(life: &SessionLife, now_ms: i64) -> Option<String> {
    if let Some(at) = life.revoked_ms {
        return Some(format!("session ended at {}", ms_to_rfc3339(at)));
    }
    if now_ms >= life.expires_ms {
        return Some(format!(
            "session expired at {}: sign in again",
            ms_to_rfc3339(life.expires_ms)
        ));
    }
    if now_ms >= life.last_seen_ms.saturating_add(life.idle_ms) {
        return Some("session expired after a time without requests: sign in again".into());
    }
    None
}

/// Who a session acts as: its user in its tenant with exactly the user's access, or, for a
/// session without a tenant, the system while the user is an active `super_admin` (the
/// access decision checks both on every request).
pub fn principal(row: &SessionRow) -> Principal {
    principal_of(&row.id, &row.email, row.tenant.as_deref())
}

/// [`principal`] of session `id` of `email` in `tenant` (None: the system).
pub fn principal_of(id: &str, email: &str, tenant: Option<&str>) -> Principal {
    match tenant {
        Some(t) => Principal::user_in(id, t, email),
        None => Principal {
            token_id: id.to_string(),
            scope: Scope::System,
            role: None,
            user: Some(email.to_string()),
        },
    }
}

/// Whether `principal` is a session (its id is a session's).
pub fn is_session(principal: &Principal) -> bool {
    principal.token_id.starts_with(ID_PREFIX)
}

/// A session as the API lists it (never its secret).
pub fn info(row: &SessionRow, now_ms: i64) -> SessionInfo {
    SessionInfo {
        id: row.id.clone(),
        user: row.email.clone(),
        tenant: row.tenant.clone(),
        address: row.address.clone(),
        created_at: ms_to_rfc3339(row.created_ms),
        last_seen_at: ms_to_rfc3339(row.life.last_seen_ms),
        expires_at: ms_to_rfc3339(row.life.ends_ms()),
        ended_at: row.life.revoked_ms.map(ms_to_rfc3339),
        active: refusal(&row.life, now_ms).is_none(),
    }
}

/// An argon2id hash of a password nobody knows, checked when the e-mail is unknown (or has
/// no password yet) so that the answer takes as long as a wrong password's.
pub async fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return h.clone();
    }
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let h = super::passwords::hash(password).await.unwrap_or_default();
    DUMMY.get_or_init(|| h).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_slide_and_stop_at_the_maximum() {
        let p = SessionPolicy {
            idle_ms: 1_000,
            max_ms: 10_000,
        };
        let (mut row, secret) = mint("a@b.example", Some("acme"), None, &p, 0);
        assert!(secret.starts_with(SECRET_PREFIX));
        assert!(row.id.starts_with(ID_PREFIX));
        assert_eq!(refusal(&row.life, 999), None);
        assert!(refusal(&row.life, 1_000).is_some(), "idle");
        row.life.last_seen_ms = 9_500;
        assert_eq!(refusal(&row.life, 9_999), None, "slid");
        assert!(refusal(&row.life, 10_000).is_some(), "the maximum");
        row.life.revoked_ms = Some(5);
        assert!(refusal(&row.life, 9_600).unwrap().contains("ended"));
        assert!(is_session(&principal(&row)));
        assert_eq!(principal(&row).tenant(), Some("acme"));
    }
}
