//! Wire types of people on the platform (issue 12): invitations and their acceptance,
//! accounts, sign-in and sessions, `GET /me`, password resets and "change all passwords".

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ResourceBody;

/// E-mails of an invitation: a list, or one string separated by `;`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Emails {
    List(Vec<String>),
    /// `a@x.example;b@y.example`
    Joined(String),
}

/// A tenant an invitation names, with the role and workspaces the invitee gets there on
/// acceptance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitedTenant {
    pub tenant: String,
    pub role: String,
    /// At most 10 workspaces (rule 8); the rest are assigned after.
    #[serde(default)]
    pub workspaces: Vec<String>,
}

/// `POST /api/v1/invitations`: one tenant (`tenant`, `role`, `workspaces`) or several
/// (`tenants`; seeds 002 and 004), not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    /// At most 100 e-mails (rule 8).
    pub emails: Emails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The role the invitees get in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// At most 10 workspaces (rule 8); the rest are assigned after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
    /// Several tenants at once, each with its role and workspaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub tenants: Vec<InvitedTenant>,
    /// A personal message for the invitees, quoted in the e-mail (seed 001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub message: Option<String>,
    /// How many days the link stays valid: 1 to 30 (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 30))]
    pub expires_in_days: Option<i64>,
    /// The language of the e-mail to someone who is not a user yet (a user gets theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::model::Language>,
}

/// Where an invitation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

/// An invitation: one e-mail, one link (never shown; it is in the e-mail), the tenants it
/// names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub tenants: Vec<InvitedTenant>,
    pub message: Option<String>,
    pub status: InvitationStatus,
    /// `invite` (sent through the API) or `user` (the user was created by a write).
    pub origin: String,
    /// The token that sent it.
    pub invited_by: String,
    pub created_at: String,
    /// When the link stops working (RFC 3339).
    pub expires_at: String,
    pub accepted_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A list of invitations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InvitationList {
    pub items: Vec<Invitation>,
}

/// `POST /api/v1/invitations/accept`: the link's secret and the invitee's password (no
/// administrator's token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The `token` of the link in the e-mail.
    #[schemars(length(min = 1, max = 200))]
    pub token: String,
    /// The password to sign in with (at least 10 characters); for a user who already has
    /// one, that password.
    #[schemars(length(min = 1, max = 1024))]
    pub password: String,
    /// The invited e-mail, if the client asks for it: it must be the invitation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::model::Language>,
}

/// What accepting an invitation did: the user is active, with the memberships it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AcceptResponse {
    pub revision: i64,
    pub invitation: String,
    pub user: ResourceBody,
    pub memberships: Vec<ResourceBody>,
}

/// A user's platform status, beside the declared spec: read-only, never planned, never
/// exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Invited, not accepted yet.
    Pending,
    Active,
    Blocked,
}

/// The platform's side of a user (`account` of a user in `GET /users` and
/// `GET /users/{email}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    pub status: AccountStatus,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub invited_at: Option<String>,
    /// Updated at most once a minute.
    pub last_active_at: Option<String>,
}

/// `POST /api/v1/sessions`: sign in with an e-mail and a password.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schemars(length(min = 1, max = 320))]
    pub email: String,
    #[schemars(length(min = 1, max = 1024))]
    pub password: String,
    /// The tenant to act in; by default the user's only tenant (a `super_admin`: the
    /// platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// A new session: its secret is in this answer only (send it as `Authorization: Bearer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignInResponse {
    /// The session's secret, shown once.
    pub token: String,
    pub session: SessionInfo,
}

/// A session, never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// `ses_…`: what the audit log and `DELETE /users/{email}/sessions/{session}` name it by.
    pub id: String,
    pub user: String,
    /// The tenant it acts in; null: the platform (a `super_admin`).
    pub tenant: Option<String>,
    /// The client address that signed in.
    pub address: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The last request seen (moves at most once a minute), RFC 3339.
    pub last_seen_at: String,
    /// When it ends without a further request (idle expiry, capped by the maximum), RFC 3339.
    pub expires_at: String,
    /// When it was signed out or revoked, RFC 3339; null: not ended.
    pub ended_at: Option<String>,
    /// Whether it works, at the time of the answer.
    pub active: bool,
}

/// A user's sessions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionList {
    pub items: Vec<SessionInfo>,
}

/// What ending sessions did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EndedSessions {
    /// The sessions ended now.
    pub ended: Vec<String>,
}

/// `GET /api/v1/me`: the signed-in user, their memberships, their pending invitations and
/// the session (or token) asking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    /// The user, with its `account`.
    pub user: ResourceBody,
    /// Every membership of the user.
    pub memberships: Vec<ResourceBody>,
    /// Invitations of the user's e-mail still pending.
    pub invitations: Vec<Invitation>,
    /// The session asking; null for a token acting as the user.
    pub session: Option<SessionInfo>,
}

/// A one-time password reset link; only a hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PasswordResetResponse {
    pub link: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /api/v1/password-resets/redeem`: the secret of a reset link and the new password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The `token` of the link.
    #[schemars(length(min = 1, max = 200))]
    pub token: String,
    /// The new password (at least 10 characters, not the e-mail address).
    #[schemars(length(min = 1, max = 1024))]
    pub password: String,
}

/// A redeemed reset: the user whose password was set, and how many of their sessions
/// ended with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RedeemResponse {
    pub email: String,
    pub sessions_ended: u64,
}

/// `POST /api/v1/password-resets`: a user asks for a reset link by e-mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The user's e-mail address.
    #[schemars(length(min = 1, max = 320))]
    pub email: String,
}

/// The answer to a reset request: the same whether the address is known or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResetRequested {
    /// Always the same sentence: if the address belongs to a user, a link is on its way.
    pub message: String,
}

/// "Change all passwords" (`POST /api/v1/tenants/{tenant}/password-resets`,
/// `POST /api/v1/password-resets/all`): what was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResetAllResponse {
    /// The users considered (the tenant's members, or every user).
    pub users: u64,
    /// Users sent a reset e-mail (their older unused links ended).
    pub emailed: u64,
    /// Users not sent one: pending (no password yet; their invitation stands).
    pub pending: u64,
    /// Users not sent one: blocked.
    pub blocked: u64,
    /// Users this principal may not change (a system role, another tenant): untouched;
    /// only the system resets them.
    pub refused: Vec<String>,
    /// Sessions ended: every session of every user it may change (pending and blocked
    /// ones included).
    pub sessions_ended: u64,
}
