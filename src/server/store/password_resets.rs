//! The `password_resets` table: one-time reset links by the hash of their secret, with
//! their expiry and when they were used.

use sqlx::Row;

use super::{now, AuditCtx, Db, NewAudit, StoreError, Tx};

/// What redeeming a password reset found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The reset was valid and is now used; the user's e-mail.
    Ok(String),
    Unknown,
    Used,
    Expired,
}

impl Db {
    /// Stores a password reset by the hash of its secret, and its audit entries, in one
    /// transaction.
    pub async fn insert_password_reset(
        &self,
        id: &str,
        email: &str,
        hash: &str,
        expires_at: &str,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let now = now();
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO password_resets (id, email, hash, created_at, expires_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(id).bind(email).bind(hash).bind(&now).bind(expires_at).execute(&mut **t).await.map(|_| ())?);
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// Marks the password reset whose secret hashes to `hash` as used, once.
    pub async fn redeem_password_reset(&self, hash: &str) -> Result<Redeemed, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<(String, String, String, Option<String>)> = dispatch_tx!(&mut tx, t => {
            match sqlx::query("SELECT id, email, expires_at, used_at FROM password_resets WHERE hash = $1").bind(hash).fetch_optional(&mut **t).await? {
                Some(r) => Some((r.try_get("id")?, r.try_get("email")?, r.try_get("expires_at")?, r.try_get("used_at")?)),
                None => None,
            }
        });
        let Some((id, email, expires_at, used_at)) = row else {
            tx.rollback().await?;
            return Ok(Redeemed::Unknown);
        };
        if used_at.is_some() {
            tx.rollback().await?;
            return Ok(Redeemed::Used);
        }
        let rfc = &time::format_description::well_known::Rfc3339;
        let expires = match time::OffsetDateTime::parse(&expires_at, rfc) {
            Ok(t) => t,
            Err(e) => {
                tx.rollback().await?;
                return Err(StoreError::corrupt(
                    format!("password reset `{id}`"),
                    format!("`expires_at` `{expires_at}`: {e}"),
                ));
            }
        };
        if expires <= time::OffsetDateTime::now_utc() {
            tx.rollback().await?;
            return Ok(Redeemed::Expired);
        }
        let now = now();
        let n = dispatch_tx!(&mut tx, t => sqlx::query("UPDATE password_resets SET used_at = $1 WHERE hash = $2 AND used_at IS NULL")
            .bind(&now).bind(hash).execute(&mut **t).await?.rows_affected());
        tx.commit().await?;
        Ok(if n == 1 {
            Redeemed::Ok(email)
        } else {
            Redeemed::Used
        })
    }
}
