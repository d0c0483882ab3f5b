//! The `user_accounts` table: the platform's side of each user, beside the declared spec
//! (never diffed by the plan, never exported): the argon2id password hash, when the user was
//! created, invited and activated, and when last active. A user is pending until activated.

use std::collections::HashMap;

use sqlx::Row;

use super::{insert_verb, now, now_ms, placeholders, sql, Db, StoreError, Tx, CHUNK};

/// A user's account as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountRow {
    pub email: String,
    pub password_hash: Option<String>,
    pub created_at: String,
    pub invited_at: Option<String>,
    pub activated_at: Option<String>,
    pub last_active_ms: Option<i64>,
}

/// `last_active_ms` moves at most this often per user.
pub const LAST_ACTIVE_EVERY_MS: i64 = 60_000;

fn account_from_row<R: Row>(r: &R) -> Result<AccountRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(AccountRow {
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        invited_at: r.try_get("invited_at")?,
        activated_at: r.try_get("activated_at")?,
        last_active_ms: r.try_get("last_active_ms")?,
    })
}

impl Db {
    /// Every account, by e-mail.
    pub async fn accounts(&self) -> Result<HashMap<String, AccountRow>, StoreError> {
        Ok(dispatch!(self, p => {
            let rows = sqlx::query("SELECT * FROM user_accounts").fetch_all(p).await?;
            let mut out = HashMap::with_capacity(rows.len());
            for r in &rows {
                let a = account_from_row(r)?;
                out.insert(a.email.clone(), a);
            }
            out
        }))
    }

    /// One user's account.
    pub async fn account(&self, email: &str) -> Result<Option<AccountRow>, StoreError> {
        Ok(dispatch!(self, p => {
            match sqlx::query("SELECT * FROM user_accounts WHERE email = $1").bind(email).fetch_optional(p).await? {
                Some(r) => Some(account_from_row(&r)?),
                None => None,
            }
        }))
    }

    /// Records that `email` was active now, unless it was within the last minute (checked
    /// in the database, so several `serve` processes agree). True if it moved.
    pub async fn touch_last_active(&self, email: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let n = dispatch!(self, p => sqlx::query("UPDATE user_accounts SET last_active_ms = $1 WHERE email = $2 AND (last_active_ms IS NULL OR last_active_ms <= $3)")
            .bind(now).bind(email).bind(now - LAST_ACTIVE_EVERY_MS).execute(p).await?.rows_affected());
        Ok(n == 1)
    }
}

impl Tx {
    /// Creates the pending accounts of users a write created, invited now.
    pub async fn insert_accounts(&mut self, emails: &[&str]) -> Result<(), StoreError> {
        let now = now();
        let sqlite = self.is_sqlite();
        dispatch_tx!(self, t => pipelined!(&mut **t, emails.chunks(CHUNK), |chunk: &[&str]| {
            let q = format!(
                "{} INTO user_accounts (email, created_at, invited_at) VALUES {} ON CONFLICT (email) DO NOTHING", insert_verb(sqlite),
                placeholders(chunk.len(), 3, sqlite, 0)
            );
            let mut query = sqlx::query(sql(q));
            for e in chunk {
                query = query.bind(*e).bind(&now).bind(&now);
            }
            query
        }));
        Ok(())
    }

    /// Removes the accounts of deleted users.
    pub async fn delete_accounts(&mut self, emails: &[&str]) -> Result<(), StoreError> {
        for e in emails {
            dispatch_tx!(self, t => sqlx::query("DELETE FROM user_accounts WHERE email = $1").bind(*e).execute(&mut **t).await.map(|_| ())?);
        }
        Ok(())
    }

    /// Sets `email`'s password hash and makes the account active (the one place a user
    /// becomes active: an accepted invitation, a redeemed reset link; creates the account
    /// if missing). Keeps the first activation time.
    pub async fn activate_account(
        &mut self,
        email: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let now = now();
        dispatch_tx!(self, t => sqlx::query("INSERT INTO user_accounts (email, password_hash, created_at, activated_at) VALUES ($1,$2,$3,$3) ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, activated_at = COALESCE(user_accounts.activated_at, excluded.activated_at)")
            .bind(email).bind(password_hash).bind(&now).execute(&mut **t).await.map(|_| ())?);
        Ok(())
    }
}

/// The time `ms` (milliseconds since the Unix epoch) as RFC 3339 text.
pub fn ms_to_rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
