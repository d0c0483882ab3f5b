//! The `registries` and `tenant_usage` tables (records are `records.rs`'s): the registers and records users
//! keep in a workspace (document 001), and each tenant's count of them. Every change of a
//! tenant's data first locks its `tenant_usage` row ([`Tx::lock_tenant`]), so creates,
//! deletes and the deletion of a workspace serialise per tenant on both databases: a create
//! adds one to the count only while it is below the limit, in the transaction that inserts
//! the row, and checks its parent after taking the lock.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::model::{AnySpec, Limits};
use crate::rules::limits;

use super::resources::parse_resource;
use super::{now, Db, StoreError, Tx};

/// A register as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryRow {
    pub tenant: String,
    pub workspace: String,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A tenant's count of registers and records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataUsage {
    pub registries: u64,
    pub records: u64,
}

/// What a create found.
#[derive(Debug, Clone, PartialEq)]
pub enum Created<T> {
    Created(T),
    /// The tenant is at its limit: which, its value and the usage counted.
    Full {
        limit: &'static str,
        value: u32,
        usage: u64,
    },
    /// The workspace (for a register) or the register (for a record) does not exist.
    NoParent,
    /// A register with this key exists in the workspace.
    Exists,
}

/// What an update or a delete found.
#[derive(Debug, Clone, PartialEq)]
pub enum Changed<T> {
    Done(T),
    Missing,
    /// `If-Match` named another version: the current one.
    Stale(i64),
    /// A register that holds records, deleted without cascade: how many.
    NotEmpty(u64),
}

/// Which counter of `tenant_usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counter {
    Registries,
    Records,
}

impl Counter {
    pub(super) fn column(self) -> &'static str {
        match self {
            Counter::Registries => "registries",
            Counter::Records => "records",
        }
    }
}

const REGISTRY_COLUMNS: &str =
    "tenant, workspace, rkey, name, description, version, created_at, updated_at";
/// A `registries` row of either backend as a [`RegistryRow`].
macro_rules! registry_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, StoreError>(RegistryRow {
            tenant: r.try_get("tenant")?,
            workspace: r.try_get("workspace")?,
            key: r.try_get("rkey")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }};
}

pub(super) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Tx {
    /// Locks tenant `tenant`'s usage row (creating it at zero): every change of a tenant's
    /// registers and records, and every deletion of its workspaces, takes it first. The
    /// first statement writes, so SQLite takes its write lock before reading anything.
    pub async fn lock_tenant(&mut self, tenant: &str) -> Result<(), StoreError> {
        dispatch_tx!(self, t => {
            sqlx::query("INSERT INTO tenant_usage (tenant, registries, records) VALUES ($1, 0, 0) ON CONFLICT (tenant) DO NOTHING")
                .bind(tenant).execute(&mut **t).await?;
            sqlx::query("UPDATE tenant_usage SET registries = registries WHERE tenant = $1")
                .bind(tenant).execute(&mut **t).await?;
        });
        Ok(())
    }

    /// The effective limits of tenant `tenant` as committed (its spec and its billing
    /// plan's, read in this transaction, after [`Tx::lock_tenant`]: a write that changes
    /// them has committed or waits); `None` when the tenant does not exist.
    pub async fn effective_limits(&mut self, tenant: &str) -> Result<Option<Limits>, StoreError> {
        let read = "SELECT body FROM resources WHERE kind = $1 AND rkey = $2";
        let t: Option<String> = dispatch_tx!(self, x => sqlx::query_scalar::<_, String>(read).bind("tenant").bind(tenant).fetch_optional(&mut **x).await?);
        let Some(t) = t else { return Ok(None) };
        let AnySpec::Tenant(ts) = parse_resource("tenant", tenant.to_string(), &t)?.2 else {
            return Err(StoreError::corrupt(
                format!("resource `tenant/{tenant}`"),
                "not a tenant",
            ));
        };
        let p: Option<String> = dispatch_tx!(self, x => sqlx::query_scalar::<_, String>(read).bind("plan").bind(&ts.plan).fetch_optional(&mut **x).await?);
        let plan = match p {
            Some(body) => match parse_resource("plan", ts.plan.clone(), &body)?.2 {
                AnySpec::Plan(p) => Some(p),
                _ => None,
            },
            None => None,
        };
        Ok(Some(limits::effective(&ts, plan.as_ref())))
    }

    /// Adds one to `counter` of `tenant` if it stays within the tenant's effective limit,
    /// read after the lock; `Err(Created::Full | NoParent)` otherwise.
    pub(super) async fn take_one<T>(
        &mut self,
        tenant: &str,
        counter: Counter,
    ) -> Result<Result<(), Created<T>>, StoreError> {
        let Some(limits) = self.effective_limits(tenant).await? else {
            return Ok(Err(Created::NoParent));
        };
        let limit = match counter {
            Counter::Registries => limits.registries,
            Counter::Records => limits.records,
        };
        let c = counter.column();
        let n = match limit {
            Some(max) => {
                let q =
                    format!("UPDATE tenant_usage SET {c} = {c} + 1 WHERE tenant = $1 AND {c} < $2");
                dispatch_tx!(self, t => sqlx::query(super::sql(q)).bind(tenant).bind(i64::from(max)).execute(&mut **t).await?.rows_affected())
            }
            None => {
                let q = format!("UPDATE tenant_usage SET {c} = {c} + 1 WHERE tenant = $1");
                dispatch_tx!(self, t => sqlx::query(super::sql(q)).bind(tenant).execute(&mut **t).await?.rows_affected())
            }
        };
        if n == 1 {
            return Ok(Ok(()));
        }
        let q = format!("SELECT {c} FROM tenant_usage WHERE tenant = $1");
        let used: Option<i64> = dispatch_tx!(self, t => sqlx::query_scalar::<_, i64>(super::sql(q)).bind(tenant).fetch_optional(&mut **t).await?);
        Ok(Err(Created::Full {
            limit: c,
            value: limit.unwrap_or(0),
            usage: count(used.unwrap_or(0)),
        }))
    }

    /// Takes `n` off `counter` of `tenant` (what a delete removed).
    pub(super) async fn give_back(
        &mut self,
        tenant: &str,
        counter: Counter,
        n: u64,
    ) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let c = counter.column();
        let q = format!("UPDATE tenant_usage SET {c} = {c} - $1 WHERE tenant = $2");
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        dispatch_tx!(self, t => sqlx::query(super::sql(q)).bind(n).bind(tenant).execute(&mut **t).await.map(|_| ())?);
        Ok(())
    }

    async fn workspace_exists(
        &mut self,
        tenant: &str,
        workspace: &str,
    ) -> Result<bool, StoreError> {
        let key = crate::model::keys::join(&[tenant, workspace]);
        Ok(dispatch_tx!(self, t => sqlx::query_scalar::<_, String>("SELECT rkey FROM resources WHERE kind = 'workspace' AND rkey = $1")
            .bind(&key).fetch_optional(&mut **t).await?).is_some())
    }

    pub(super) async fn registry_in(
        &mut self,
        tenant: &str,
        workspace: &str,
        key: &str,
    ) -> Result<Option<RegistryRow>, StoreError> {
        let q = format!(
            "SELECT {REGISTRY_COLUMNS} FROM registries WHERE tenant = $1 AND workspace = $2 AND rkey = $3"
        );
        dispatch_tx!(self, t => sqlx::query(super::sql(q)).bind(tenant).bind(workspace).bind(key)
            .fetch_optional(&mut **t).await?.map(|r| registry_row!(&r)).transpose())
    }

    /// The number of registers and records in each of `workspaces` of `tenant` that hold
    /// any, by workspace (the tenant is locked by the caller).
    pub async fn workspace_data(
        &mut self,
        tenant: &str,
        workspaces: &[&str],
    ) -> Result<BTreeMap<String, DataUsage>, StoreError> {
        let mut out = BTreeMap::new();
        for w in workspaces {
            let (r, n): (i64, i64) = dispatch_tx!(self, t => {
                let r = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM registries WHERE tenant = $1 AND workspace = $2")
                    .bind(tenant).bind(*w).fetch_one(&mut **t).await?;
                let n = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM records WHERE tenant = $1 AND workspace = $2")
                    .bind(tenant).bind(*w).fetch_one(&mut **t).await?;
                (r, n)
            });
            if r > 0 || n > 0 {
                out.insert(
                    (*w).to_string(),
                    DataUsage {
                        registries: count(r),
                        records: count(n),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Deletes every register and record of workspace `workspace` of `tenant` (a workspace
    /// deleted with `cascade`), and takes them off the tenant's usage.
    pub async fn delete_workspace_data(
        &mut self,
        tenant: &str,
        workspace: &str,
    ) -> Result<(), StoreError> {
        let (r, n) = dispatch_tx!(self, t => {
            let n = sqlx::query("DELETE FROM records WHERE tenant = $1 AND workspace = $2")
                .bind(tenant).bind(workspace).execute(&mut **t).await?.rows_affected();
            let r = sqlx::query("DELETE FROM registries WHERE tenant = $1 AND workspace = $2")
                .bind(tenant).bind(workspace).execute(&mut **t).await?.rows_affected();
            (r, n)
        });
        self.give_back(tenant, Counter::Records, n).await?;
        self.give_back(tenant, Counter::Registries, r).await
    }

    /// Tenant `tenant`'s usage, inside this transaction.
    pub async fn data_usage_of(&mut self, tenant: &str) -> Result<DataUsage, StoreError> {
        let row = dispatch_tx!(self, t => {
            match sqlx::query("SELECT registries, records FROM tenant_usage WHERE tenant = $1").bind(tenant).fetch_optional(&mut **t).await? {
                Some(r) => DataUsage {
                    registries: count(r.try_get("registries")?),
                    records: count(r.try_get("records")?),
                },
                None => DataUsage::default(),
            }
        });
        Ok(row)
    }

    /// Every tenant's usage, inside this transaction.
    pub async fn data_usage(&mut self) -> Result<BTreeMap<String, DataUsage>, StoreError> {
        let rows = dispatch_tx!(self, t => {
            let rows = sqlx::query("SELECT tenant, registries, records FROM tenant_usage").fetch_all(&mut **t).await?;
            let mut out = BTreeMap::new();
            for r in rows {
                out.insert(r.try_get::<String, _>("tenant")?, DataUsage {
                    registries: count(r.try_get("registries")?),
                    records: count(r.try_get("records")?),
                });
            }
            out
        });
        Ok(rows)
    }
}

impl Db {
    /// Every tenant's usage of the registers and records limits.
    pub async fn data_usage(&self) -> Result<BTreeMap<String, DataUsage>, StoreError> {
        let mut tx = self.begin().await?;
        let out = tx.data_usage().await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// Tenant `tenant`'s usage of the registers and records limits.
    pub async fn data_usage_of(&self, tenant: &str) -> Result<DataUsage, StoreError> {
        let mut tx = self.begin().await?;
        let out = tx.data_usage_of(tenant).await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// Creates a register, within the tenant's effective limit of registers.
    pub async fn create_registry(
        &self,
        tenant: &str,
        workspace: &str,
        key: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<Created<RegistryRow>, StoreError> {
        let mut tx = self.begin().await?;
        tx.lock_tenant(tenant).await?;
        if !tx.workspace_exists(tenant, workspace).await? {
            tx.rollback().await?;
            return Ok(Created::NoParent);
        }
        if tx.registry_in(tenant, workspace, key).await?.is_some() {
            tx.rollback().await?;
            return Ok(Created::Exists);
        }
        if let Err(refused) = tx.take_one(tenant, Counter::Registries).await? {
            tx.rollback().await?;
            return Ok(refused);
        }
        let at = now();
        dispatch_tx!(&mut tx, t => sqlx::query("INSERT INTO registries (tenant, workspace, rkey, name, description, version, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,1,$6,$6)")
            .bind(tenant).bind(workspace).bind(key).bind(name).bind(description).bind(&at).execute(&mut **t).await.map(|_| ())?);
        tx.commit().await?;
        Ok(Created::Created(RegistryRow {
            tenant: tenant.to_string(),
            workspace: workspace.to_string(),
            key: key.to_string(),
            name: name.to_string(),
            description: description.map(str::to_string),
            version: 1,
            created_at: at.clone(),
            updated_at: at,
        }))
    }

    /// The register `key` of a workspace.
    pub async fn registry(
        &self,
        tenant: &str,
        workspace: &str,
        key: &str,
    ) -> Result<Option<RegistryRow>, StoreError> {
        let q = format!(
            "SELECT {REGISTRY_COLUMNS} FROM registries WHERE tenant = $1 AND workspace = $2 AND rkey = $3"
        );
        dispatch!(self, p => sqlx::query(super::sql(q)).bind(tenant).bind(workspace).bind(key)
            .fetch_optional(p).await?.map(|r| registry_row!(&r)).transpose())
    }

    /// Up to `limit` registers of a workspace after key `after`, by key.
    pub async fn registries_page(
        &self,
        tenant: &str,
        workspace: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RegistryRow>, StoreError> {
        let q = format!(
            "SELECT {REGISTRY_COLUMNS} FROM registries WHERE tenant = $1 AND workspace = $2 AND rkey > $3 ORDER BY rkey LIMIT $4"
        );
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        dispatch!(self, p => sqlx::query(super::sql(q)).bind(tenant).bind(workspace).bind(after.unwrap_or("")).bind(n)
            .fetch_all(p).await?.iter().map(|r| registry_row!(r)).collect())
    }

    /// Sets a register's name and description, if its version is `if_version` (when given).
    pub async fn update_registry(
        &self,
        current: (&str, &str, &str),
        name: &str,
        description: Option<&str>,
        if_version: Option<i64>,
    ) -> Result<Changed<RegistryRow>, StoreError> {
        let (tenant, workspace, key) = current;
        let mut tx = self.begin().await?;
        tx.lock_tenant(tenant).await?;
        let Some(row) = tx.registry_in(tenant, workspace, key).await? else {
            tx.rollback().await?;
            return Ok(Changed::Missing);
        };
        if if_version.is_some_and(|v| v != row.version) {
            tx.rollback().await?;
            return Ok(Changed::Stale(row.version));
        }
        let at = now();
        dispatch_tx!(&mut tx, t => sqlx::query("UPDATE registries SET name = $1, description = $2, version = version + 1, updated_at = $3 WHERE tenant = $4 AND workspace = $5 AND rkey = $6")
            .bind(name).bind(description).bind(&at).bind(tenant).bind(workspace).bind(key).execute(&mut **t).await.map(|_| ())?);
        tx.commit().await?;
        Ok(Changed::Done(RegistryRow {
            name: name.to_string(),
            description: description.map(str::to_string),
            version: row.version + 1,
            updated_at: at,
            ..row
        }))
    }

    /// Deletes a register; one that holds records only with `cascade` (its records too).
    pub async fn delete_registry(
        &self,
        current: (&str, &str, &str),
        if_version: Option<i64>,
        cascade: bool,
    ) -> Result<Changed<()>, StoreError> {
        let (tenant, workspace, key) = current;
        let mut tx = self.begin().await?;
        tx.lock_tenant(tenant).await?;
        let Some(row) = tx.registry_in(tenant, workspace, key).await? else {
            tx.rollback().await?;
            return Ok(Changed::Missing);
        };
        if if_version.is_some_and(|v| v != row.version) {
            tx.rollback().await?;
            return Ok(Changed::Stale(row.version));
        }
        let held: i64 = dispatch_tx!(&mut tx, t => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM records WHERE tenant = $1 AND workspace = $2 AND registry = $3")
            .bind(tenant).bind(workspace).bind(key).fetch_one(&mut **t).await?);
        if held > 0 && !cascade {
            tx.rollback().await?;
            return Ok(Changed::NotEmpty(count(held)));
        }
        let n = dispatch_tx!(&mut tx, t => {
            let n = sqlx::query("DELETE FROM records WHERE tenant = $1 AND workspace = $2 AND registry = $3")
                .bind(tenant).bind(workspace).bind(key).execute(&mut **t).await?.rows_affected();
            sqlx::query("DELETE FROM registries WHERE tenant = $1 AND workspace = $2 AND rkey = $3")
                .bind(tenant).bind(workspace).bind(key).execute(&mut **t).await?;
            n
        });
        tx.give_back(tenant, Counter::Records, n).await?;
        tx.give_back(tenant, Counter::Registries, 1).await?;
        tx.commit().await?;
        Ok(Changed::Done(()))
    }
}
