//! The database as its own catalog describes it, for backups: every table the migrations
//! made (read from `sqlite_master` or `pg_catalog`, never listed by hand, so a table added by
//! a later migration is in the next backup), its columns with an engine-independent type
//! decided from the declared one, its rows read as engine-independent [`Value`]s in primary
//! key order, and rows written back into the same tables of either engine.

use futures_util::stream::{BoxStream, StreamExt};
use sqlx::{Row, TypeInfo, ValueRef};

use super::{placeholders, sql, StoreError, Tx};

/// The table of sqlx's migration bookkeeping: never backed up as data (a backup records the
/// migrations it was made at instead).
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// The engine-independent type of a column, decided from its declared type. Values travel
/// as [`Value`]s: a boolean as an integer 0 or 1, a timestamp as RFC 3339 UTC text, JSON
/// as its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Real,
    Text,
    Blob,
    Boolean,
    Timestamp,
    Json,
}

impl ColumnType {
    /// The type's name in a backup's header.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Real => "real",
            ColumnType::Text => "text",
            ColumnType::Blob => "blob",
            ColumnType::Boolean => "boolean",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Json => "json",
        }
    }

    /// The type named `s` in a backup's header.
    pub fn parse(s: &str) -> Option<ColumnType> {
        [
            ColumnType::Integer,
            ColumnType::Real,
            ColumnType::Text,
            ColumnType::Blob,
            ColumnType::Boolean,
            ColumnType::Timestamp,
            ColumnType::Json,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// The type of a column declared `declared` in SQLite (its affinity rules, plus the
    /// names SQLite stores as they are given: booleans, timestamps, JSON).
    fn of_sqlite(declared: &str) -> ColumnType {
        let d = declared.to_ascii_lowercase();
        if d.contains("bool") {
            ColumnType::Boolean
        } else if d.contains("timestamp") || d.contains("datetime") {
            ColumnType::Timestamp
        } else if d.contains("json") {
            ColumnType::Json
        } else if d.contains("int") {
            ColumnType::Integer
        } else if d.contains("char") || d.contains("clob") || d.contains("text") {
            ColumnType::Text
        } else if d.is_empty() || d.contains("blob") {
            ColumnType::Blob
        } else if d.contains("real") || d.contains("floa") || d.contains("doub") {
            ColumnType::Real
        } else {
            ColumnType::Text
        }
    }

    /// The type of a PostgreSQL column of type `typname` (`pg_type.typname`); any type not
    /// named here travels as its text form and is cast back on restore.
    fn of_postgres(typname: &str) -> ColumnType {
        match typname {
            "int2" | "int4" | "int8" | "oid" => ColumnType::Integer,
            "float4" | "float8" => ColumnType::Real,
            "bool" => ColumnType::Boolean,
            "bytea" => ColumnType::Blob,
            "timestamptz" => ColumnType::Timestamp,
            "json" | "jsonb" => ColumnType::Json,
            _ => ColumnType::Text,
        }
    }
}

/// A column: its name, engine-independent type and type as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub declared: String,
}

/// A table: its name, its columns in order, and its primary key's columns (the order rows
/// are read in; all columns when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub key: Vec<String>,
}

/// One value of a row, engine-independent.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// `name` quoted as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value that does not fit its column's type.
fn mismatch(table: &str, column: &Column, v: &Value) -> StoreError {
    StoreError::corrupt(
        format!("value of `{table}.{}`", column.name),
        format!("{v:?} is not a {}", column.ty.as_str()),
    )
}

impl Tx {
    /// The name of every table of the database (sqlx's own included), sorted.
    pub async fn table_names(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(match self {
            Tx::Sqlite(t) => sqlx::query_scalar::<_, String>(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )
            .fetch_all(&mut **t)
            .await?,
            Tx::Postgres(t) => sqlx::query_scalar::<_, String>(
                "SELECT relname::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' ORDER BY relname COLLATE \"C\"",
            )
            .fetch_all(&mut **t)
            .await?,
        })
    }

    /// The migrations the database has run, as (version, description), in order.
    pub async fn applied_migrations(&mut self) -> Result<Vec<(i64, String)>, StoreError> {
        let q = "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version";
        let rows: Vec<(i64, String)> = match self {
            Tx::Sqlite(t) => sqlx::query_as(q).fetch_all(&mut **t).await?,
            Tx::Postgres(t) => sqlx::query_as(q).fetch_all(&mut **t).await?,
        };
        Ok(rows)
    }

    /// Every table but sqlx's, with its columns, parents before the tables whose foreign
    /// keys name them (then by name), so rows restored in this order satisfy them.
    pub async fn tables(&mut self) -> Result<Vec<Table>, StoreError> {
        let names: Vec<String> = self
            .table_names()
            .await?
            .into_iter()
            .filter(|n| n != MIGRATIONS_TABLE)
            .collect();
        let mut tables = Vec::with_capacity(names.len());
        let mut parents = Vec::with_capacity(names.len());
        for name in names {
            tables.push(self.table(&name).await?);
            parents.push(self.references(&name).await?);
        }
        // Parents first: repeatedly take the first table all of whose parents are taken.
        let mut ordered = Vec::with_capacity(tables.len());
        let mut rest: Vec<(Table, Vec<String>)> = tables.into_iter().zip(parents).collect();
        while !rest.is_empty() {
            let taken: Vec<&str> = ordered.iter().map(|t: &Table| t.name.as_str()).collect();
            let pos = rest
                .iter()
                .position(|(t, ps)| {
                    ps.iter()
                        .all(|p| p == &t.name || taken.contains(&p.as_str()))
                })
                .unwrap_or(0); // a cycle: keep the name order
            ordered.push(rest.remove(pos).0);
        }
        Ok(ordered)
    }

    /// The tables `table`'s foreign keys reference.
    async fn references(&mut self, table: &str) -> Result<Vec<String>, StoreError> {
        Ok(match self {
            Tx::Sqlite(t) => sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)",
            )
            .bind(table)
            .fetch_all(&mut **t)
            .await?,
            Tx::Postgres(t) => sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT rf.relname::text FROM pg_constraint con \
                 JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_class rf ON rf.oid = con.confrelid \
                 WHERE con.contype = 'f' AND cl.relname = $1 AND cl.relnamespace = current_schema()::regnamespace",
            )
            .bind(table)
            .fetch_all(&mut **t)
            .await?,
        })
    }

    /// One table's columns and primary key, from the catalog.
    async fn table(&mut self, name: &str) -> Result<Table, StoreError> {
        let (columns, mut key) = match self {
            Tx::Sqlite(t) => {
                let rows: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid")
                        .bind(name)
                        .fetch_all(&mut **t)
                        .await?;
                let mut key: Vec<(i64, String)> = rows
                    .iter()
                    .filter(|r| r.2 > 0)
                    .map(|r| (r.2, r.0.clone()))
                    .collect();
                key.sort();
                let columns = rows
                    .into_iter()
                    .map(|(name, declared, _)| Column {
                        ty: ColumnType::of_sqlite(&declared),
                        name,
                        declared,
                    })
                    .collect::<Vec<_>>();
                (columns, key.into_iter().map(|k| k.1).collect::<Vec<_>>())
            }
            Tx::Postgres(t) => {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), ty.typname::text \
                     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type ty ON ty.oid = a.atttypid \
                     WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped \
                     ORDER BY a.attnum",
                )
                .bind(name)
                .fetch_all(&mut **t)
                .await?;
                let key: Vec<String> = sqlx::query_scalar(
                    "SELECT k.column_name::text FROM information_schema.table_constraints c \
                     JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema \
                       AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name \
                     WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema() AND c.table_name = $1 \
                     ORDER BY k.ordinal_position",
                )
                .bind(name)
                .fetch_all(&mut **t)
                .await?;
                let columns = rows
                    .into_iter()
                    .map(|(name, declared, typname)| Column {
                        ty: ColumnType::of_postgres(&typname),
                        name,
                        declared,
                    })
                    .collect::<Vec<_>>();
                (columns, key)
            }
        };
        if key.is_empty() {
            key = columns.iter().map(|c| c.name.clone()).collect();
        }
        Ok(Table {
            name: name.to_string(),
            columns,
            key,
        })
    }

    /// How many rows `table` holds.
    pub async fn count(&mut self, table: &str) -> Result<i64, StoreError> {
        let q = sql(format!("SELECT COUNT(*) FROM {}", quote(table)));
        Ok(match self {
            Tx::Sqlite(t) => sqlx::query_scalar::<_, i64>(q).fetch_one(&mut **t).await?,
            Tx::Postgres(t) => sqlx::query_scalar::<_, i64>(q).fetch_one(&mut **t).await?,
        })
    }

    /// Every row of `table` in primary key order (text compared byte by byte on both
    /// engines), as a stream: one row at a time is in memory.
    pub fn rows(&mut self, table: &Table) -> BoxStream<'_, Result<Vec<Value>, StoreError>> {
        let sqlite = self.is_sqlite();
        let order = table
            .key
            .iter()
            .map(|k| {
                let ty = table.columns.iter().find(|c| &c.name == k).map(|c| c.ty);
                match (sqlite, ty) {
                    (true, _) => quote(k),
                    (false, Some(ColumnType::Text | ColumnType::Json)) => {
                        format!("CAST({} AS TEXT) COLLATE \"C\" NULLS FIRST", quote(k))
                    }
                    (false, _) => format!("{} NULLS FIRST", quote(k)),
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let select = table
            .columns
            .iter()
            .map(|c| {
                let q = quote(&c.name);
                match (sqlite, c.ty) {
                    (true, _) | (false, ColumnType::Blob | ColumnType::Boolean) => q,
                    (false, ColumnType::Integer) => format!("CAST({q} AS BIGINT)"),
                    (false, ColumnType::Real) => format!("CAST({q} AS DOUBLE PRECISION)"),
                    (false, ColumnType::Text | ColumnType::Json) => format!("CAST({q} AS TEXT)"),
                    (false, ColumnType::Timestamp) => format!(
                        "to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                    ),
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let q = format!(
            "SELECT {select} FROM {} ORDER BY {order}",
            quote(&table.name)
        );
        let types: Vec<ColumnType> = table.columns.iter().map(|c| c.ty).collect();
        match self {
            Tx::Sqlite(t) => sqlx::query(sql(q))
                .fetch(&mut **t)
                .map(move |row| {
                    let row = row?;
                    (0..types.len())
                        .map(|i| sqlite_value(&row, i))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(StoreError::from)
                })
                .boxed(),
            Tx::Postgres(t) => sqlx::query(sql(q))
                .fetch(&mut **t)
                .map(move |row| {
                    let row = row?;
                    types
                        .iter()
                        .enumerate()
                        .map(|(i, ty)| postgres_value(&row, i, *ty))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(StoreError::from)
                })
                .boxed(),
        }
    }

    /// Deletes every row of `table` (the rows a migration seeded, before a restore).
    pub async fn clear(&mut self, table: &str) -> Result<(), StoreError> {
        let q = sql(format!("DELETE FROM {}", quote(table)));
        match self {
            Tx::Sqlite(t) => {
                sqlx::query(q).execute(&mut **t).await?;
            }
            Tx::Postgres(t) => {
                sqlx::query(q).execute(&mut **t).await?;
            }
        }
        Ok(())
    }

    /// Inserts rows into `table` (values in its column order), in multi-row statements;
    /// each value is converted to its column's type on this engine.
    pub async fn insert_rows(
        &mut self,
        table: &Table,
        rows: &[Vec<Value>],
    ) -> Result<(), StoreError> {
        let cols = table.columns.len().max(1);
        let names = table
            .columns
            .iter()
            .map(|c| quote(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        // Under both engines' parameter limits (SQLite 32766, PostgreSQL 65535).
        let per = (30_000 / cols).max(1);
        for chunk in rows.chunks(per) {
            match self {
                Tx::Sqlite(t) => {
                    let q = format!(
                        "INSERT INTO {} ({names}) VALUES {}",
                        quote(&table.name),
                        placeholders(chunk.len(), cols, true, 0)
                    );
                    let mut query = sqlx::query(sql(q));
                    for row in chunk {
                        for (c, v) in table.columns.iter().zip(row) {
                            query = match v {
                                Value::Null => query.bind(None::<String>),
                                Value::Integer(i) => query.bind(*i),
                                Value::Real(f) => query.bind(*f),
                                Value::Text(s) if c.ty == ColumnType::Boolean => {
                                    query.bind(i64::from(
                                        text_bool(s).ok_or_else(|| mismatch(&table.name, c, v))?,
                                    ))
                                }
                                Value::Text(s) => query.bind(s.as_str()),
                                Value::Blob(b) => query.bind(b.as_slice()),
                            };
                        }
                    }
                    query.execute(&mut **t).await?;
                }
                Tx::Postgres(t) => {
                    let mut values = String::new();
                    for r in 0..chunk.len() {
                        values.push_str(if r == 0 { "(" } else { ",(" });
                        for (i, c) in table.columns.iter().enumerate() {
                            if i > 0 {
                                values.push(',');
                            }
                            values.push_str(&format!(
                                "CAST(${} AS {})",
                                r * cols + i + 1,
                                c.declared
                            ));
                        }
                        values.push(')');
                    }
                    let q = format!(
                        "INSERT INTO {} ({names}) VALUES {values}",
                        quote(&table.name)
                    );
                    let mut query = sqlx::query(sql(q));
                    for row in chunk {
                        for (c, v) in table.columns.iter().zip(row) {
                            let bad = || mismatch(&table.name, c, v);
                            query = match (c.ty, v) {
                                (_, Value::Null) => query.bind(None::<String>),
                                (ColumnType::Integer, Value::Integer(i)) => query.bind(*i),
                                (ColumnType::Integer, Value::Text(s)) => {
                                    query.bind(s.trim().parse::<i64>().map_err(|_| bad())?)
                                }
                                (ColumnType::Real, Value::Integer(i)) => query.bind(*i as f64),
                                (ColumnType::Real, Value::Real(f)) => query.bind(*f),
                                (ColumnType::Real, Value::Text(s)) => {
                                    query.bind(s.trim().parse::<f64>().map_err(|_| bad())?)
                                }
                                (ColumnType::Boolean, Value::Integer(i)) => query.bind(*i != 0),
                                (ColumnType::Boolean, Value::Text(s)) => {
                                    query.bind(text_bool(s).ok_or_else(bad)?)
                                }
                                (ColumnType::Blob, Value::Blob(b)) => query.bind(b.as_slice()),
                                (ColumnType::Blob, Value::Text(s)) => query.bind(s.as_bytes()),
                                (_, Value::Text(s)) => query.bind(s.as_str()),
                                (_, Value::Integer(i)) => query.bind(i.to_string()),
                                (_, Value::Real(f)) => query.bind(f.to_string()),
                                (_, Value::Blob(b)) => {
                                    query.bind(String::from_utf8(b.clone()).map_err(|_| bad())?)
                                }
                            };
                        }
                    }
                    query.execute(&mut **t).await?;
                }
            }
        }
        Ok(())
    }

    /// On PostgreSQL, moves every sequence that feeds a column of `table` (serial or
    /// identity) past the largest value restored; nothing on SQLite, whose rowids follow the
    /// rows.
    pub async fn reset_sequences(&mut self, table: &Table) -> Result<(), StoreError> {
        let Tx::Postgres(t) = self else {
            return Ok(());
        };
        for c in table.columns.iter().filter(|c| c.ty == ColumnType::Integer) {
            let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
                .bind(quote(&table.name))
                .bind(&c.name)
                .fetch_one(&mut **t)
                .await?;
            if let Some(seq) = seq {
                let q = format!(
                    "SELECT setval($1, COALESCE((SELECT MAX({c}) FROM {t}), 1), (SELECT MAX({c}) FROM {t}) IS NOT NULL)",
                    c = quote(&c.name),
                    t = quote(&table.name)
                );
                sqlx::query(sql(q)).bind(seq).execute(&mut **t).await?;
            }
        }
        Ok(())
    }
}

/// A boolean written as text (`true`/`t`/`1`, `false`/`f`/`0`).
fn text_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Some(true),
        "false" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// A SQLite value as stored (its storage class decides, not the declared type).
fn sqlite_value(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let class = raw.type_info().name().to_string();
    Ok(match class.as_str() {
        "INTEGER" => Value::Integer(row.try_get_unchecked::<i64, _>(i)?),
        "REAL" => Value::Real(row.try_get_unchecked::<f64, _>(i)?),
        "BLOB" => Value::Blob(row.try_get_unchecked::<Vec<u8>, _>(i)?),
        _ => Value::Text(row.try_get_unchecked::<String, _>(i)?),
    })
}

/// A PostgreSQL value, selected already cast to the Rust type its column type maps to.
fn postgres_value(
    row: &sqlx::postgres::PgRow,
    i: usize,
    ty: ColumnType,
) -> Result<Value, sqlx::Error> {
    Ok(match ty {
        ColumnType::Integer => row.try_get::<Option<i64>, _>(i)?.map(Value::Integer),
        ColumnType::Real => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
        ColumnType::Boolean => row
            .try_get::<Option<bool>, _>(i)?
            .map(|b| Value::Integer(i64::from(b))),
        ColumnType::Blob => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Blob),
        ColumnType::Text | ColumnType::Json | ColumnType::Timestamp => {
            row.try_get::<Option<String>, _>(i)?.map(Value::Text)
        }
    }
    .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_the_same_type_on_both_engines() {
        for (sqlite, pg, ty) in [
            ("BIGINT", "int8", ColumnType::Integer),
            ("INTEGER", "int4", ColumnType::Integer),
            ("TEXT", "text", ColumnType::Text),
            ("BOOLEAN", "bool", ColumnType::Boolean),
            ("TIMESTAMPTZ", "timestamptz", ColumnType::Timestamp),
            ("JSONB", "jsonb", ColumnType::Json),
            ("BLOB", "bytea", ColumnType::Blob),
            ("DOUBLE PRECISION", "float8", ColumnType::Real),
        ] {
            assert_eq!(ColumnType::of_sqlite(sqlite), ty, "{sqlite}");
            assert_eq!(ColumnType::of_postgres(pg), ty, "{pg}");
            assert_eq!(ColumnType::parse(ty.as_str()), Some(ty));
        }
    }
}
