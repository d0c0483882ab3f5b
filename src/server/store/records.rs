//! The `records` table: the entries of a register, created within the tenant's records
//! limit under the tenant's lock (see `registries.rs`).

use serde_json::{Map, Value};
use sqlx::Row;

use super::registries::{Changed, Counter, Created};
use super::{now, Db, StoreError, Tx};

/// A record as stored, its fields parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    pub id: String,
    pub tenant: String,
    pub workspace: String,
    pub registry: String,
    pub title: String,
    pub fields: Map<String, Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A record to create: where, and its content.
#[derive(Debug, Clone)]
pub struct NewRecord<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub workspace: &'a str,
    pub registry: &'a str,
    pub title: &'a str,
    pub fields: &'a Map<String, Value>,
}

const RECORD_COLUMNS: &str =
    "id, tenant, workspace, registry, title, fields, version, created_at, updated_at";

/// A `records` row of either backend as a [`RecordRow`] (its `fields` must be an object).
macro_rules! record_row {
    ($r:expr) => {{
        let r = $r;
        let id: String = r.try_get("id")?;
        let text: String = r.try_get("fields")?;
        Ok::<_, StoreError>(RecordRow {
            fields: parse_fields(&id, &text)?,
            tenant: r.try_get("tenant")?,
            workspace: r.try_get("workspace")?,
            registry: r.try_get("registry")?,
            title: r.try_get("title")?,
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            id,
        })
    }};
}

fn parse_fields(id: &str, text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::corrupt(
            format!("record `{id}`"),
            "`fields` is not a JSON object",
        )),
        Err(e) => Err(StoreError::corrupt(format!("record `{id}`"), e.to_string())),
    }
}

impl Db {
    /// Creates a record in a register, within the tenant's effective limit of records.
    pub async fn create_record(
        &self,
        new: &NewRecord<'_>,
    ) -> Result<Created<RecordRow>, StoreError> {
        let mut tx = self.begin().await?;
        tx.lock_tenant(new.tenant).await?;
        if tx
            .registry_in(new.tenant, new.workspace, new.registry)
            .await?
            .is_none()
        {
            tx.rollback().await?;
            return Ok(Created::NoParent);
        }
        if let Err(refused) = tx.take_one(new.tenant, Counter::Records).await? {
            tx.rollback().await?;
            return Ok(refused);
        }
        let at = now();
        let fields = Value::Object(new.fields.clone()).to_string();
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO records (id, tenant, workspace, registry, title, fields, version, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,1,$7,$7)")
            .bind(new.id).bind(new.tenant).bind(new.workspace).bind(new.registry).bind(new.title).bind(&fields).bind(&at)
            .execute(&mut **t).await.map(|_| ())?);
        tx.commit().await?;
        Ok(Created::Created(RecordRow {
            id: new.id.to_string(),
            tenant: new.tenant.to_string(),
            workspace: new.workspace.to_string(),
            registry: new.registry.to_string(),
            title: new.title.to_string(),
            fields: new.fields.clone(),
            version: 1,
            created_at: at.clone(),
            updated_at: at,
        }))
    }

    /// Record `id` of a register.
    pub async fn record(
        &self,
        registry: (&str, &str, &str),
        id: &str,
    ) -> Result<Option<RecordRow>, StoreError> {
        let (tenant, workspace, key) = registry;
        let q = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE id = $1 AND tenant = $2 AND workspace = $3 AND registry = $4"
        );
        dispatch!(self, p => sqlx::query(super::sql(q)).bind(id).bind(tenant).bind(workspace).bind(key)
            .fetch_optional(p).await?.map(|r| record_row!(&r)).transpose())
    }

    /// Up to `limit` records of a register after id `after`, by id (creation order).
    pub async fn records_page(
        &self,
        registry: (&str, &str, &str),
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let (tenant, workspace, key) = registry;
        let q = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE tenant = $1 AND workspace = $2 AND registry = $3 AND id > $4 ORDER BY id LIMIT $5"
        );
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        dispatch!(self, p => sqlx::query(super::sql(q)).bind(tenant).bind(workspace).bind(key).bind(after.unwrap_or("")).bind(n)
            .fetch_all(p).await?.iter().map(|r| record_row!(r)).collect())
    }

    /// Sets a record's title and fields, if its version is `if_version` (when given).
    pub async fn update_record(
        &self,
        registry: (&str, &str, &str),
        id: &str,
        title: &str,
        fields: &Map<String, Value>,
        if_version: Option<i64>,
    ) -> Result<Changed<RecordRow>, StoreError> {
        if self.record(registry, id).await?.is_none() {
            return Ok(Changed::Missing);
        }
        let at = now();
        let text = Value::Object(fields.clone()).to_string();
        let n = match if_version {
            Some(v) => {
                dispatch!(self, p => sqlx::query("UPDATE records SET title = $1, fields = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5")
                .bind(title).bind(&text).bind(&at).bind(id).bind(v).execute(p).await?.rows_affected())
            }
            None => {
                dispatch!(self, p => sqlx::query("UPDATE records SET title = $1, fields = $2, version = version + 1, updated_at = $3 WHERE id = $4")
                .bind(title).bind(&text).bind(&at).bind(id).execute(p).await?.rows_affected())
            }
        };
        let after = self.record(registry, id).await?;
        Ok(match after {
            None => Changed::Missing,
            Some(r) if n == 1 => Changed::Done(r),
            Some(r) => Changed::Stale(r.version),
        })
    }

    /// Deletes a record, if its version is `if_version` (when given).
    pub async fn delete_record(
        &self,
        registry: (&str, &str, &str),
        id: &str,
        if_version: Option<i64>,
    ) -> Result<Changed<()>, StoreError> {
        let (tenant, workspace, key) = registry;
        let mut tx = self.begin().await?;
        tx.lock_tenant(tenant).await?;
        let current: Option<i64> = dispatch_tx!(&mut tx, t => sqlx::query_scalar::<_, i64>("SELECT version FROM records WHERE id = $1 AND tenant = $2 AND workspace = $3 AND registry = $4")
            .bind(id).bind(tenant).bind(workspace).bind(key).fetch_optional(&mut **t).await?);
        let Some(version) = current else {
            tx.rollback().await?;
            return Ok(Changed::Missing);
        };
        if if_version.is_some_and(|v| v != version) {
            tx.rollback().await?;
            return Ok(Changed::Stale(version));
        }
        dispatch_tx!(&mut tx, t => sqlx::query("DELETE FROM records WHERE id = $1").bind(id).execute(&mut **t).await.map(|_| ())?);
        tx.give_back(tenant, Counter::Records, 1).await?;
        tx.commit().await?;
        Ok(Changed::Done(()))
    }
}
