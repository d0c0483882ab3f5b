//! The `outbox` table: e-mail to deliver, queued in the transaction of the write that causes
//! it. A row names what to send (an invitation and its link number), so that it is rendered
//! when it is sent and no secret is ever stored. The sender claims a due row for a while
//! (two `serve` processes never send the same row at once), then marks it sent, or records
//! the error and when to try again.

use sqlx::Row;

use super::invitations::InvitationRow;
use super::{insert_verb, now_ms, placeholders, sql, Db, StoreError, Tx, CHUNK};

/// What an outbox row sends.
pub const KIND_INVITATION: &str = "invitation";
/// What an outbox row sends: a password reset link (`ref` is the reset's id).
pub const KIND_PASSWORD_RESET: &str = "password_reset";

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: &'static str,
    /// The id of what it sends (an invitation).
    pub reference: String,
    /// Which link of it (a resent invitation's older e-mail is dropped).
    pub seq: i64,
    pub recipient: String,
    pub language: String,
}

impl NewMail {
    /// The e-mail of invitation `r`'s current link.
    pub fn invitation(r: &InvitationRow) -> NewMail {
        NewMail {
            kind: KIND_INVITATION,
            reference: r.id.clone(),
            seq: r.link_seq,
            recipient: r.email.clone(),
            language: r.language.clone(),
        }
    }
}

/// A queued message.
#[derive(Debug, Clone)]
pub struct MailRow {
    pub id: String,
    pub kind: String,
    pub reference: String,
    pub seq: i64,
    pub recipient: String,
    pub language: String,
    pub status: String,
    pub attempts: i64,
    pub created_ms: i64,
    pub next_attempt_ms: i64,
    pub sent_ms: Option<i64>,
    pub last_error: Option<String>,
}

fn mail_from_row<R: Row>(r: &R) -> Result<MailRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(MailRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        reference: r.try_get("ref")?,
        seq: r.try_get("seq")?,
        recipient: r.try_get("recipient")?,
        language: r.try_get("language")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        created_ms: r.try_get("created_ms")?,
        next_attempt_ms: r.try_get("next_attempt_ms")?,
        sent_ms: r.try_get("sent_ms")?,
        last_error: r.try_get("last_error")?,
    })
}

/// How many messages wait, and how many were sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub queued: i64,
    pub sent: i64,
}

impl Tx {
    /// Queues messages, due now.
    pub async fn enqueue_mail(&mut self, mails: &[NewMail]) -> Result<(), StoreError> {
        let now = now_ms();
        // In id order (random ids): appended to the primary key's index, not scattered.
        let mut mails: Vec<(String, &NewMail)> = mails
            .iter()
            .map(|m| (format!("mail_{}", uuid::Uuid::new_v4().simple()), m))
            .collect();
        mails.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let sqlite = self.is_sqlite();
        dispatch_tx!(self, t => pipelined!(&mut **t, mails.chunks(CHUNK / 2), |chunk: &[(String, &NewMail)]| {
            let q = format!(
                "{} INTO outbox (id, kind, ref, seq, recipient, language, status, attempts, created_ms, next_attempt_ms, claimed_until_ms) VALUES {}", insert_verb(sqlite),
                placeholders(chunk.len(), 11, sqlite, 0)
            );
            let mut query = sqlx::query(sql(q));
            for (id, m) in chunk {
                query = query.bind(id.as_str()).bind(m.kind).bind(&m.reference).bind(m.seq).bind(&m.recipient).bind(&m.language)
                    .bind("queued").bind(0_i64).bind(now).bind(now).bind(0_i64);
            }
            query
        }));
        Ok(())
    }

    /// Drops the unsent messages about `reference` (a revoked or resent invitation).
    pub async fn cancel_mail_for(&mut self, reference: &str) -> Result<(), StoreError> {
        dispatch_tx!(self, t => sqlx::query("UPDATE outbox SET status = 'cancelled' WHERE ref = $1 AND status = 'queued'")
            .bind(reference).execute(&mut **t).await.map(|_| ())?);
        Ok(())
    }
}

impl Db {
    /// Up to `limit` messages due at `now`, oldest due first.
    pub async fn due_mail(&self, now: i64, limit: i64) -> Result<Vec<MailRow>, StoreError> {
        Ok(dispatch!(self, p => {
            let rows = sqlx::query("SELECT * FROM outbox WHERE status = 'queued' AND next_attempt_ms <= $1 AND claimed_until_ms <= $1 ORDER BY next_attempt_ms, id LIMIT $2")
                .bind(now).bind(limit).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(mail_from_row(r)?);
            }
            out
        }))
    }

    /// Every message, oldest first (for tests and operators).
    pub async fn outbox(&self) -> Result<Vec<MailRow>, StoreError> {
        Ok(dispatch!(self, p => {
            let rows = sqlx::query("SELECT * FROM outbox ORDER BY created_ms, id").fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(mail_from_row(r)?);
            }
            out
        }))
    }

    /// Claims message `id` until `until` if it is still queued and unclaimed at `now`.
    pub async fn claim_mail(&self, id: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let n = dispatch!(self, p => sqlx::query("UPDATE outbox SET claimed_until_ms = $1 WHERE id = $2 AND status = 'queued' AND claimed_until_ms <= $3")
            .bind(until).bind(id).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Marks message `id` delivered.
    pub async fn mail_sent(&self, id: &str, attempts: i64) -> Result<(), StoreError> {
        dispatch!(self, p => sqlx::query("UPDATE outbox SET status = 'sent', sent_ms = $1, attempts = $2, claimed_until_ms = 0, last_error = NULL WHERE id = $3")
            .bind(now_ms()).bind(attempts).bind(id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// Records a failed attempt: the error, and when to try again.
    pub async fn mail_failed(
        &self,
        id: &str,
        attempts: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, p => sqlx::query("UPDATE outbox SET attempts = $1, next_attempt_ms = $2, claimed_until_ms = 0, last_error = $3 WHERE id = $4")
            .bind(attempts).bind(next_attempt_ms).bind(error).bind(id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// Drops message `id` (what it was about is gone: accepted, revoked, resent, expired).
    pub async fn mail_cancelled(&self, id: &str, why: &str) -> Result<(), StoreError> {
        dispatch!(self, p => sqlx::query("UPDATE outbox SET status = 'cancelled', claimed_until_ms = 0, last_error = $1 WHERE id = $2")
            .bind(why).bind(id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// How many messages are queued and sent.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let (queued, sent) = dispatch!(self, p => {
            let q = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE status = 'queued'").fetch_one(p).await?;
            let s = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetch_one(p).await?;
            (q, s)
        });
        Ok(OutboxCounts { queued, sent })
    }
}
