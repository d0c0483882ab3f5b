//! The `tokens` table: API tokens by the SHA-256 hash of their secret, with their scope,
//! role and the user they act as. A token with no role of its own (acting with its user's
//! access whole) stores the empty role `''`.

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

impl Db {
    /// Whether any token exists (a new database has none).
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        let n: i64 = dispatch!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(p).await?);
        Ok(n > 0)
    }

    /// Stores a token by the SHA-256 hash of its secret, and its audit entries, in one
    /// transaction.
    pub async fn insert_token(
        &self,
        row: &TokenRow,
        hash: &str,
        description: Option<&str>,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let now = now();
        let scope = row.scope.to_string();
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO tokens (id, hash, scope, role, user_email, description, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)")
            .bind(&row.id).bind(hash).bind(&scope).bind(row.role.as_deref().unwrap_or("")).bind(&row.user).bind(description).bind(&now)
            .execute(&mut **t).await.map(|_| ())?);
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// The token whose secret hashes to `hash`.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = dispatch!(self, p => {
            let r = sqlx::query("SELECT id, scope, role, user_email FROM tokens WHERE hash = $1").bind(hash).fetch_optional(p).await?;
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
                    Some(TokenRow { id, scope, role, user: r.try_get("user_email")? })
                }
                None => None,
            }
        });
        Ok(row)
    }
}
