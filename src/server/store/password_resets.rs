//! The `password_resets` table: one-time reset links by the hash of their secret, with
//! where they came from (`origin`), their expiry and when they were used. A link sent by
//! e-mail gets its secret when the e-mail is sent (only its hash is stored, as for
//! invitations); until then its hash is `unsent:ID`. Redeeming is one conditional `UPDATE …
//! WHERE used_at IS NULL RETURNING`, the first statement of its transaction, so two
//! redeems of one link cannot both succeed and SQLite never has to upgrade a read lock.

use sqlx::Row;

use super::outbox::KIND_PASSWORD_RESET;
use super::sessions::ended_audit;
use super::{
    now, now_ms, placeholders, sql, AuditCtx, Db, NewAudit, NewMail, StoreError, Tx, CHUNK,
};

/// Why the sessions a reset ends were ended (the `reason` of their audit entries).
pub const SESSIONS_ENDED_BY_RESET: &str = "password_reset";

/// The outbox `seq` of a reset e-mail sent after an incident (its text says why); 0 for
/// one the user asked for.
pub const RESET_SEQ_INCIDENT: i64 = 1;

/// Where a reset link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetOrigin {
    /// Handed to an administrator, to pass on through a secure channel (seed 001).
    Admin,
    /// Asked for by the user, sent by e-mail.
    Request,
    /// "Change all passwords" after an incident, sent by e-mail.
    Incident,
}

impl ResetOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetOrigin::Admin => "admin",
            ResetOrigin::Request => "request",
            ResetOrigin::Incident => "incident",
        }
    }
}

/// A reset link to store.
#[derive(Debug, Clone)]
pub struct NewReset {
    pub id: String,
    pub email: String,
    /// The hash of its secret; `None` for a link sent by e-mail (its secret is made when
    /// the e-mail is sent).
    pub hash: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
    pub origin: ResetOrigin,
    /// The recipient's language, for the e-mail (unused without one).
    pub language: String,
}

/// A stored reset link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRow {
    pub id: String,
    pub email: String,
    pub expires_at: String,
    pub used_at: Option<String>,
}

impl ResetRow {
    /// Whether it expired at `now`; a stored time that does not parse is corrupt.
    pub fn expired(&self, now: time::OffsetDateTime) -> Result<bool, StoreError> {
        let rfc = &time::format_description::well_known::Rfc3339;
        let expires = time::OffsetDateTime::parse(&self.expires_at, rfc).map_err(|e| {
            StoreError::corrupt(
                format!("password reset `{}`", self.id),
                format!("`expires_at` `{}`: {e}", self.expires_at),
            )
        })?;
        Ok(expires <= now)
    }
}

/// What redeeming a password reset found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The reset was valid and is now used, the password set and the user's sessions
    /// ended: the user's e-mail, how many sessions ended.
    Ok(String, usize),
    Unknown,
    Used,
    Expired,
}

fn reset_from_row<R: Row>(r: &R) -> Result<ResetRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ResetRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    })
}

impl Tx {
    /// Counts one more reset request under `key` in the window that began after
    /// `since_ms` (a new window if it began before): the count and when the window began.
    /// One upsert, so that requests at once count one after another.
    async fn count_reset_request(
        &mut self,
        key: &str,
        since_ms: i64,
    ) -> Result<(i64, i64), StoreError> {
        let now = now_ms();
        Ok(dispatch_tx!(self, t => {
            let r = sqlx::query(
                "INSERT INTO reset_requests (rkey, window_ms, n) VALUES ($1, $2, 1) \
                 ON CONFLICT (rkey) DO UPDATE SET \
                 n = CASE WHEN reset_requests.window_ms < $3 THEN 1 ELSE reset_requests.n + 1 END, \
                 window_ms = CASE WHEN reset_requests.window_ms < $3 THEN $2 ELSE reset_requests.window_ms END \
                 RETURNING n, window_ms")
                .bind(key).bind(now).bind(since_ms).fetch_one(&mut **t).await?;
            (r.try_get::<i64, _>("n")?, r.try_get::<i64, _>("window_ms")?)
        }))
    }

    /// Inserts reset links; those without a hash are queued as e-mail. The caller's
    /// transaction must already have written (see the module).
    async fn insert_resets(&mut self, resets: &[NewReset]) -> Result<(), StoreError> {
        let now = now();
        let ms = now_ms();
        for chunk in resets.chunks(CHUNK / 7) {
            let q = format!(
                "INSERT INTO password_resets (id, email, hash, created_at, expires_at, origin, created_ms) VALUES {}",
                placeholders(chunk.len(), 7, self.is_sqlite(), 0)
            );
            dispatch_tx!(self, t => {
                let mut query = sqlx::query(sql(q));
                for r in chunk {
                    let hash = r.hash.clone().unwrap_or_else(|| format!("unsent:{}", r.id));
                    query = query.bind(&r.id).bind(&r.email).bind(hash).bind(&now).bind(&r.expires_at).bind(r.origin.as_str()).bind(ms);
                }
                query.execute(&mut **t).await?;
            });
        }
        let mails: Vec<NewMail> = resets
            .iter()
            .filter(|r| r.hash.is_none())
            .map(|r| NewMail {
                kind: KIND_PASSWORD_RESET,
                reference: r.id.clone(),
                seq: if r.origin == ResetOrigin::Incident {
                    RESET_SEQ_INCIDENT
                } else {
                    0
                },
                recipient: r.email.clone(),
                language: r.language.clone(),
            })
            .collect();
        self.enqueue_mail(&mails).await
    }

    /// Ends the unused links of `emails` (a redeemed link ends the others; so does "change
    /// all passwords").
    async fn end_unused_resets(&mut self, emails: &[String]) -> Result<(), StoreError> {
        let now = now();
        for chunk in emails.chunks(CHUNK) {
            let q = format!(
                "UPDATE password_resets SET used_at = {} WHERE used_at IS NULL AND email IN ({})",
                if self.is_sqlite() { "?" } else { "$1" },
                in_list(chunk.len(), self.is_sqlite(), 1)
            );
            dispatch_tx!(self, t => {
                let mut query = sqlx::query(sql(q)).bind(&now);
                for e in chunk {
                    query = query.bind(e);
                }
                query.execute(&mut **t).await?;
            });
        }
        Ok(())
    }
}

/// `?,?,…` (SQLite) or `$N,…` after `offset` (PostgreSQL).
fn in_list(n: usize, sqlite: bool, offset: usize) -> String {
    (0..n)
        .map(|i| {
            if sqlite {
                "?".to_string()
            } else {
                format!("${}", offset + i + 1)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Db {
    /// Stores an administrator's reset link (its hash) and its audit entries, in one
    /// transaction.
    pub async fn insert_password_reset(
        &self,
        reset: &NewReset,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.insert_resets(std::slice::from_ref(reset)).await?;
        tx.audit(audit).await?;
        tx.commit().await
    }

    /// Stores a link the user asked for and queues its e-mail, unless `max` links were
    /// asked for `reset.email` in the window that began after `since_ms` (then nothing is
    /// stored: false). The count is one upserted row, the transaction's first statement, so
    /// requests at once count one after another.
    pub async fn request_password_reset(
        &self,
        reset: &NewReset,
        since_ms: i64,
        max: i64,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let (asked, _) = tx
            .count_reset_request(&format!("email:{}", reset.email), since_ms)
            .await?;
        if asked > max {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.insert_resets(std::slice::from_ref(reset)).await?;
        tx.audit(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Counts a reset request from client address `client` in the window that began after
    /// `since_ms`; `Some(ms)` to wait when it is over `max` (the count is kept), `None` when
    /// it may go on.
    pub async fn reset_request_from(
        &self,
        client: &str,
        since_ms: i64,
        max: i64,
        window_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let (n, began) = tx
            .count_reset_request(&format!("client:{client}"), since_ms)
            .await?;
        tx.commit().await?;
        Ok((n > max).then(|| began + window_ms - now_ms()))
    }

    /// "Change all passwords": ends every session of `users` and the unused links of
    /// `resets`' users, stores a new link for each and queues its e-mail, with the audit
    /// entries (one per ended session besides `audit`'s), in one transaction. Returns how
    /// many sessions ended.
    pub async fn reset_all_passwords(
        &self,
        users: &[&str],
        resets: &[NewReset],
        audit: (&AuditCtx, &[NewAudit]),
    ) -> Result<usize, StoreError> {
        let emails: Vec<String> = resets.iter().map(|r| r.email.clone()).collect();
        let mut tx = self.begin().await?;
        let ended = tx
            .end_sessions_of(users, SESSIONS_ENDED_BY_RESET, now_ms())
            .await?;
        tx.end_unused_resets(&emails).await?;
        tx.insert_resets(resets).await?;
        let mut entries = audit.1.to_vec();
        entries.extend(
            ended
                .iter()
                .map(|r| ended_audit(r, SESSIONS_ENDED_BY_RESET)),
        );
        tx.audit(Some((audit.0, &entries))).await?;
        tx.commit().await?;
        Ok(ended.len())
    }

    /// The reset link whose secret hashes to `hash`.
    pub async fn password_reset_by_hash(&self, hash: &str) -> Result<Option<ResetRow>, StoreError> {
        Ok(dispatch!(self, p => {
            match sqlx::query("SELECT id, email, expires_at, used_at FROM password_resets WHERE hash = $1").bind(hash).fetch_optional(p).await? {
                Some(r) => Some(reset_from_row(&r)?),
                None => None,
            }
        }))
    }

    /// The reset link `id`.
    pub async fn password_reset(&self, id: &str) -> Result<Option<ResetRow>, StoreError> {
        Ok(dispatch!(self, p => {
            match sqlx::query("SELECT id, email, expires_at, used_at FROM password_resets WHERE id = $1").bind(id).fetch_optional(p).await? {
                Some(r) => Some(reset_from_row(&r)?),
                None => None,
            }
        }))
    }

    /// Gives the unused link `id` the secret whose hash is `hash` (when its e-mail is
    /// sent); false if it was used meanwhile.
    pub async fn set_password_reset_link(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let n = dispatch!(self, p => sqlx::query("UPDATE password_resets SET hash = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(hash).bind(id).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Redeems the link whose secret hashes to `hash`, once: marks it used (a conditional
    /// update, so of two redeems at once one wins), ends the user's other unused links and
    /// every session, sets the password hash and makes the account active, with the audit
    /// entries (one per ended session besides `audit`'s) — in one transaction.
    pub async fn redeem_password_reset(
        &self,
        hash: &str,
        password_hash: &str,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<Redeemed, StoreError> {
        let now = now();
        let mut tx = self.begin().await?;
        let won: Option<ResetRow> = dispatch_tx!(&mut tx, t => {
            match sqlx::query("UPDATE password_resets SET used_at = $1 WHERE hash = $2 AND used_at IS NULL RETURNING id, email, expires_at, used_at")
                .bind(&now).bind(hash).fetch_optional(&mut **t).await? {
                Some(r) => Some(reset_from_row(&r)?),
                None => None,
            }
        });
        let Some(row) = won else {
            tx.rollback().await?;
            return Ok(match self.password_reset_by_hash(hash).await? {
                Some(_) => Redeemed::Used,
                None => Redeemed::Unknown,
            });
        };
        if row.expired(time::OffsetDateTime::now_utc())? {
            tx.rollback().await?;
            return Ok(Redeemed::Expired);
        }
        tx.end_unused_resets(std::slice::from_ref(&row.email))
            .await?;
        tx.activate_account(&row.email, password_hash).await?;
        let ended = tx
            .end_sessions_of(&[row.email.as_str()], SESSIONS_ENDED_BY_RESET, now_ms())
            .await?;
        if let Some((ctx, entries)) = audit {
            let mut entries = entries.to_vec();
            entries.extend(
                ended
                    .iter()
                    .map(|r| ended_audit(r, SESSIONS_ENDED_BY_RESET)),
            );
            tx.audit(Some((ctx, &entries))).await?;
        }
        tx.commit().await?;
        Ok(Redeemed::Ok(row.email, ended.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many redeems of one link at once on SQLite, straight at the store (no password
    /// hashing to spread them out): one wins, the others find it used, none fails with
    /// `database is locked`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_redeems_on_sqlite_win_once_and_never_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        for round in 0..10 {
            let hash = format!("h{round}");
            let reset = NewReset {
                id: format!("pwr_{round}"),
                email: "a@b.example".into(),
                hash: Some(hash.clone()),
                expires_at: "2999-01-01T00:00:00Z".into(),
                origin: ResetOrigin::Admin,
                language: String::new(),
            };
            db.insert_password_reset(&reset, None).await.unwrap();
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let (db, hash) = (db.clone(), hash.clone());
                set.spawn(
                    async move { db.redeem_password_reset(&hash, "$argon2id$x", None).await },
                );
            }
            let mut won = 0;
            for r in set.join_all().await {
                match r.unwrap() {
                    Redeemed::Ok(e, _) => {
                        assert_eq!(e, "a@b.example");
                        won += 1;
                    }
                    Redeemed::Used => {}
                    other => panic!("round {round}: {other:?}"),
                }
            }
            assert_eq!(won, 1, "round {round}");
        }
    }

    /// Requests for one address at once, on SQLite: exactly `max` are stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn requests_at_once_store_exactly_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..10 {
            let db = db.clone();
            set.spawn(async move {
                let reset = NewReset {
                    id: format!("pwr_{i}"),
                    email: "a@b.example".into(),
                    hash: None,
                    expires_at: "2999-01-01T00:00:00Z".into(),
                    origin: ResetOrigin::Request,
                    language: "en".into(),
                };
                db.request_password_reset(&reset, now_ms() - 60_000, 3, None)
                    .await
                    .unwrap()
            });
        }
        let stored = set.join_all().await.into_iter().filter(|s| *s).count();
        assert_eq!(stored, 3);
        assert_eq!(db.outbox().await.unwrap().len(), 3);
    }
}
