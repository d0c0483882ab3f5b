//! A stored value that does not parse is an error naming the row, never a default: each
//! typed column of each table, corrupted in a real SQLite file.

use super::{Db, StoreError};

async fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    (dir, db)
}

async fn exec(db: &Db, sql: &'static str) {
    dispatch!(db, p => {
        sqlx::query(sql).execute(p).await.unwrap();
    });
}

fn corrupt_what(e: StoreError) -> (String, String) {
    match e {
        StoreError::Corrupt { what, message } => (what, message),
        other => panic!("not a corrupt value: {other}"),
    }
}

#[tokio::test]
async fn a_token_with_an_unknown_role_is_corrupt() {
    let (_dir, db) = db().await;
    exec(&db, "INSERT INTO tokens (id, hash, scope, role, created_at) VALUES ('tok_1', 'h', 'system', 'Root!', 'x')").await;
    let (what, message) = corrupt_what(db.token_by_hash("h").await.unwrap_err());
    assert_eq!(
        (what.as_str(), message.as_str()),
        ("token `tok_1`", "bad role `Root!`")
    );
    exec(
        &db,
        "UPDATE tokens SET role = 'member', scope = 'tenant:Bad!'",
    )
    .await;
    let (_, message) = corrupt_what(db.token_by_hash("h").await.unwrap_err());
    assert_eq!(message, "bad scope `tenant:Bad!`");
    exec(&db, "UPDATE tokens SET scope = 'tenant:acme'").await;
    assert!(db.token_by_hash("h").await.unwrap().is_some());
}

#[tokio::test]
async fn an_invitation_with_an_unknown_status_or_bad_workspaces_is_corrupt() {
    let (_dir, db) = db().await;
    exec(&db, "INSERT INTO invitations (id, email, origin, language, status, link_seq, invited_by, created_at, expires_ms) \
               VALUES ('inv_1', 'a@b.example', 'invite', 'en', 'maybe', 1, 'tok_1', 'x', 0)").await;
    exec(
        &db,
        "INSERT INTO invitation_tenants (invitation_id, email, tenant, role, workspaces, status) \
               VALUES ('inv_1', 'a@b.example', 'acme', 'member', '[]', 'expired')",
    )
    .await;
    let (what, message) = corrupt_what(db.invitations(None).await.unwrap_err());
    assert_eq!(
        (what.as_str(), message.as_str()),
        ("invitation `inv_1`", "unknown status `maybe`")
    );
    exec(&db, "UPDATE invitations SET status = 'pending'").await;
    exec(&db, "UPDATE invitation_tenants SET workspaces = 'paris'").await;
    let (_, message) = corrupt_what(db.invitation("inv_1").await.unwrap_err());
    assert!(message.starts_with("`workspaces`: "), "{message}");
    exec(
        &db,
        "UPDATE invitation_tenants SET workspaces = '[\"paris\"]'",
    )
    .await;
    let row = db.invitation("inv_1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.status,
            row.status_at(1),
            row.tenants[0].workspaces.clone()
        ),
        (
            super::InvitationStatus::Pending,
            super::InvitationStatus::Expired,
            vec!["paris".to_string()]
        )
    );
}

#[tokio::test]
async fn an_audit_entry_with_an_unknown_op_kind_or_bad_json_is_corrupt() {
    let (_dir, db) = db().await;
    exec(&db, "INSERT INTO audit (id, at, revision, token_id, op, kind, rkey) VALUES (7, 'x', 1, 'tok_1', 'explode', 'user', 'a@b.example')").await;
    let (what, message) = corrupt_what(db.audit_page(None, None, 10).await.unwrap_err());
    assert_eq!(
        (what.as_str(), message.as_str()),
        ("audit entry 7", "unknown op `explode`")
    );
    exec(&db, "UPDATE audit SET op = 'put', kind = 'gadget'").await;
    let (_, message) = corrupt_what(db.audit_page(None, None, 10).await.unwrap_err());
    assert_eq!(message, "unknown kind `gadget`");
    exec(&db, "UPDATE audit SET kind = 'user', after_json = '{'").await;
    let (_, message) = corrupt_what(db.audit_page(None, None, 10).await.unwrap_err());
    assert!(message.starts_with("`after_json`: "), "{message}");
    exec(&db, "UPDATE audit SET after_json = '{\"a\":1}'").await;
    let rows = db.audit_page(None, None, 10).await.unwrap();
    assert_eq!(rows[0].after, Some(serde_json::json!({ "a": 1 })));
}

#[tokio::test]
async fn a_password_reset_with_a_bad_expiry_is_corrupt() {
    let (_dir, db) = db().await;
    exec(&db, "INSERT INTO password_resets (id, email, hash, created_at, expires_at) VALUES ('pwr_1', 'a@b.example', 'h', 'x', 'tomorrow')").await;
    let (what, _) = corrupt_what(
        db.redeem_password_reset("h", "$argon2id$x", None)
            .await
            .unwrap_err(),
    );
    assert_eq!(what, "password reset `pwr_1`");
}

#[tokio::test]
async fn a_resource_of_an_unknown_kind_is_corrupt() {
    let (_dir, db) = db().await;
    exec(&db, "INSERT INTO resources (kind, rkey, body, version, managed, protected, created_at, updated_at) \
               VALUES ('gadget', 'g', '{}', 1, true, false, 'x', 'x')").await;
    let e = db.load_state().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "stored resource `gadget/g` is corrupt: unknown kind"
    );
}

/// The page cache size and spill threshold of the connection of `tx`.
async fn cache_pragmas(tx: &mut super::Tx) -> (i64, i64) {
    let super::Tx::Sqlite(t) = tx else {
        panic!("not SQLite")
    };
    let size: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut **t)
        .await
        .unwrap();
    let spill: i64 = sqlx::query_scalar("PRAGMA cache_spill")
        .fetch_one(&mut **t)
        .await
        .unwrap();
    (size, spill)
}

/// A bulk write's page cache settings hold for its transaction and are given back before
/// the connection returns to the pool.
#[tokio::test]
async fn a_bulk_write_gives_its_connection_back_as_it_was() {
    let (_dir, db) = db().await;
    let mut tx = db.begin().await.unwrap();
    let (size, spill) = cache_pragmas(&mut tx).await;
    assert!(spill > 0, "spilling is on by default");
    let saved = tx.begin_bulk().await.unwrap();
    assert_eq!(saved, Some(size));
    assert_eq!(cache_pragmas(&mut tx).await, (-super::BULK_CACHE_KIB, 0));
    tx.end_bulk(saved).await.unwrap();
    assert_eq!(cache_pragmas(&mut tx).await, (size, spill));
    tx.commit().await.unwrap();
}

/// A bulk write commits without checkpointing the WAL; its connection, once given back,
/// has its automatic checkpoint again and has checkpointed what the write left.
#[tokio::test]
async fn a_bulk_write_checkpoints_after_its_commit() {
    let (dir, db) = db().await;
    let Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite URL opens a SQLite pool")
    };
    let file = dir.path().join("t.db");
    let size = || std::fs::metadata(&file).unwrap().len();
    let mut tx = db.begin().await.unwrap();
    let saved = tx.begin_bulk().await.unwrap();
    let super::Tx::Sqlite(t) = &mut tx else {
        panic!("not SQLite")
    };
    let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(&mut **t)
        .await
        .unwrap();
    assert_eq!(pages, 0, "no checkpoint inside the bulk write's commit");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
         INSERT INTO audit (id, at, revision, token_id, op, kind, rkey, after_json) \
         SELECT i, 'x', 1, 't', 'put', 'user', 'k' || i, printf('%.200c', 'a') FROM n",
    )
    .execute(&mut **t)
    .await
    .unwrap();
    tx.end_bulk(saved).await.unwrap();
    let before = size();
    tx.commit().await.unwrap();
    // Every connection of the pool (held at once, so the released one is among them) has
    // its automatic checkpoint back, and the rows reached the database file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut conns = Vec::new();
        let mut every = Vec::new();
        for _ in 0..8 {
            let mut c = pool.acquire().await.unwrap();
            let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            every.push(pages);
            conns.push(c);
        }
        if every
            .iter()
            .all(|p| *p == super::checkpoint::AUTOCHECKPOINT)
            && size() > before + 4_000_000
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not checkpointed: autocheckpoint {every:?}, file {} bytes (was {before})",
            size()
        );
        drop(conns);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_existing_sqlite_audit_log_is_kept_when_its_table_is_keyed_by_rowid() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        true,
    )
    .await
    .unwrap();
    let Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite URL opens a SQLite pool")
    };
    // A database as the migrations before the rebuild left it, with audit entries.
    super::migrator(true, 169).run(pool).await.unwrap();
    exec(&db, "INSERT INTO audit (id, at, revision, token_id, op, kind, rkey, tenant, after_json) VALUES \
               (1, 'x', 1, 'tok_1', 'create', 'user', 'a@b.example', 'acme', '{\"a\":1}'), \
               (2, 'y', 2, 'tok_1', 'delete', 'user', 'c@d.example', NULL, NULL)").await;
    exec(&db, "UPDATE meta SET audit_seq = 2").await;
    db.migrate().await.unwrap();
    let key: (String, i64) =
        sqlx::query_as("SELECT type, pk FROM pragma_table_info('audit') WHERE name = 'id'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(key, ("INTEGER".to_string(), 1), "the rowid alias");
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(indexes, vec![("audit_tenant".to_string(),)]);
    // The entries kept, and new ones numbered after them.
    let mut tx = db.begin().await.unwrap();
    let entry = super::NewAudit {
        op: super::AuditOp::Put,
        subject: super::AuditSubject::Resource(crate::model::Kind::User),
        key: "a@b.example".into(),
        tenant: Some("acme".into()),
        before: None,
        after: Some("{\"a\":2}".into()),
    };
    tx.insert_audit(3, "tok_2", &[entry], None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rows = db.audit_page(None, None, 10).await.unwrap();
    let seen: Vec<(i64, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.id, r.key.as_str(), r.tenant.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (3, "a@b.example", Some("acme")),
            (2, "c@d.example", None),
            (1, "a@b.example", Some("acme")),
        ]
    );
    assert_eq!(rows[2].after, Some(serde_json::json!({ "a": 1 })));
    let acme = db.audit_page(Some("acme"), None, 10).await.unwrap();
    assert_eq!(acme.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 1]);
}

#[tokio::test]
async fn sqlite_keeps_statement_journals_in_memory() {
    let (_dir, db) = db().await;
    let Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite URL opens a SQLite pool")
    };
    let store: i64 = sqlx::query_scalar("PRAGMA temp_store")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(store, 2, "MEMORY");
}
