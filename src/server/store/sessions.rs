//! The `sessions` table: sign-ins by the SHA-256 hash of their secret, with the user, the
//! tenant they act in (none: the system, for a super_admin), a sliding idle expiry, a
//! maximum, and when and why they ended. Ending sessions — one, or every session of some
//! users — is here, once: sign-out, revocation, blocking, deletion and password resets all
//! call [`Db::end_session`], [`Db::end_sessions_of`] or [`Tx::end_sessions_of`].

use sqlx::Row;

use super::{AuditCtx, AuditOp, AuditSubject, Db, NewAudit, StoreError, Tx};

/// A stored session (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// `ses_…`: what the API and the audit log name it by.
    pub id: String,
    pub email: String,
    /// The tenant it acts in; `None`: the system (a super_admin's session).
    pub tenant: Option<String>,
    /// The client address that signed in.
    pub address: Option<String>,
    pub created_ms: i64,
    pub life: SessionLife,
}

/// When a session stops working (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLife {
    /// The last request seen (moves at most once a minute).
    pub last_seen_ms: i64,
    /// How long it lives without a request.
    pub idle_ms: i64,
    /// When it ends whatever happens (the maximum).
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl SessionLife {
    /// When it stops working unless a request comes first (and unless revoked).
    pub fn ends_ms(&self) -> i64 {
        (self.last_seen_ms.saturating_add(self.idle_ms)).min(self.expires_ms)
    }
}

/// `last_seen_ms` moves at most this often (a request does not write every time).
pub const SLIDE_EVERY_MS: i64 = 60_000;

const COLUMNS: &str =
    "id, email, tenant, address, created_ms, last_seen_ms, idle_ms, expires_ms, revoked_ms";

fn session_from_row<R: Row>(r: &R) -> Result<SessionRow, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SessionRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        tenant: r.try_get("tenant")?,
        address: r.try_get("address")?,
        created_ms: r.try_get("created_ms")?,
        life: SessionLife {
            last_seen_ms: r.try_get("last_seen_ms")?,
            idle_ms: r.try_get("idle_ms")?,
            expires_ms: r.try_get("expires_ms")?,
            revoked_ms: r.try_get("revoked_ms")?,
        },
    })
}

/// What ending one session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Ended now: its row as it was.
    Now(SessionRow),
    /// It had ended already (nothing changed).
    Already(SessionRow),
    /// No session has this id (for this user, when one was given).
    Missing,
}

impl Db {
    /// Stores a new session by the SHA-256 hash of its secret, with its audit entries, in
    /// one transaction.
    pub async fn insert_session(
        &self,
        row: &SessionRow,
        hash: &str,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO sessions (id, hash, email, tenant, address, created_ms, last_seen_ms, idle_ms, expires_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)")
            .bind(&row.id).bind(hash).bind(&row.email).bind(&row.tenant).bind(&row.address)
            .bind(row.created_ms).bind(row.life.last_seen_ms).bind(row.life.idle_ms).bind(row.life.expires_ms)
            .execute(&mut **t).await.map(|_| ())?);
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// The session whose secret hashes to `hash` (one indexed read: every request with a
    /// session makes it, so that an ended session is refused at once on every process).
    pub async fn session_by_hash(&self, hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let q = format!("SELECT {COLUMNS} FROM sessions WHERE hash = $1");
        Ok(dispatch!(self, p => {
            match sqlx::query(super::sql(q)).bind(hash).fetch_optional(p).await? {
                Some(r) => Some(session_from_row(&r)?),
                None => None,
            }
        }))
    }

    /// One session by id.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let q = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
        Ok(dispatch!(self, p => {
            match sqlx::query(super::sql(q)).bind(id).fetch_optional(p).await? {
                Some(r) => Some(session_from_row(&r)?),
                None => None,
            }
        }))
    }

    /// Every session of `email`, newest first, ended ones included.
    pub async fn sessions_of(&self, email: &str) -> Result<Vec<SessionRow>, StoreError> {
        let q =
            format!("SELECT {COLUMNS} FROM sessions WHERE email = $1 ORDER BY created_ms DESC, id");
        Ok(dispatch!(self, p => {
            let rows = sqlx::query(super::sql(q)).bind(email).fetch_all(p).await?;
            rows.iter().map(session_from_row).collect::<Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Records a request on session `id` at `now_ms`: slides its idle expiry, at most once a
    /// minute (checked in the database, so several processes agree). True if it moved.
    pub async fn slide_session(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let n = dispatch!(self, p => sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id = $2 AND revoked_ms IS NULL AND last_seen_ms <= $3")
            .bind(now_ms).bind(id).bind(now_ms - SLIDE_EVERY_MS).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Ends session `id` (of `email`, when given: another user's session is
    /// [`Ended::Missing`]) with the reason `why`, and its audit entries when it ended now,
    /// in one transaction.
    pub async fn end_session(
        &self,
        id: &str,
        email: Option<&str>,
        why: &str,
        now_ms: i64,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<Ended, StoreError> {
        let mut tx = self.begin().await?;
        let n = dispatch_tx!(&mut tx, t => sqlx::query("UPDATE sessions SET revoked_ms = $1, revoked_why = $2 WHERE id = $3 AND revoked_ms IS NULL")
            .bind(now_ms).bind(why).bind(id).execute(&mut **t).await?.rows_affected());
        let q = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
        let row = dispatch_tx!(&mut tx, t => match sqlx::query(super::sql(q)).bind(id).fetch_optional(&mut **t).await? {
            Some(r) => Some(session_from_row(&r)?),
            None => None,
        });
        let out = match row {
            Some(r) if email.is_some_and(|e| e != r.email) => {
                tx.rollback().await?;
                return Ok(Ended::Missing);
            }
            None => Ended::Missing,
            Some(r) if n == 1 => {
                tx.audit(audit).await?;
                Ended::Now(r)
            }
            Some(r) => Ended::Already(r),
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Ends every working session of the users `emails` with the reason `why` (e.g.
    /// `revoked`, `password_reset`), with a `revoke` audit entry per ended session written
    /// as `audit` says, in one transaction; returns the ended sessions. See
    /// [`Tx::end_sessions_of`] to end them inside another write's transaction.
    pub async fn end_sessions_of(
        &self,
        emails: &[&str],
        why: &str,
        now_ms: i64,
        audit: Option<&AuditCtx>,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let mut tx = self.begin().await?;
        let out = tx.end_sessions_of(emails, why, now_ms).await?;
        if let Some(ctx) = audit {
            let entries: Vec<NewAudit> = out.iter().map(|r| ended_audit(r, why)).collect();
            tx.audit(Some((ctx, &entries))).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// The audit entry of session `row` ended for the reason `why` (`revoke` of a `session`,
/// under its tenant so that the tenant's administrators read it).
pub fn ended_audit(row: &SessionRow, why: &str) -> NewAudit {
    NewAudit {
        op: AuditOp::Revoke,
        subject: AuditSubject::Session,
        key: row.id.clone(),
        tenant: row.tenant.clone(),
        before: None,
        after: Some(serde_json::json!({ "user": row.email, "reason": why }).to_string()),
    }
}

impl Tx {
    /// Ends every working session of the users `emails` with the reason `why`, in this
    /// transaction (a block, a deletion or a password reset ends them with the write that
    /// causes it); returns the ended sessions.
    pub async fn end_sessions_of(
        &mut self,
        emails: &[&str],
        why: &str,
        now_ms: i64,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let mut out = Vec::new();
        for e in emails {
            let q = format!(
                "UPDATE sessions SET revoked_ms = $1, revoked_why = $2 WHERE email = $3 AND revoked_ms IS NULL AND expires_ms > $1 AND last_seen_ms + idle_ms > $1 RETURNING {COLUMNS}"
            );
            dispatch_tx!(self, t => {
                let rows = sqlx::query(super::sql(q)).bind(now_ms).bind(why).bind(*e).fetch_all(&mut **t).await?;
                for r in &rows {
                    out.push(session_from_row(r)?);
                }
            });
        }
        Ok(out)
    }
}
