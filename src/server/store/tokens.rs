//! The `tokens` table: API tokens by the SHA-256 hash of their secret, with their scope,
//! role (the empty role `''` for a token with no role of its own, acting with its user's
//! access whole), the user they act as, an optional expiry and the time they were revoked.

use sqlx::Row;

use crate::server::authz::Scope;

use super::{now, AuditCtx, Db, NewAudit, StoreError, Tx};

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub scope: Scope,
    /// The token's own role (built-in or custom), if any.
    pub role: Option<String>,
    pub user: Option<String>,
}

/// When a token stops being valid: its expiry and its revocation (RFC 3339 UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenLife {
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A token as `GET /tokens` lists it (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub id: String,
    pub scope: String,
    pub role: String,
    pub user: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub life: TokenLife,
}

/// The outcome of revoking a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now.
    Now,
    /// It had been revoked at this time already (nothing changed).
    Already(String),
    /// No token has this id.
    Missing,
}

impl Db {
    /// Whether any token exists (a new database has none).
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        let n: i64 = dispatch!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(p).await?);
        Ok(n > 0)
    }

    /// Stores a token by the SHA-256 hash of its secret, with its expiry (RFC 3339 UTC), and
    /// its audit entries, in one transaction.
    pub async fn insert_token(
        &self,
        row: &TokenRow,
        hash: &str,
        description: Option<&str>,
        expires_at: Option<&str>,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let now = now();
        let scope = row.scope.to_string();
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO tokens (id, hash, scope, role, user_email, description, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
            .bind(&row.id).bind(hash).bind(&scope).bind(row.role.as_deref().unwrap_or("")).bind(&row.user).bind(description).bind(&now).bind(expires_at)
            .execute(&mut **t).await.map(|_| ())?);
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// The token whose secret hashes to `hash`, with its expiry and revocation (whoever
    /// authenticates decides what they mean).
    pub async fn token_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(TokenRow, TokenLife)>, StoreError> {
        let row = dispatch!(self, p => {
            let r = sqlx::query("SELECT id, scope, role, user_email, expires_at, revoked_at FROM tokens WHERE hash = $1").bind(hash).fetch_optional(p).await?;
            match r {
                Some(r) => {
                    let id: String = r.try_get("id")?;
                    let corrupt = |message: String| StoreError::corrupt(format!("token `{id}`"), message);
                    let scope: String = r.try_get("scope")?;
                    let scope = Scope::parse(&scope).ok_or_else(|| corrupt(format!("bad scope `{scope}`")))?;
                    let role: String = r.try_get("role")?;
                    let role = match role.as_str() {
                        "" => None,
                        r if crate::rules::is_role_name(r) => Some(role),
                        _ => return Err(corrupt(format!("bad role `{role}`"))),
                    };
                    let life = TokenLife { expires_at: r.try_get("expires_at")?, revoked_at: r.try_get("revoked_at")? };
                    Some((TokenRow { id, scope, role, user: r.try_get("user_email")? }, life))
                }
                None => None,
            }
        });
        Ok(row)
    }

    /// Every token, oldest first, revoked and expired ones included.
    pub async fn list_tokens(&self) -> Result<Vec<TokenEntry>, StoreError> {
        let rows = dispatch!(self, p => {
            let rows = sqlx::query("SELECT id, scope, role, user_email, description, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at, id").fetch_all(p).await?;
            rows.iter().map(|r| Ok(TokenEntry {
                id: r.try_get("id")?,
                scope: r.try_get("scope")?,
                role: r.try_get("role")?,
                user: r.try_get("user_email")?,
                description: r.try_get("description")?,
                created_at: r.try_get("created_at")?,
                life: TokenLife { expires_at: r.try_get("expires_at")?, revoked_at: r.try_get("revoked_at")? },
            })).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Revokes the token `id` (it keeps its row, for the audit log), with its audit entries,
    /// in one transaction. Revoking a revoked token changes nothing.
    pub async fn revoke_token(
        &self,
        id: &str,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<Revoked, StoreError> {
        let now = now();
        let mut tx = self.begin().await?;
        let current: Option<Option<String>> = dispatch_tx!(&mut tx, t => sqlx::query_scalar("SELECT revoked_at FROM tokens WHERE id = $1").bind(id).fetch_optional(&mut **t).await?);
        let out = match current {
            None => Revoked::Missing,
            Some(Some(at)) => Revoked::Already(at),
            Some(None) => {
                dispatch_tx!(&mut tx, t => sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(&now).bind(id).execute(&mut **t).await.map(|_| ())?);
                tx.audit(audit).await?;
                Revoked::Now
            }
        };
        tx.commit().await?;
        Ok(out)
    }
}
