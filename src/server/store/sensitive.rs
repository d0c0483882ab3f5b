//! The `sensitive_fields` table: for a resource, the fields of its spec whose value came
//! from `${env:…}` (a JSON pointer and the string as written), so that the audit log never
//! holds their value and `export` can write the placeholder back.

use std::collections::HashMap;

use sqlx::Row;

use crate::api::SensitiveField;
use crate::model::Kind;

use super::{Db, StoreError, Tx};

/// The sensitive fields of every resource that has some, by (kind, key).
pub type SensitiveMap = HashMap<(Kind, String), Vec<SensitiveField>>;

const SELECT: &str =
    "SELECT kind, rkey, pointer, source FROM sensitive_fields ORDER BY kind, rkey, pointer";

fn into_map(rows: Vec<(String, String, String, String)>) -> Result<SensitiveMap, StoreError> {
    let mut out = SensitiveMap::new();
    for (kind, key, pointer, source) in rows {
        let k = Kind::parse(&kind).ok_or_else(|| {
            StoreError::corrupt(
                format!("sensitive field `{kind}/{key}` `{pointer}`"),
                "unknown kind",
            )
        })?;
        out.entry((k, key))
            .or_default()
            .push(SensitiveField { pointer, source });
    }
    Ok(out)
}

impl Db {
    /// Every sensitive field.
    pub async fn sensitive_fields(&self) -> Result<SensitiveMap, StoreError> {
        let rows = dispatch!(self, p => {
            let rows = sqlx::query(SELECT).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("kind")?, r.try_get("rkey")?, r.try_get("pointer")?, r.try_get("source")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        into_map(rows)
    }
}

impl Tx {
    /// Every sensitive field, inside this transaction.
    pub async fn sensitive_fields(&mut self) -> Result<SensitiveMap, StoreError> {
        let rows = dispatch_tx!(self, t => {
            let rows = sqlx::query(SELECT).fetch_all(&mut **t).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("kind")?, r.try_get("rkey")?, r.try_get("pointer")?, r.try_get("source")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        into_map(rows)
    }

    /// Replaces the sensitive fields of `kind/key` by `fields` (none: forgets them).
    pub async fn set_sensitive(
        &mut self,
        kind: Kind,
        key: &str,
        fields: &[SensitiveField],
    ) -> Result<(), StoreError> {
        dispatch_tx!(self, t => {
            sqlx::query("DELETE FROM sensitive_fields WHERE kind = $1 AND rkey = $2")
                .bind(kind.as_str()).bind(key).execute(&mut **t).await?;
            for f in fields {
                sqlx::query("INSERT INTO sensitive_fields (kind, rkey, pointer, source) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (kind, rkey, pointer) DO UPDATE SET source = excluded.source")
                    .bind(kind.as_str()).bind(key).bind(&f.pointer).bind(&f.source)
                    .execute(&mut **t).await?;
            }
        });
        Ok(())
    }
}
