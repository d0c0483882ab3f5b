//! The `resources` table: every resource of the ten kinds, its JSON body as text and its
//! bookkeeping (version, managed, protected, timestamps).

use std::collections::HashMap;

use sqlx::Row;

use crate::model::{keys, AnySpec, Kind, Meta, State};

use super::{insert_verb, now, placeholders, sql, Db, StoreError, Tx, CHUNK, PG_CHUNK};

/// A row to upsert into `resources`.
pub struct ResourceRow<'a> {
    pub kind: Kind,
    pub key: &'a str,
    pub meta: Meta,
    pub body: String,
}

/// A stored resource's kind and spec, from its `kind` and `body` columns.
pub(super) fn parse_resource(
    kind_s: &str,
    key: String,
    body: &str,
) -> Result<(Kind, String, AnySpec), StoreError> {
    let corrupt =
        |message: String| StoreError::corrupt(format!("resource `{kind_s}/{key}`"), message);
    let kind = Kind::parse(kind_s).ok_or_else(|| corrupt("unknown kind".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
    let spec = AnySpec::from_value(kind, value).map_err(|e| corrupt(e.to_string()))?;
    Ok((kind, key, spec))
}

impl Db {
    /// Creation times of the users, by e-mail.
    pub async fn user_created(&self) -> Result<HashMap<String, String>, StoreError> {
        let rows = dispatch!(self, p => {
            let rows = sqlx::query("SELECT rkey, created_at FROM resources WHERE kind = 'user'").fetch_all(p).await?;
            let mut out = HashMap::with_capacity(rows.len());
            for r in rows {
                out.insert(r.try_get::<String, _>("rkey")?, r.try_get::<String, _>("created_at")?);
            }
            out
        });
        Ok(rows)
    }
}

impl Tx {
    /// Loads every resource and the revision, inside this transaction.
    pub async fn load_state(&mut self) -> Result<State, StoreError> {
        let mut state = State::default();
        dispatch_tx!(self, t => {
            state.revision = sqlx::query_scalar::<_, i64>("SELECT revision FROM meta WHERE id = 1").fetch_one(&mut **t).await?;
            let rows = sqlx::query("SELECT kind, rkey, body, version, managed, protected FROM resources").fetch_all(&mut **t).await?;
            for r in rows {
                let kind_s: String = r.try_get("kind")?;
                let body: String = r.try_get("body")?;
                let (_, key, spec) = parse_resource(&kind_s, r.try_get("rkey")?, &body)?;
                let meta = Meta { version: r.try_get("version")?, managed: r.try_get("managed")?, protected: r.try_get("protected")? };
                state.insert(key, meta, spec);
            }
        });
        Ok(state)
    }

    /// Upserts the resources `keys`, each serialised by `row` (its bookkeeping and body; None
    /// is an error) as
    /// its statement is built, so while the statement before runs rather than all before the
    /// first. Multi-row statements; on PostgreSQL from one array per column (`UNNEST`), which
    /// took the resources insert of `large`'s apply from empty from 5.9 to 4.6 s (the same
    /// for audit rows gained nothing and was not kept).
    pub async fn upsert<'a, F>(
        &mut self,
        keys: &[(Kind, &'a str)],
        row: F,
    ) -> Result<(), StoreError>
    where
        F: Fn(Kind, &'a str) -> Result<Option<(Meta, String)>, serde_json::Error>,
    {
        let now = now();
        let sqlite = self.is_sqlite();
        let rows = |chunk: &[(Kind, &'a str)]| {
            chunk
                .iter()
                .map(|&(kind, key)| {
                    let what = || format!("resource `{kind}/{key}` to write");
                    let (meta, body) = row(kind, key)
                        .map_err(|e| StoreError::corrupt(what(), e.to_string()))?
                        .ok_or_else(|| StoreError::corrupt(what(), "it is not in the state"))?;
                    Ok(ResourceRow {
                        kind,
                        key,
                        meta,
                        body,
                    })
                })
                .collect::<Result<Vec<ResourceRow<'a>>, StoreError>>()
        };
        match self {
            Tx::Postgres(t) => {
                // One array per column: a statement of thousands of rows without thousands of
                // parameters to parse and bind.
                pipelined!(&mut **t, keys.chunks(PG_CHUNK).map(rows), |chunk: Vec<ResourceRow<'a>>| {
                    let kinds: Vec<&str> = chunk.iter().map(|r| r.kind.as_str()).collect();
                    let rkeys: Vec<&str> = chunk.iter().map(|r| r.key).collect();
                    let tenants: Vec<Option<&str>> = chunk
                        .iter()
                        .map(|r| keys::tenant_of(r.kind, r.key))
                        .collect();
                    let versions: Vec<i64> = chunk.iter().map(|r| r.meta.version).collect();
                    let managed: Vec<bool> = chunk.iter().map(|r| r.meta.managed).collect();
                    let protected: Vec<bool> = chunk.iter().map(|r| r.meta.protected).collect();
                    let bodies: Vec<String> = chunk.into_iter().map(|r| r.body).collect();
                    sqlx::query(
                        "INSERT INTO resources (kind, rkey, tenant, body, version, managed, protected, created_at, updated_at) \
                         SELECT k, r, t, b, v, m, p, $8, $8 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::boolean[], $7::boolean[]) AS u(k, r, t, b, v, m, p) \
                         ON CONFLICT (kind, rkey) DO UPDATE SET tenant = excluded.tenant, body = excluded.body, version = excluded.version, \
                         managed = excluded.managed, protected = excluded.protected, updated_at = excluded.updated_at",
                    )
                    .bind(kinds).bind(rkeys).bind(tenants).bind(bodies).bind(versions).bind(managed).bind(protected).bind(now.clone())
                }; try);
            }
            Tx::Sqlite(t) => {
                let text = |n: usize| {
                    format!(
                        "{} INTO resources (kind, rkey, tenant, body, version, managed, protected, created_at, updated_at) VALUES {} \
                         ON CONFLICT (kind, rkey) DO UPDATE SET tenant = excluded.tenant, body = excluded.body, version = excluded.version, \
                         managed = excluded.managed, protected = excluded.protected, updated_at = excluded.updated_at",
                        insert_verb(sqlite),
                        placeholders(n, 9, sqlite, 0)
                    )
                };
                pipelined!(&mut **t, keys.chunks(CHUNK).map(rows), |chunk: Vec<ResourceRow<'a>>| {
                    let mut query = sqlx::query(sql(text(chunk.len())));
                    for r in chunk {
                        query = query.bind(r.kind.as_str()).bind(r.key).bind(keys::tenant_of(r.kind, r.key)).bind(r.body)
                            .bind(r.meta.version).bind(r.meta.managed).bind(r.meta.protected).bind(now.as_str()).bind(now.as_str());
                    }
                    query
                }; try);
            }
        }
        Ok(())
    }

    /// Deletes resources of one kind.
    pub async fn delete(&mut self, kind: Kind, keys: &[&str]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CHUNK) {
            let sqlite = self.is_sqlite();
            let list = placeholders(1, chunk.len(), sqlite, 1);
            let first = if sqlite { "?" } else { "$1" };
            let q = format!("DELETE FROM resources WHERE kind = {first} AND rkey IN {list}");
            dispatch_tx!(self, t => {
                let mut query = sqlx::query(sql(q)).bind(kind.as_str());
                for k in chunk {
                    query = query.bind(*k);
                }
                query.execute(&mut **t).await?;
            });
        }
        Ok(())
    }
}
