//! Backups that restore (issue 14, item 4; document 001): `tenantctl backup` of a live
//! platform, `restore` into a new database of the other engine, and the platform served
//! from it answers as the original did — state, users and accounts, invitations, tokens
//! (the original's secrets still authenticate: their hashes came back), audit — and holds
//! the same rows in every table; `backup verify` refuses a truncated or edited file. The
//! real binary, the real server, SQLite files and the PostgreSQL of `.ci/run`.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{json, Value};
use tenantctl::server::backup::format::{Frame, Header, Reader, Writer};
use tenantctl::server::store::catalog::Value as Cell;

use crate::common::{fixture, new_postgres_database, TestServer};

/// `tenantctl ARGS` in `dir`, without colour: (exit code, stdout, stderr).
fn tenantctl(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("tenantctl")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TENANTCTL_DATABASE_URL")
        .output()
        .expect("run tenantctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tenantctl backup --database URL --out FILE`, which must succeed; its stdout.
fn backed_up(dir: &Path, url: &str, file: &Path) -> String {
    let (code, out, err) = tenantctl(
        dir,
        &["backup", "--database", url, "--out", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "backup of {url}: {out}{err}");
    out
}

/// Gives the platform one of everything a backup must carry: the fixture's resources,
/// users with their accounts, an invitation, tokens (one revoked), audit entries.
async fn populate(s: &TestServer) -> String {
    fixture::load(s).await;
    let a = s
        .post(
            "/api/v1/invitations",
            json!({ "emails": ["nouveau@acme.example"], "tenant": "acme", "role": "member",
                    "message": "Bienvenue" }),
        )
        .await;
    assert!(a.status.is_success(), "invitation: {}", a.text);
    let tenant = s.token("tenant:acme", Some("org_admin"), None).await;
    let revoked = s
        .post(
            "/api/v1/tokens",
            json!({ "scope": "system", "description": "old" }),
        )
        .await;
    let id = revoked.body["id"].as_str().expect("id").to_string();
    let a = s.delete(&format!("/api/v1/tokens/{id}")).await;
    assert!(a.status.is_success(), "revoke: {}", a.text);
    let a = s
        .put(
            "/api/v1/tenants/acme",
            json!({ "display_name": "Acme SAS (restaurée)", "plan": "premium" }),
        )
        .await;
    assert!(a.status.is_success(), "update: {}", a.text);
    // Registers and records: the platform's data, outside the state.
    let registers = "/api/v1/tenants/acme/workspaces/paris/registries";
    let a = s
        .post(
            registers,
            json!({ "key": "rgpd", "name": "Traitements RGPD", "description": "Art. 30" }),
        )
        .await;
    assert!(a.status.is_success(), "register: {}", a.text);
    for title in ["Paie", "Recrutement"] {
        let a = s
            .post(
                &format!("{registers}/rgpd/records"),
                json!({ "title": title, "fields": { "base_legale": "contrat", "durée": 5 } }),
            )
            .await;
        assert!(a.status.is_success(), "record: {}", a.text);
    }
    tenant
}

/// What the API says of the platform, for every part a backup must restore.
async fn view(s: &TestServer, tenant_token: &str) -> Value {
    let who = s
        .call(
            reqwest::Method::GET,
            "/api/v1/whoami",
            Some(tenant_token),
            None,
            &[],
        )
        .await;
    assert!(
        who.status.is_success(),
        "the tenant token works: {}",
        who.text
    );
    json!({
        "state": s.get("/api/v1/state").await.body,
        "audit": s.get("/api/v1/audit?limit=1000").await.body,
        "invitations": s.get("/api/v1/invitations").await.body,
        "tokens": s.get("/api/v1/tokens").await.body,
        "users": s.get("/api/v1/exports/users.csv").await.text,
        "dashboard": s.get("/api/v1/dashboard").await.body,
        "registers": s.get("/api/v1/tenants/acme/workspaces/paris/registries").await.body,
        "records": s.get("/api/v1/tenants/acme/workspaces/paris/registries/rgpd/records").await.body,
        "tenant_token": who.body,
    })
}

/// A table's columns: (name, type).
type Columns = Vec<(String, String)>;

/// Every table's rows in a backup file, by table name.
fn rows(file: &Path) -> Vec<(String, Vec<Cell>)> {
    let mut r = Reader::open(file).expect("open backup");
    let names: Vec<String> = r.header.tables.iter().map(|t| t.name.clone()).collect();
    let mut out = Vec::new();
    let mut table = 0;
    while let Some(f) = r.next_frame().expect("frame") {
        match f {
            Frame::Table(i) => table = i,
            Frame::Row(v) => out.push((names[table].clone(), v)),
            Frame::End(_) => {}
        }
    }
    out
}

fn header(file: &Path) -> Header {
    Reader::open(file).expect("open backup").header
}

/// Backs up `source` with the binary (while it serves), restores into `target` (a new
/// database URL), serves the restored database and compares: the API's answers, then the
/// rows of a backup of the restored database. Returns the second backup's path.
async fn round_trip(
    source: &TestServer,
    tenant_token: &str,
    dir: &Path,
    name: &str,
    target: &str,
    pg: Option<(String, String)>,
) -> std::path::PathBuf {
    let before = view(source, tenant_token).await;
    let first = dir.join(format!("{name}-1.backup"));
    let out = backed_up(dir, &source.database_url, &first);
    assert!(out.starts_with("backed up "), "{out}");
    let (code, out, err) = tenantctl(dir, &["backup", "verify", first.to_str().unwrap()]);
    assert_eq!(code, 0, "verify: {out}{err}");

    let (code, out, err) = tenantctl(
        dir,
        &["restore", "--database", target, first.to_str().unwrap()],
    );
    assert_eq!(code, 0, "restore: {out}{err}");
    assert!(out.contains("integrity check passed"), "{out}");
    let restored = TestServer::open(target.to_string(), source.system_token(), pg).await;
    let after = view(&restored, tenant_token).await;
    assert_eq!(
        after, before,
        "the restored platform answers as the original did"
    );

    let second = dir.join(format!("{name}-2.backup"));
    backed_up(dir, target, &second);
    restored.shutdown().await;
    let (h1, h2) = (header(&first), header(&second));
    let engine = |url: &str| {
        if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        }
    };
    assert_eq!(h1.source_engine, engine(&source.database_url));
    assert_eq!(h2.source_engine, engine(target));
    let shape = |h: &Header| -> Vec<(String, u64, Columns)> {
        h.tables
            .iter()
            .map(|t| {
                let cols = t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.ty.clone()))
                    .collect();
                (t.name.clone(), t.rows, cols)
            })
            .collect()
    };
    assert_eq!(
        shape(&h1),
        shape(&h2),
        "same tables, columns, types and row counts"
    );
    assert_eq!(
        (h1.schema, h1.revision, h1.violations),
        (h2.schema, h2.revision, h2.violations)
    );
    let (r1, r2) = (rows(&first), rows(&second));
    assert!(
        r1.iter().any(|(t, _)| t == "user_accounts"),
        "accounts are backed up"
    );
    assert!(
        r1.iter().any(|(t, _)| t == "invitations"),
        "invitations are backed up"
    );
    assert_eq!(
        r1.iter().filter(|(t, _)| t == "records").count(),
        2,
        "records are backed up"
    );
    assert!(
        r1.iter().any(|(t, _)| t == "registries"),
        "registers are backed up"
    );
    assert_eq!(r1, r2, "every row of every table came back");
    second
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_restores_everything() {
    let dir = tempfile::tempdir().unwrap();
    let source = TestServer::sqlite().await;
    let tenant = populate(&source).await;
    let Some((pg_url, pg)) = new_postgres_database().await else {
        // Without PostgreSQL, at least SQLite to SQLite.
        let target = format!("sqlite://{}", dir.path().join("restored.db").display());
        round_trip(&source, &tenant, dir.path(), "sqlite", &target, None).await;
        source.shutdown().await;
        return;
    };
    let second = round_trip(&source, &tenant, dir.path(), "to-pg", &pg_url, Some(pg)).await;
    source.shutdown().await;
    // And the PostgreSQL backup back into SQLite.
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let (code, out, err) = tenantctl(
        dir.path(),
        &["restore", "--database", &back, second.to_str().unwrap()],
    );
    assert_eq!(code, 0, "restore: {out}{err}");
    let third = dir.path().join("back.backup");
    backed_up(dir.path(), &back, &third);
    assert_eq!(rows(&third), rows(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite_restores_everything() {
    let Some(source) = TestServer::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tenant = populate(&source).await;
    let target = format!("sqlite://{}", dir.path().join("restored.db").display());
    round_trip(&source, &tenant, dir.path(), "to-sqlite", &target, None).await;
    source.shutdown().await;
}

/// The tables the migrations create (`CREATE TABLE name`, less those a later migration
/// drops, under the name a later migration renames them to), read from `migrations/`.
fn migration_tables() -> Vec<String> {
    let mut dir: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    let mut tables: Vec<String> = Vec::new();
    for file in dir {
        let sql = std::fs::read_to_string(file).unwrap();
        let words: Vec<String> = sql
            .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        for (i, w) in words.iter().enumerate() {
            let at = |n: usize| words.get(i + n).map_or("", String::as_str);
            if w == "create" && at(1) == "table" && !tables.iter().any(|t| t == at(2)) {
                tables.push(at(2).to_string());
            }
            if w == "drop" && at(1) == "table" {
                tables.retain(|t| t != at(2));
            }
            if w == "alter" && at(1) == "table" && at(3) == "rename" && at(4) == "to" {
                for t in tables.iter_mut().filter(|t| *t == at(2)) {
                    *t = at(5).to_string();
                }
            }
        }
    }
    tables.sort();
    tables
}

/// A backup holds every table the migrations create, with no list kept by hand: a table a
/// later migration adds is in the next backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_the_migrations_create_is_in_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::sqlite().await;
    let file = dir.path().join("all.backup");
    backed_up(dir.path(), &s.database_url, &file);
    s.shutdown().await;
    let mut backed_up: Vec<String> = header(&file).tables.into_iter().map(|t| t.name).collect();
    backed_up.sort();
    let expected = migration_tables();
    assert!(expected.len() >= 12, "{expected:?}");
    assert_eq!(backed_up, expected);
}

/// `backup verify` and `restore` refuse a truncated file and a file with one byte changed,
/// with a clear error and exit 1; nothing is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_refuses_a_truncated_or_edited_backup() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::sqlite().await;
    fixture::load(&s).await;
    let good = dir.path().join("good.backup");
    backed_up(dir.path(), &s.database_url, &good);
    s.shutdown().await;
    let bytes = std::fs::read(&good).unwrap();
    let cases = [
        ("truncated", bytes[..bytes.len() * 2 / 3].to_vec()),
        ("edited", {
            let mut b = bytes.clone();
            let i = b.len() / 2;
            b[i] = b[i].wrapping_add(1);
            b
        }),
        (
            "not-a-backup",
            b"name,email\nalice,alice@acme.example\n".repeat(3),
        ),
    ];
    let mut transcript = String::new();
    for (name, content) in cases {
        let file = dir.path().join(format!("{name}.backup"));
        std::fs::write(&file, content).unwrap();
        let (code, out, err) =
            tenantctl(dir.path(), &["backup", "verify", &format!("{name}.backup")]);
        assert_eq!(code, 1, "{name}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        transcript.push_str(&format!(
            "$ tenantctl backup verify {name}.backup\nexit {code}\n{err}\n"
        ));
        let target = format!("sqlite://{}", dir.path().join("restored.db").display());
        let (code, out, err) = tenantctl(
            dir.path(),
            &["restore", "--database", &target, &format!("{name}.backup")],
        );
        assert_eq!(code, 1, "{name}: {out}{err}");
        assert!(
            !dir.path().join("restored.db").exists(),
            "{name}: nothing restored"
        );
    }
    insta::assert_snapshot!("verify_refuses_damaged_files", transcript);
    let (code, out, _) = tenantctl(dir.path(), &["backup", "verify", "good.backup"]);
    assert_eq!(code, 0);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"taken \S+ by tenantctl \S+",
        "taken [TIME] by tenantctl [VERSION]",
    );
    settings.add_filter(r"\d+(\.\d)? (B|KiB|MiB)\n", "[SIZE]\n");
    // The tables and their counts grow with the migrations: checked here, not snapshotted.
    for table in [
        "resources",
        "tokens",
        "audit",
        "user_accounts",
        "invitations",
    ] {
        assert!(out.contains(&format!("\n    {table} ")), "{table}: {out}");
    }
    settings.add_filter(r"schema: [^\n]*", "schema: [MIGRATIONS]");
    settings.add_filter(
        r"\d+ table\(s\), [\d,]+ row\(s\)",
        "[N] table(s), [N] row(s)",
    );
    settings.add_filter(r"(\n    [a-z_0-9]+ +[\d,]+)+", "\n    [TABLE]  [ROWS]");
    settings.bind(|| insta::assert_snapshot!("verify_sound_file", out));
}

/// A restore wants an empty database and the schema it was taken at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_used_database_or_another_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::sqlite().await;
    let file = dir.path().join("platform.backup");
    backed_up(dir.path(), &s.database_url, &file);
    let (code, _, err) = tenantctl(
        dir.path(),
        &["restore", "--database", &s.database_url, "platform.backup"],
    );
    s.shutdown().await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the database is not empty"), "{err}");
    assert!(err.contains("restore into a new database"), "{err}");

    // The same rows under an older schema version (its last migration left out).
    let mut r = Reader::open(&file).unwrap();
    let mut h = r.header.clone();
    h.schema.pop();
    let older = dir.path().join("older.backup");
    let mut w = Writer::new(std::fs::File::create(&older).unwrap(), &h).unwrap();
    while let Some(f) = r.next_frame().unwrap() {
        match f {
            Frame::Table(i) => w.table(i).unwrap(),
            Frame::Row(v) => w.row(&v).unwrap(),
            Frame::End(n) => w.end_table(n).unwrap(),
        }
    }
    w.finish().unwrap();
    let (code, _, _) = tenantctl(dir.path(), &["backup", "verify", "older.backup"]);
    assert_eq!(code, 0, "a sound file");
    let target = format!("sqlite://{}", dir.path().join("new.db").display());
    let (code, _, err) = tenantctl(
        dir.path(),
        &["restore", "--database", &target, "older.backup"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the backup's schema"), "{err}");
    assert!(!dir.path().join("new.db").exists());

    // Nothing to back up: a database file that does not exist.
    let (code, _, err) = tenantctl(
        dir.path(),
        &[
            "backup",
            "--database",
            "sqlite://nothing-here.db",
            "--out",
            "x.backup",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("there is no SQLite database"), "{err}");
    assert!(!dir.path().join("nothing-here.db").exists());
}

/// `URL` with a password for its user (`postgres://user@…` → `postgres://user:PW@…`).
fn with_password(url: &str, pw: &str) -> String {
    let start = url.find("://").unwrap() + 3;
    let at = start + url[start..].find('@').unwrap();
    let user = url[start..at].split(':').next().unwrap();
    format!("{}{user}:{pw}{}", &url[..start], &url[at..])
}

/// A password in the database URL is never printed (the test cluster trusts every
/// connection, so any password connects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_password_is_not_printed() {
    let Some(s) = TestServer::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = with_password(&s.database_url, "s3cr3t-pw");
    let (code, out, err) = tenantctl(
        dir.path(),
        &["backup", "--database", &url, "--out", "pg.backup"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(":***@"), "{out}");
    let (code, out, err) = tenantctl(dir.path(), &["restore", "--database", &url, "pg.backup"]);
    s.shutdown().await;
    assert_eq!(code, 1, "not empty: {out}{err}");
    assert!(
        !out.contains("s3cr3t-pw") && !err.contains("s3cr3t-pw"),
        "{out}{err}"
    );
}

/// `--help` of each command, with its examples.
#[test]
fn help_of_backup_restore_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = String::new();
    for args in [
        &["backup", "--help"][..],
        &["backup", "verify", "--help"],
        &["restore", "--help"],
    ] {
        let (code, out, err) = tenantctl(dir.path(), args);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("Example"), "{out}");
        all.push_str(&format!("$ tenantctl {}\n{out}\n", args.join(" ")));
    }
    insta::assert_snapshot!("help_backup_restore", all);
    let (code, _, err) = tenantctl(dir.path(), &["backup"]);
    assert_eq!(code, 1, "--out is required: {err}");
    let (code, _, err) = tenantctl(
        dir.path(),
        &["serve", "--backup-dir", "b", "--backup-at", "25:00"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--backup-at `25:00` is not a time of day"),
        "{err}"
    );
}

/// The value of `column` in every row of `table` of a backup.
fn column(file: &Path, table: &str, column: &str) -> Vec<Cell> {
    let h = header(file);
    let t = h.tables.iter().find(|t| t.name == table).expect("table");
    let i = t
        .columns
        .iter()
        .position(|c| c.name == column)
        .expect("column");
    rows(file)
        .into_iter()
        .filter(|(name, _)| name == table)
        .map(|(_, mut v)| v.swap_remove(i))
        .collect()
}

fn integer(c: &Cell) -> i64 {
    match c {
        Cell::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A backup taken while the platform writes is one snapshot: the revision in `meta`, the
/// header's, the last audit entry's and the change log's agree, and it restores with its
/// integrity check passing.
async fn a_backup_during_writes_is_one_snapshot(s: &TestServer) {
    fixture::load(s).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, token) = (s.url(), s.system_token().to_string());
    let flag = stop.clone();
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut n = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let r = client
                .put(format!("{url}/api/v1/tenants/globex"))
                .bearer_auth(&token)
                .json(&json!({ "spec": { "display_name": format!("Globex {n}"), "plan": "essential" } }))
                .send()
                .await
                .expect("write");
            assert!(
                r.status().is_success(),
                "{}",
                r.text().await.unwrap_or_default()
            );
            n += 1;
        }
        n
    });
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let file = dir.path().join(format!("live-{i}.backup"));
        let (d, url, f) = (
            dir.path().to_path_buf(),
            s.database_url.clone(),
            file.clone(),
        );
        tokio::task::spawn_blocking(move || backed_up(&d, &url, &f))
            .await
            .unwrap();
        let h = header(&file);
        let meta = column(&file, "meta", "revision");
        assert_eq!(integer(&meta[0]), h.revision, "meta and the header");
        let last_audit = column(&file, "audit", "revision").iter().map(integer).max();
        assert_eq!(
            last_audit,
            Some(h.revision),
            "the last audit entry is the last write's"
        );
        let last_change = column(&file, "changes", "revision")
            .iter()
            .map(integer)
            .max();
        assert_eq!(
            last_change,
            Some(h.revision),
            "the change log ends at the same write"
        );
        let target = format!(
            "sqlite://{}",
            dir.path().join(format!("live-{i}.db")).display()
        );
        let (code, out, err) = tenantctl(
            dir.path(),
            &["restore", "--database", &target, file.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.await.unwrap();
    assert!(writes > 0, "the platform wrote during the backups");
}

crate::on_both!(a_backup_during_writes_is_one_snapshot);

/// On PostgreSQL a restore moves the sequence of a serial or identity column past the
/// restored values (no table of today's schema has one: the store's functions, on a table
/// made for the test), so the next insert does not collide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_rows_move_postgres_sequences_past_them() {
    use tenantctl::server::store::Db;
    let Some((url, (admin, name))) = new_postgres_database().await else {
        return;
    };
    let db = Db::connect(&url).await.unwrap();
    let Db::Postgres(pool) = &db else {
        unreachable!()
    };
    for q in [
        "CREATE TABLE numbered (id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL, done BOOLEAN NOT NULL, at TIMESTAMPTZ, doc JSONB)",
        "CREATE TABLE counted (n INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, label TEXT)",
    ] {
        sqlx::query(q).execute(pool).await.unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    let tables = tx.tables().await.unwrap();
    for (name, rows) in [
        (
            "numbered",
            vec![
                vec![
                    Cell::Integer(41),
                    Cell::Text("a".into()),
                    Cell::Integer(1),
                    Cell::Text("2026-11-30T02:00:00.000000Z".into()),
                    Cell::Text(r#"{"k": [1, 2]}"#.into()),
                ],
                vec![
                    Cell::Integer(42),
                    Cell::Text("b".into()),
                    Cell::Integer(0),
                    Cell::Null,
                    Cell::Null,
                ],
            ],
        ),
        (
            "counted",
            vec![vec![Cell::Integer(7), Cell::Text("x".into())]],
        ),
    ] {
        let t = tables.iter().find(|t| t.name == name).unwrap();
        tx.insert_rows(t, &rows).await.unwrap();
        tx.reset_sequences(t).await.unwrap();
    }
    // The values read back as they went in.
    let numbered = tables.iter().find(|t| t.name == "numbered").unwrap();
    let mut back = Vec::new();
    {
        use futures_util::TryStreamExt;
        let mut rows = tx.rows(numbered);
        while let Some(r) = rows.try_next().await.unwrap() {
            back.push(r);
        }
    }
    assert_eq!(back[0][2], Cell::Integer(1), "a boolean travels as 1");
    assert_eq!(back[0][3], Cell::Text("2026-11-30T02:00:00.000000Z".into()));
    assert_eq!(back[0][4], Cell::Text(r#"{"k": [1, 2]}"#.into()));
    tx.commit().await.unwrap();
    let next: i64 =
        sqlx::query_scalar("INSERT INTO numbered (label, done) VALUES ('c', true) RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(next, 43);
    let next: i32 = sqlx::query_scalar("INSERT INTO counted (label) VALUES ('y') RETURNING n")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(next, 8);
    db.close().await;
    crate::common::drop_postgres_database(&admin, &name).await;
}

/// `serve --backup-dir` says in its log that backups are scheduled, when and for how long
/// they are kept (the schedule itself runs on a simulated clock in the library's tests).
#[test]
fn serve_announces_its_backup_schedule() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let backups = dir.path().join("backups");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("tenantctl"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--backup-dir",
        ])
        .arg(&backups)
        .args(["--backup-at", "03:30", "--backup-keep", "7d"])
        .env("NO_COLOR", "1")
        .env_remove("TENANTCTL_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(stderr);
    let mut found = None;
    for _ in 0..50 {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("scheduled backups on") {
            found = Some(line.clone());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let found = found.expect("the log announces the schedule");
    assert!(
        found.contains("03:30 UTC") && found.contains("keep_days=7"),
        "{found}"
    );
    assert!(found.contains(backups.to_str().unwrap()), "{found}");
}
