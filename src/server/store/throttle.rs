//! The `sign_in_throttle` table: failed sign-ins counted per key (an account — any e-mail
//! typed — and a client address), with growing back-off. An attempt is counted *before* its
//! password is checked, in a transaction that holds the rows' locks (an upsert first: the
//! row lock on PostgreSQL, the write lock on SQLite), so that parallel attempts cannot slip
//! past the limit (Zitadel GHSA-7h8m-vrxx-vr4m was a read-then-write here). A success gives
//! its attempt back ([`Db::sign_in_succeeded`]).

use sqlx::Row;

use super::{Db, StoreError, Tx};

/// How failed sign-ins are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failed attempts per account before it is locked.
    pub account_limit: i64,
    /// Failed attempts per client address before it is locked.
    pub address_limit: i64,
    /// The first lock; each further failure doubles it.
    pub base_ms: i64,
    /// The longest lock.
    pub max_ms: i64,
    /// A key with no attempt for this long (and not locked) starts from zero again.
    pub forget_ms: i64,
}

impl Default for ThrottlePolicy {
    /// 10 attempts per account (Auth0 and Clerk), 50 per address; locks of 30 s doubling up
    /// to 15 min; forgotten after an hour without an attempt.
    fn default() -> ThrottlePolicy {
        ThrottlePolicy {
            account_limit: 10,
            address_limit: 50,
            base_ms: 30_000,
            max_ms: 15 * 60_000,
            forget_ms: 60 * 60_000,
        }
    }
}

impl ThrottlePolicy {
    /// The lock after the `failures`-th failure of a key whose limit is `limit`: none below
    /// the limit, then `base`, doubling with each failure, at most `max`.
    pub fn lock_ms(&self, failures: i64, limit: i64) -> i64 {
        if failures < limit {
            return 0;
        }
        let doublings = (failures - limit).min(32) as u32;
        self.base_ms
            .saturating_mul(1i64 << doublings.min(40))
            .min(self.max_ms)
    }
}

/// Whether an attempt may be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted as a failure until it succeeds: check the password. `locks_ms`: the
    /// longest lock this attempt started (0: none), for the security log should it fail.
    Go { locks_ms: i64 },
    /// A key is locked: refuse unchecked; retry after this long.
    Wait { retry_after_ms: i64 },
}

impl Db {
    /// Counts a sign-in attempt against each `(key, limit)` (in this order, the same for
    /// every caller, so that two attempts never wait on each other's rows), or refuses it
    /// unchecked if a key is locked. Atomic: the rows are locked from the first statement to
    /// the commit.
    pub async fn begin_sign_in(
        &self,
        keys: &[(&str, i64)],
        policy: &ThrottlePolicy,
        now_ms: i64,
    ) -> Result<Attempt, StoreError> {
        let mut tx = self.begin().await?;
        let mut seen = Vec::with_capacity(keys.len());
        for (key, _) in keys {
            let (failures, blocked_until, last): (i64, i64, i64) = dispatch_tx!(&mut tx, t => {
                let r = sqlx::query("INSERT INTO sign_in_throttle (key, failures, blocked_until_ms, last_ms) VALUES ($1, 0, 0, $2) ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING failures, blocked_until_ms, last_ms")
                    .bind(*key).bind(now_ms).fetch_one(&mut **t).await?;
                (r.try_get("failures")?, r.try_get("blocked_until_ms")?, r.try_get("last_ms")?)
            });
            seen.push((failures, blocked_until, last));
        }
        let wait = seen
            .iter()
            .filter(|(_, until, _)| *until > now_ms)
            .map(|(_, until, _)| until - now_ms)
            .max();
        if let Some(retry_after_ms) = wait {
            tx.rollback().await?;
            return Ok(Attempt::Wait { retry_after_ms });
        }
        let mut locks_ms = 0;
        for ((key, limit), (failures, _, last)) in keys.iter().zip(seen) {
            let failures = if now_ms - last > policy.forget_ms {
                1
            } else {
                failures + 1
            };
            let lock = policy.lock_ms(failures, *limit);
            locks_ms = locks_ms.max(lock);
            let until = if lock > 0 { now_ms + lock } else { 0 };
            dispatch_tx!(&mut tx, t => sqlx::query("UPDATE sign_in_throttle SET failures = $1, blocked_until_ms = $2, last_ms = $3 WHERE key = $4")
                .bind(failures).bind(until).bind(now_ms).bind(*key).execute(&mut **t).await.map(|_| ())?);
        }
        tx.commit().await?;
        Ok(Attempt::Go { locks_ms })
    }

    /// A sign-in succeeded: its account starts from zero, and its address gets its attempt
    /// back (and is unlocked if that brings it below `address_limit`).
    pub async fn sign_in_succeeded(
        &self,
        account: &str,
        address: &str,
        address_limit: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, t => sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1").bind(account).execute(&mut **t).await.map(|_| ())?);
        dispatch_tx!(&mut tx, t => sqlx::query("UPDATE sign_in_throttle SET failures = failures - 1, blocked_until_ms = CASE WHEN failures - 1 < $2 THEN 0 ELSE blocked_until_ms END WHERE key = $1 AND failures > 0")
            .bind(address).bind(address_limit).execute(&mut **t).await.map(|_| ())?);
        tx.commit().await
    }

    /// Forgets the keys with no attempt since `before_ms` and no lock at `now_ms` (they
    /// would start from zero anyway): the table holds only recent attempts, whatever
    /// e-mails were typed. Returns how many were forgotten.
    pub async fn forget_sign_ins(&self, before_ms: i64, now_ms: i64) -> Result<u64, StoreError> {
        Ok(
            dispatch!(self, p => sqlx::query("DELETE FROM sign_in_throttle WHERE last_ms < $1 AND blocked_until_ms <= $2")
            .bind(before_ms).bind(now_ms).execute(p).await?.rows_affected()),
        )
    }

    /// The failures counted for `key` (0 if none).
    pub async fn sign_in_failures(&self, key: &str) -> Result<i64, StoreError> {
        Ok(
            dispatch!(self, p => sqlx::query_scalar::<_, i64>("SELECT failures FROM sign_in_throttle WHERE key = $1").bind(key).fetch_optional(p).await?.unwrap_or(0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Attempt, Db, ThrottlePolicy};

    /// Attempts at chosen times against one account (limit 3) and one address (limit 100):
    /// the third failure locks for 30 s, attempts during the lock are refused unchecked and
    /// not counted, the next failure after it locks for 60 s, a success clears the account,
    /// and counters with no attempt for `forget_ms` are forgotten.
    #[tokio::test]
    async fn locks_grow_and_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let p = ThrottlePolicy {
            account_limit: 3,
            address_limit: 100,
            ..ThrottlePolicy::default()
        };
        let keys = [("account:a@b.example", 3), ("address:10.0.0.1", 100)];
        let go = |locks_ms| Attempt::Go { locks_ms };
        assert_eq!(db.begin_sign_in(&keys, &p, 0).await.unwrap(), go(0));
        assert_eq!(db.begin_sign_in(&keys, &p, 1).await.unwrap(), go(0));
        assert_eq!(db.begin_sign_in(&keys, &p, 2).await.unwrap(), go(30_000));
        assert_eq!(
            db.begin_sign_in(&keys, &p, 1_002).await.unwrap(),
            Attempt::Wait {
                retry_after_ms: 29_000
            }
        );
        assert_eq!(db.sign_in_failures("account:a@b.example").await.unwrap(), 3);
        assert_eq!(
            db.begin_sign_in(&keys, &p, 30_002).await.unwrap(),
            go(60_000)
        );
        assert!(matches!(
            db.begin_sign_in(&keys, &p, 60_000).await.unwrap(),
            Attempt::Wait { .. }
        ));
        // Right password after the lock: the account starts again, the address keeps 3.
        db.sign_in_succeeded("account:a@b.example", "address:10.0.0.1", 100)
            .await
            .unwrap();
        assert_eq!(db.sign_in_failures("account:a@b.example").await.unwrap(), 0);
        assert_eq!(db.sign_in_failures("address:10.0.0.1").await.unwrap(), 3);
        // Forgotten after an hour without an attempt.
        let later = 30_002 + p.forget_ms + 1;
        assert_eq!(
            db.forget_sign_ins(later - p.forget_ms, later)
                .await
                .unwrap(),
            1
        );
        assert_eq!(db.sign_in_failures("address:10.0.0.1").await.unwrap(), 0);
    }

    #[test]
    fn locks_grow_from_the_limit_and_stop_at_the_maximum() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.lock_ms(9, 10), 0);
        assert_eq!(p.lock_ms(10, 10), 30_000);
        assert_eq!(p.lock_ms(11, 10), 60_000);
        assert_eq!(p.lock_ms(12, 10), 120_000);
        assert_eq!(p.lock_ms(15, 10), 15 * 60_000);
        assert_eq!(p.lock_ms(i64::MAX, 10), 15 * 60_000);
    }
}
