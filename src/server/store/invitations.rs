//! The `invitations` table: invitations into a tenant, pending until accepted (the write
//! that creates the membership marks its invitation accepted in the same transaction).

use sqlx::Row;

use super::{now, AuditCtx, Db, NewAudit, StoreError, Tx};

/// Whether an invitation was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
}

impl InvitationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
        }
    }

    pub fn parse(s: &str) -> Option<InvitationStatus> {
        match s {
            "pending" => Some(InvitationStatus::Pending),
            "accepted" => Some(InvitationStatus::Accepted),
            _ => None,
        }
    }
}

/// An invitation as stored.
#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub tenant: String,
    pub role: String,
    pub workspaces: Vec<String>,
    pub message: Option<String>,
    pub status: InvitationStatus,
    pub invited_by: String,
    pub created_at: String,
    pub accepted_at: Option<String>,
}

fn invitation_from_row<R: Row>(r: &R) -> Result<InvitationRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get("id")?;
    let corrupt = |message: String| StoreError::corrupt(format!("invitation `{id}`"), message);
    let ws: String = r.try_get("workspaces")?;
    let workspaces =
        serde_json::from_str(&ws).map_err(|e| corrupt(format!("`workspaces`: {e}")))?;
    let status: String = r.try_get("status")?;
    let status = InvitationStatus::parse(&status)
        .ok_or_else(|| corrupt(format!("unknown status `{status}`")))?;
    Ok(InvitationRow {
        email: r.try_get("email")?,
        tenant: r.try_get("tenant")?,
        role: r.try_get("role")?,
        workspaces,
        message: r.try_get("message")?,
        status,
        invited_by: r.try_get("invited_by")?,
        created_at: r.try_get("created_at")?,
        accepted_at: r.try_get("accepted_at")?,
        id,
    })
}

impl Db {
    /// Inserts invitations and their audit entries, in one transaction.
    pub async fn insert_invitations(
        &self,
        rows: &[InvitationRow],
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => {
            for r in rows {
                let ws = serde_json::Value::from(r.workspaces.clone()).to_string();
                sqlx::query("INSERT INTO invitations (id, email, tenant, role, workspaces, message, status, invited_by, created_at, accepted_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
                    .bind(&r.id).bind(&r.email).bind(&r.tenant).bind(&r.role).bind(ws).bind(&r.message).bind(r.status.as_str())
                    .bind(&r.invited_by).bind(&r.created_at).bind(&r.accepted_at)
                    .execute(&mut **t).await?;
            }
        });
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// Invitations of `tenant` (None: all), oldest first.
    pub async fn invitations(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        let q = if tenant.is_some() {
            "SELECT * FROM invitations WHERE tenant = $1 ORDER BY created_at, id"
        } else {
            "SELECT * FROM invitations ORDER BY created_at, id"
        };
        let rows = dispatch!(self, p => {
            let mut query = sqlx::query(q);
            if let Some(t) = tenant {
                query = query.bind(t);
            }
            let rows = query.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(invitation_from_row(&r)?);
            }
            out
        });
        Ok(rows)
    }

    /// One invitation.
    pub async fn invitation(&self, id: &str) -> Result<Option<InvitationRow>, StoreError> {
        let row = dispatch!(self, p => {
            match sqlx::query("SELECT * FROM invitations WHERE id = $1").bind(id).fetch_optional(p).await? {
                Some(r) => Some(invitation_from_row(&r)?),
                None => None,
            }
        });
        Ok(row)
    }
}

impl Tx {
    /// Marks a pending invitation accepted (inside the write that creates its membership);
    /// false if it is not pending (any more).
    pub async fn accept_invitation(&mut self, id: &str) -> Result<bool, StoreError> {
        let now = now();
        let n = dispatch_tx!(self, t => sqlx::query("UPDATE invitations SET status = $1, accepted_at = $2 WHERE id = $3 AND status = $4")
            .bind(InvitationStatus::Accepted.as_str()).bind(&now).bind(id).bind(InvitationStatus::Pending.as_str())
            .execute(&mut **t).await?.rows_affected());
        Ok(n == 1)
    }
}
