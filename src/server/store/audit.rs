//! The `audit` table: one entry per change, written in the transaction of the change, with
//! ids allocated from `meta.audit_seq` (newest first when read).

use sqlx::Row;

use crate::model::Kind;

use super::{insert_verb, now, placeholders, sql, Db, StoreError, Tx, CHUNK};

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOp {
    /// A resource created or replaced.
    Put,
    Delete,
    /// A resource marked as managed.
    Adopt,
    /// A child deleted with its parent.
    CascadeDelete,
    /// A membership that lost a deleted workspace.
    CascadeUpdate,
    /// A token minted.
    Create,
    /// An invitation sent.
    Invite,
    /// A password reset link made (for an administrator, or asked for by the user).
    PasswordReset,
    /// A password reset link redeemed: the password was set.
    PasswordResetRedeemed,
    /// "Change all passwords" of a tenant or of the platform.
    ResetAllPasswords,
    /// A token or a session revoked (a session also when its user is blocked or deleted).
    Revoke,
    /// A session opened with a password.
    SignIn,
    /// A sign-in refused (a wrong password, an unknown e-mail, a blocked user); never the
    /// password.
    SignInFailed,
    /// A session ended by its own user.
    SignOut,
}

impl AuditOp {
    const ALL: [AuditOp; 14] = [
        AuditOp::Put,
        AuditOp::Delete,
        AuditOp::Adopt,
        AuditOp::CascadeDelete,
        AuditOp::CascadeUpdate,
        AuditOp::Create,
        AuditOp::Invite,
        AuditOp::PasswordReset,
        AuditOp::PasswordResetRedeemed,
        AuditOp::ResetAllPasswords,
        AuditOp::Revoke,
        AuditOp::SignIn,
        AuditOp::SignInFailed,
        AuditOp::SignOut,
    ];

    /// The stored (and published) name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOp::Put => "put",
            AuditOp::Delete => "delete",
            AuditOp::Adopt => "adopt",
            AuditOp::CascadeDelete => "cascade_delete",
            AuditOp::CascadeUpdate => "cascade_update",
            AuditOp::Create => "create",
            AuditOp::Invite => "invite",
            AuditOp::PasswordReset => "password_reset",
            AuditOp::PasswordResetRedeemed => "password_reset_redeemed",
            AuditOp::ResetAllPasswords => "reset_all_passwords",
            AuditOp::Revoke => "revoke",
            AuditOp::SignIn => "sign_in",
            AuditOp::SignInFailed => "sign_in_failed",
            AuditOp::SignOut => "sign_out",
        }
    }

    pub fn parse(s: &str) -> Option<AuditOp> {
        AuditOp::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

/// What an audit entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSubject {
    Resource(Kind),
    Token,
    Invitation,
    /// A session (sign-in, sign-out, revocation), keyed by its id; a failed sign-in is
    /// keyed by the e-mail typed.
    Session,
}

impl AuditSubject {
    /// The stored (and published) name: the kind, `token`, `invitation` or `session`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSubject::Resource(kind) => kind.as_str(),
            AuditSubject::Token => "token",
            AuditSubject::Invitation => "invitation",
            AuditSubject::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<AuditSubject> {
        match s {
            "token" => Some(AuditSubject::Token),
            "invitation" => Some(AuditSubject::Invitation),
            "session" => Some(AuditSubject::Session),
            _ => Kind::parse(s).map(AuditSubject::Resource),
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub revision: i64,
    pub token_id: String,
    pub op: AuditOp,
    pub subject: AuditSubject,
    pub key: String,
    pub tenant: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub change_set: Option<String>,
    pub commit: Option<String>,
}

/// Who wrote, for audit entries written alongside a change that is not a resource.
#[derive(Debug, Clone)]
pub struct AuditCtx {
    pub revision: i64,
    pub token_id: String,
    pub change_set: Option<String>,
    pub commit: Option<String>,
}

/// An audit entry to insert (the id is allocated at insert); `before` and `after` are JSON
/// text.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub op: AuditOp,
    pub subject: AuditSubject,
    pub key: String,
    pub tenant: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Db {
    /// Audit entries visible through `tenant` (None: all), newest first, ids below `before`.
    pub async fn audit_page(
        &self,
        tenant: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let before = before.unwrap_or(i64::MAX);
        let q = if tenant.is_some() {
            "SELECT id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha FROM audit WHERE id < $1 AND tenant = $3 ORDER BY id DESC LIMIT $2"
        } else {
            "SELECT id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2"
        };
        let rows = dispatch!(self, p => {
            let mut query = sqlx::query(q).bind(before).bind(limit);
            if let Some(t) = tenant {
                query = query.bind(t);
            }
            let rows = query.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let id: i64 = r.try_get("id")?;
                let corrupt = |message: String| StoreError::corrupt(format!("audit entry {id}"), message);
                let op: String = r.try_get("op")?;
                let op = AuditOp::parse(&op).ok_or_else(|| corrupt(format!("unknown op `{op}`")))?;
                let kind: String = r.try_get("kind")?;
                let subject = AuditSubject::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?;
                let json = |column: &str, text: Option<String>| -> Result<Option<serde_json::Value>, StoreError> {
                    text.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("`{column}`: {e}")))).transpose()
                };
                out.push(AuditRow {
                    id, at: r.try_get("at")?, revision: r.try_get("revision")?, token_id: r.try_get("token_id")?,
                    op, subject, key: r.try_get("rkey")?, tenant: r.try_get("tenant")?,
                    before: json("before_json", r.try_get("before_json")?)?, after: json("after_json", r.try_get("after_json")?)?,
                    change_set: r.try_get("change_set")?, commit: r.try_get("commit_sha")?,
                });
            }
            out
        });
        Ok(rows)
    }
}

impl Db {
    /// Appends audit entries on their own (a failed sign-in changes nothing else).
    pub async fn append_audit(
        &self,
        ctx: &AuditCtx,
        entries: &[NewAudit],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.audit(Some((ctx, entries))).await?;
        tx.commit().await
    }
}

impl Tx {
    /// Appends the audit entries of a change that is not a resource, if any.
    pub(super) async fn audit(
        &mut self,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        match audit {
            Some((ctx, entries)) => {
                self.insert_audit(
                    ctx.revision,
                    &ctx.token_id,
                    entries,
                    ctx.change_set.as_deref(),
                    ctx.commit.as_deref(),
                )
                .await
            }
            None => Ok(()),
        }
    }

    /// Appends audit entries, allocating their ids from `meta.audit_seq`.
    pub async fn insert_audit(
        &mut self,
        revision: i64,
        token_id: &str,
        entries: &[NewAudit],
        change_set: Option<&str>,
        commit: Option<&str>,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let n = entries.len() as i64;
        let last: i64 = dispatch_tx!(self, t => sqlx::query_scalar::<_, i64>("UPDATE meta SET audit_seq = audit_seq + $1 WHERE id = 1 RETURNING audit_seq").bind(n).fetch_one(&mut **t).await?);
        let first = last - n + 1;
        let now = now();
        let sqlite = self.is_sqlite();
        let chunks = entries.chunks(CHUNK).enumerate();
        dispatch_tx!(self, t => pipelined!(&mut **t, chunks, |(c, chunk): (usize, &[NewAudit])| {
            let q = format!(
                "{} INTO audit (id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha) VALUES {}", insert_verb(sqlite),
                placeholders(chunk.len(), 12, sqlite, 0)
            );
            let mut query = sqlx::query(sql(q));
            for (i, e) in chunk.iter().enumerate() {
                let id = first + (c * CHUNK + i) as i64;
                query = query.bind(id).bind(now.as_str()).bind(revision).bind(token_id).bind(e.op.as_str()).bind(e.subject.as_str())
                    .bind(e.key.as_str()).bind(e.tenant.as_deref()).bind(e.before.as_deref()).bind(e.after.as_deref())
                    .bind(change_set).bind(commit);
            }
            query
        }));
        Ok(())
    }
}
