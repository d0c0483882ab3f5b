//! The `invitations` and `invitation_tenants` tables: an invitation is one e-mail, one link
//! (only the SHA-256 of its secret is stored, replaced on resend) and the tenants it names.
//! One pending invitation per e-mail and tenant is a unique index, so two simultaneous
//! invitations produce one. A pending invitation past its expiry reads as expired.

use std::collections::BTreeMap;

use sqlx::Row;

use super::outbox::NewMail;
use super::{
    insert_verb, now, now_ms, placeholders, sql, AuditCtx, Db, NewAudit, StoreError, Tx, CHUNK,
};

/// Where an invitation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl InvitationStatus {
    /// The stored (and published) name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<InvitationStatus> {
        match s {
            "pending" => Some(InvitationStatus::Pending),
            "accepted" => Some(InvitationStatus::Accepted),
            "expired" => Some(InvitationStatus::Expired),
            "revoked" => Some(InvitationStatus::Revoked),
            _ => None,
        }
    }
}

/// Why an invitation exists: sent through `POST /invitations` (accepting creates the user
/// and memberships that are missing) or for a user a write created (accepting activates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Invite,
    User,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Invite => "invite",
            Origin::User => "user",
        }
    }

    fn parse(s: &str) -> Option<Origin> {
        match s {
            "invite" => Some(Origin::Invite),
            "user" => Some(Origin::User),
            _ => None,
        }
    }
}

/// A tenant an invitation names, with what the invitee gets there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitedTenant {
    pub tenant: String,
    pub role: String,
    pub workspaces: Vec<String>,
}

/// An invitation as stored (`status` as stored: see [`InvitationRow::status_at`]).
#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub origin: Origin,
    /// The language of its e-mail (`en`, `fr`, `ja`).
    pub language: String,
    pub message: Option<String>,
    pub status: InvitationStatus,
    /// How many links it had (the current link's number).
    pub link_seq: i64,
    pub invited_by: String,
    pub created_at: String,
    pub expires_ms: i64,
    pub accepted_at: Option<String>,
    pub revoked_at: Option<String>,
    pub tenants: Vec<InvitedTenant>,
}

impl InvitationRow {
    /// The status at `now_ms`: a pending invitation past its expiry is expired.
    pub fn status_at(&self, now_ms: i64) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if self.expires_ms <= now_ms => InvitationStatus::Expired,
            s => s,
        }
    }
}

/// What accepting found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// No invitation has this link (never, or replaced by a resend).
    Unknown,
    Usable,
    Expired,
    /// Accepted or revoked.
    Closed(InvitationStatus),
}

const SELECT: &str = "SELECT i.id, i.email, i.origin, i.language, i.message, i.status, i.link_seq, i.invited_by, i.created_at, i.expires_ms, i.accepted_at, i.revoked_at, t.tenant, t.role, t.workspaces FROM invitations i LEFT JOIN invitation_tenants t ON t.invitation_id = i.id";

fn rows_to_invitations<R: Row>(rows: Vec<R>) -> Result<Vec<InvitationRow>, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let mut out: Vec<InvitationRow> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let corrupt = |message: String| StoreError::corrupt(format!("invitation `{id}`"), message);
        // A user's invitation may name no tenant (the LEFT JOIN gives NULLs).
        let tenant = match r.try_get::<Option<String>, _>("tenant")? {
            Some(tenant) => {
                let ws: Option<String> = r.try_get("workspaces")?;
                let workspaces: Vec<String> = serde_json::from_str(ws.as_deref().unwrap_or("[]"))
                    .map_err(|e| corrupt(format!("`workspaces`: {e}")))?;
                let role: Option<String> = r.try_get("role")?;
                Some(InvitedTenant {
                    tenant,
                    role: role.unwrap_or_default(),
                    workspaces,
                })
            }
            None => None,
        };
        if let Some(&i) = index.get(&id) {
            out[i].tenants.extend(tenant);
            continue;
        }
        let status: String = r.try_get("status")?;
        let status = InvitationStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("unknown status `{status}`")))?;
        let origin: String = r.try_get("origin")?;
        let origin =
            Origin::parse(&origin).ok_or_else(|| corrupt(format!("unknown origin `{origin}`")))?;
        index.insert(id.clone(), out.len());
        out.push(InvitationRow {
            email: r.try_get("email")?,
            origin,
            language: r.try_get("language")?,
            message: r.try_get("message")?,
            status,
            link_seq: r.try_get("link_seq")?,
            invited_by: r.try_get("invited_by")?,
            created_at: r.try_get("created_at")?,
            expires_ms: r.try_get("expires_ms")?,
            accepted_at: r.try_get("accepted_at")?,
            revoked_at: r.try_get("revoked_at")?,
            tenants: tenant.into_iter().collect(),
            id,
        });
    }
    Ok(out)
}

impl Db {
    /// Inserts invitations with their e-mails and audit entries, in one transaction. If one
    /// of them names an e-mail and tenant that already has a pending invitation, nothing is
    /// written and that (e-mail, tenant) is returned.
    pub async fn insert_invitations(
        &self,
        rows: &[InvitationRow],
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let mut tx = self.begin().await?;
        tx.expire_invitations().await?;
        for r in rows {
            if let Some(dup) = tx.insert_invitation(r, true).await? {
                tx.rollback().await?;
                return Ok(Some(dup));
            }
        }
        let mails: Vec<NewMail> = rows.iter().map(NewMail::invitation).collect();
        tx.enqueue_mail(&mails).await?;
        tx.audit(audit).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Invitations that name `tenant` (None: all), oldest first; with a tenant, only that
    /// tenant of each is listed.
    pub async fn invitations(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        let q = if tenant.is_some() {
            format!("{SELECT} WHERE t.tenant = $1 ORDER BY i.created_at, i.id, t.tenant")
        } else {
            format!("{SELECT} ORDER BY i.created_at, i.id, t.tenant")
        };
        Ok(dispatch!(self, p => {
            let mut query = sqlx::query(sql(q));
            if let Some(t) = tenant {
                query = query.bind(t);
            }
            rows_to_invitations(query.fetch_all(p).await?)?
        }))
    }

    /// The invitations of the e-mail `email`, oldest first, whole.
    pub async fn invitations_of(&self, email: &str) -> Result<Vec<InvitationRow>, StoreError> {
        let q = format!("{SELECT} WHERE i.email = $1 ORDER BY i.created_at, i.id, t.tenant");
        Ok(
            dispatch!(self, p => rows_to_invitations(sqlx::query(sql(q)).bind(email).fetch_all(p).await?)?),
        )
    }

    /// One invitation, whole.
    pub async fn invitation(&self, id: &str) -> Result<Option<InvitationRow>, StoreError> {
        let q = format!("{SELECT} WHERE i.id = $1 ORDER BY t.tenant");
        Ok(dispatch!(self, p => {
            rows_to_invitations(sqlx::query(sql(q)).bind(id).fetch_all(p).await?)?.into_iter().next()
        }))
    }

    /// The invitation whose current link's secret hashes to `hash`, and what state it is in.
    pub async fn invitation_by_link(
        &self,
        hash: &str,
    ) -> Result<(LinkState, Option<InvitationRow>), StoreError> {
        let q = format!("{SELECT} WHERE i.token_hash = $1 ORDER BY t.tenant");
        let row = dispatch!(self, p => {
            rows_to_invitations(sqlx::query(sql(q)).bind(hash).fetch_all(p).await?)?.into_iter().next()
        });
        let Some(row) = row else {
            return Ok((LinkState::Unknown, None));
        };
        let state = match row.status_at(now_ms()) {
            InvitationStatus::Pending => LinkState::Usable,
            InvitationStatus::Expired => LinkState::Expired,
            s => LinkState::Closed(s),
        };
        Ok((state, Some(row)))
    }

    /// Gives invitation `id` a new link: the old one stops working at once, the expiry is
    /// renewed and an e-mail is queued. False if it is accepted or revoked; `Err(dup)` if
    /// an expired invitation cannot be pending again because another one is.
    pub async fn resend_invitation(
        &self,
        id: &str,
        expires_ms: i64,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<Result<bool, (String, String)>, StoreError> {
        let mut tx = self.begin().await?;
        tx.expire_invitations().await?;
        let n = dispatch_tx!(&mut tx, t => sqlx::query("UPDATE invitations SET link_seq = link_seq + 1, token_hash = NULL, expires_ms = $1, status = 'pending' WHERE id = $2 AND status IN ('pending', 'expired')")
            .bind(expires_ms).bind(id).execute(&mut **t).await?.rows_affected());
        if n != 1 {
            tx.rollback().await?;
            return Ok(Ok(false));
        }
        let reopened = dispatch_tx!(&mut tx, t => sqlx::query("UPDATE invitation_tenants SET status = 'pending' WHERE invitation_id = $1 AND status = 'expired'")
            .bind(id).execute(&mut **t).await.map(|_| ()));
        if let Err(e) = reopened {
            if is_unique_violation(&e) {
                tx.rollback().await?;
                let row = self.invitation(id).await?;
                let dup = row
                    .map(|r| {
                        (
                            r.email,
                            r.tenants
                                .first()
                                .map(|t| t.tenant.clone())
                                .unwrap_or_default(),
                        )
                    })
                    .unwrap_or_default();
                return Ok(Err(dup));
            }
            return Err(e.into());
        }
        let q = format!("{SELECT} WHERE i.id = $1 ORDER BY t.tenant");
        let row = dispatch_tx!(&mut tx, t => rows_to_invitations(sqlx::query(sql(q)).bind(id).fetch_all(&mut **t).await?)?.into_iter().next());
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Ok(false));
        };
        tx.cancel_mail_for(&row.id).await?;
        tx.enqueue_mail(&[NewMail::invitation(&row)]).await?;
        tx.audit(audit).await?;
        tx.commit().await?;
        Ok(Ok(true))
    }

    /// Revokes invitation `id` (its link stops working, its unsent e-mail is dropped).
    /// False if it is not pending (or expired).
    pub async fn revoke_invitation(
        &self,
        id: &str,
        audit: Option<(&AuditCtx, &[NewAudit])>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let n = tx.close_invitations("i.id = $2", id).await?;
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.audit(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores the hash of the new link of invitation `id`, if `seq` is still its current
    /// link and it is pending: the sender does this just before it sends the link.
    pub async fn set_invitation_link(
        &self,
        id: &str,
        seq: i64,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let n = dispatch!(self, p => sqlx::query("UPDATE invitations SET token_hash = $1 WHERE id = $2 AND link_seq = $3 AND status = 'pending' AND expires_ms > $4")
            .bind(hash).bind(id).bind(seq).bind(now_ms()).execute(p).await?.rows_affected());
        Ok(n == 1)
    }
}

/// Whether a database error is a unique constraint violation.
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl Tx {
    /// Marks pending invitations past their expiry expired (so that the unique index lets
    /// a new invitation of the same e-mail and tenant in).
    async fn expire_invitations(&mut self) -> Result<(), StoreError> {
        let now = now_ms();
        dispatch_tx!(self, t => {
            sqlx::query("UPDATE invitation_tenants SET status = 'expired' WHERE status = 'pending' AND invitation_id IN (SELECT id FROM invitations WHERE status = 'pending' AND expires_ms <= $1)")
                .bind(now).execute(&mut **t).await?;
            sqlx::query("UPDATE invitations SET status = 'expired' WHERE status = 'pending' AND expires_ms <= $1")
                .bind(now).execute(&mut **t).await?;
        });
        Ok(())
    }

    /// Inserts one invitation and its tenants. With `exclusive`, a tenant that already has
    /// a pending invitation for the e-mail makes it return that (e-mail, tenant) (the
    /// caller rolls back); without, such a tenant is left out of this invitation.
    pub(super) async fn insert_invitation(
        &mut self,
        r: &InvitationRow,
        exclusive: bool,
    ) -> Result<Option<(String, String)>, StoreError> {
        dispatch_tx!(self, t => sqlx::query("INSERT INTO invitations (id, email, origin, language, message, status, token_hash, link_seq, invited_by, created_at, expires_ms, accepted_at, revoked_at) VALUES ($1,$2,$3,$4,$5,$6,NULL,$7,$8,$9,$10,NULL,NULL)")
            .bind(&r.id).bind(&r.email).bind(r.origin.as_str()).bind(&r.language).bind(&r.message).bind(r.status.as_str())
            .bind(r.link_seq).bind(&r.invited_by).bind(&r.created_at).bind(r.expires_ms)
            .execute(&mut **t).await.map(|_| ())?);
        for it in &r.tenants {
            let ws = serde_json::Value::from(it.workspaces.clone()).to_string();
            let n = dispatch_tx!(self, t => sqlx::query("INSERT INTO invitation_tenants (invitation_id, email, tenant, role, workspaces, status) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING")
                .bind(&r.id).bind(&r.email).bind(&it.tenant).bind(&it.role).bind(ws).bind(r.status.as_str())
                .execute(&mut **t).await?.rows_affected());
            if n == 0 && exclusive {
                return Ok(Some((r.email.clone(), it.tenant.clone())));
            }
        }
        Ok(None)
    }

    /// Inserts the invitations of users a write created (tenants already pending for the
    /// e-mail are left out), in chunks.
    pub async fn insert_user_invitations(
        &mut self,
        rows: &[InvitationRow],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.expire_invitations().await?;
        // In id order: the ids are random, and a bulk create (an apply from empty of
        // 100,000 users) inserting them in key order appends to the indexes instead of
        // touching a random page of them per row.
        let mut rows: Vec<&InvitationRow> = rows.iter().collect();
        rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let sqlite = self.is_sqlite();
        dispatch_tx!(self, t => pipelined!(&mut **t, rows.chunks(CHUNK / 2), |chunk: &[&InvitationRow]| {
            let q = format!(
                "{} INTO invitations (id, email, origin, language, message, status, token_hash, link_seq, invited_by, created_at, expires_ms, accepted_at, revoked_at) VALUES {}", insert_verb(sqlite),
                placeholders(chunk.len(), 13, sqlite, 0)
            );
            let mut query = sqlx::query(sql(q));
            for r in chunk {
                query = query.bind(&r.id).bind(&r.email).bind(r.origin.as_str()).bind(&r.language).bind(&r.message).bind(r.status.as_str())
                    .bind(None::<String>).bind(r.link_seq).bind(&r.invited_by).bind(&r.created_at).bind(r.expires_ms)
                    .bind(None::<String>).bind(None::<String>);
            }
            query
        }));
        let tenants: Vec<(&InvitationRow, &InvitedTenant)> = rows
            .iter()
            .flat_map(|r| r.tenants.iter().map(move |t| (*r, t)))
            .collect();
        dispatch_tx!(self, t => pipelined!(&mut **t, tenants.chunks(CHUNK), |chunk: &[(&InvitationRow, &InvitedTenant)]| {
            let q = format!(
                "{} INTO invitation_tenants (invitation_id, email, tenant, role, workspaces, status) VALUES {} ON CONFLICT DO NOTHING", insert_verb(sqlite),
                placeholders(chunk.len(), 6, sqlite, 0)
            );
            let mut query = sqlx::query(sql(q));
            for (r, it) in chunk {
                let ws = serde_json::Value::from(it.workspaces.clone()).to_string();
                query = query.bind(&r.id).bind(&r.email).bind(&it.tenant).bind(&it.role).bind(ws).bind(r.status.as_str());
            }
            query
        }));
        let mails: Vec<NewMail> = rows.iter().map(|r| NewMail::invitation(r)).collect();
        self.enqueue_mail(&mails).await
    }

    /// Revokes the pending invitations matched by `filter` (on `i`, `$2` bound to `arg`),
    /// their tenants and their unsent e-mail; returns how many invitations. Its first
    /// statement writes, so that SQLite takes the write lock at once (a read first could
    /// not be upgraded under a concurrent writer).
    async fn close_invitations(&mut self, filter: &str, arg: &str) -> Result<u64, StoreError> {
        let now = now();
        let q = format!("UPDATE invitations SET status = 'revoked', token_hash = NULL, revoked_at = $1 WHERE id IN (SELECT i.id FROM invitations i WHERE {filter} AND i.status IN ('pending', 'expired')) RETURNING id");
        let ids: Vec<String> = dispatch_tx!(self, t => sqlx::query_scalar::<_, String>(sql(q))
            .bind(&now).bind(arg).fetch_all(&mut **t).await?);
        for id in &ids {
            dispatch_tx!(self, t => sqlx::query("UPDATE invitation_tenants SET status = 'revoked' WHERE invitation_id = $1")
                .bind(id).execute(&mut **t).await.map(|_| ())?);
            self.cancel_mail_for(id).await?;
        }
        Ok(ids.len() as u64)
    }

    /// Revokes the pending invitations of users deleted by a write (their links must not
    /// activate a user of the same e-mail created later).
    pub async fn revoke_user_invitations(&mut self, emails: &[&str]) -> Result<(), StoreError> {
        for e in emails {
            self.close_invitations("i.email = $2 AND i.origin = 'user'", e)
                .await?;
        }
        Ok(())
    }

    /// Marks a pending invitation accepted (inside the write that applies it); false if it
    /// is not pending (any more) or expired.
    pub async fn accept_invitation(&mut self, id: &str) -> Result<bool, StoreError> {
        let now = now();
        let n = dispatch_tx!(self, t => sqlx::query("UPDATE invitations SET status = 'accepted', accepted_at = $1, token_hash = NULL WHERE id = $2 AND status = 'pending' AND expires_ms > $3")
            .bind(&now).bind(id).bind(now_ms())
            .execute(&mut **t).await?.rows_affected());
        if n == 1 {
            dispatch_tx!(self, t => sqlx::query("UPDATE invitation_tenants SET status = 'accepted' WHERE invitation_id = $1")
                .bind(id).execute(&mut **t).await.map(|_| ())?);
        }
        Ok(n == 1)
    }
}
