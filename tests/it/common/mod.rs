//! What the integration tests share: a real `tenantctl` platform server on an ephemeral
//! loopback port, over a fresh SQLite file in a temp dir or a fresh PostgreSQL database (from
//! `TENANTCTL_TEST_POSTGRES`), with its bootstrap system token and a small HTTP helper; the
//! end-to-end context that runs the real binary against it ([`context`]); the fixture.
//!
//! ```ignore
//! let s = TestServer::sqlite().await;
//! let Some(s) = TestServer::postgres().await else { return }; // loud skip when unset locally
//! let a = s.get("/api/v1/state").await; // a.status, a.body (JSON), a.text
//! ```

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tenantctl::server::{start_with, RunningServer, ServeOptions, ServerConfig};

/// The variable naming the PostgreSQL server used by tests.
pub const POSTGRES_ENV: &str = "TENANTCTL_TEST_POSTGRES";

pub struct TestServer {
    server: Option<RunningServer>,
    system_token: String,
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    /// (admin URL, database name) of a PostgreSQL database to drop at shutdown.
    pg: Option<(String, String)>,
}

/// An HTTP answer: status, headers, and the body parsed as JSON (`Value::Null` if empty,
/// a JSON string if it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestServer {
    /// A server over a new SQLite file.
    pub async fn sqlite() -> TestServer {
        TestServer::sqlite_with(ServeOptions::default()).await
    }

    /// A server over a new SQLite file, serving with `options` (e-mail, public URL).
    pub async fn sqlite_with(options: ServeOptions) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}",
            dir.path().join("nested/dir/platform.db").display()
        );
        TestServer::start(url, Some(dir), None, options).await
    }

    /// A server over a new PostgreSQL database, or `None` (with a loud message on stderr)
    /// when `TENANTCTL_TEST_POSTGRES` is unset locally. Under `CI=true` a missing variable
    /// is a failure.
    pub async fn postgres() -> Option<TestServer> {
        TestServer::postgres_with(ServeOptions::default()).await
    }

    /// [`TestServer::postgres`], serving with `options` (e-mail, public URL).
    pub async fn postgres_with(options: ServeOptions) -> Option<TestServer> {
        let (url, pg) = new_postgres_database().await?;
        Some(TestServer::start(url, None, Some(pg), options).await)
    }

    /// A server over an existing database (a restored one), with a token it knows; a
    /// PostgreSQL database `pg` (admin URL, name) is dropped at shutdown.
    pub async fn open(
        database_url: String,
        token: &str,
        pg: Option<(String, String)>,
    ) -> TestServer {
        let server = start_with(
            ServerConfig {
                database_url: database_url.clone(),
                listen: "127.0.0.1:0".into(),
            },
            ServeOptions::default(),
        )
        .await
        .expect("server starts");
        assert!(
            server.bootstrap_token.is_none(),
            "an existing database has tokens"
        );
        TestServer {
            server: Some(server),
            system_token: token.to_string(),
            database_url,
            client: reqwest::Client::new(),
            _dir: None,
            pg,
        }
    }

    async fn start(
        database_url: String,
        dir: Option<tempfile::TempDir>,
        pg: Option<(String, String)>,
        options: ServeOptions,
    ) -> TestServer {
        let server = start_with(
            ServerConfig {
                database_url: database_url.clone(),
                listen: "127.0.0.1:0".into(),
            },
            options,
        )
        .await
        .expect("server starts");
        let system_token = server
            .bootstrap_token
            .clone()
            .expect("a new database prints a bootstrap token");
        TestServer {
            server: Some(server),
            system_token,
            database_url,
            client: reqwest::Client::new(),
            _dir: dir,
            pg,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server
            .as_ref()
            .map(RunningServer::url)
            .unwrap_or_default()
    }

    /// The bootstrap system token.
    pub fn system_token(&self) -> &str {
        &self.system_token
    }

    /// Stops the server and drops its PostgreSQL database.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some((admin, name)) = self.pg.take() {
            drop_postgres_database(&admin, &name).await;
        }
    }

    /// Sends a request with `token` (None: no Authorization header) and a JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.url()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
        };
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// GET with the system token.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(&self.system_token), None, &[])
            .await
    }

    /// PUT `{spec}` with the system token.
    pub async fn put(&self, path: &str, spec: Value) -> Answer {
        self.call(
            Method::PUT,
            path,
            Some(&self.system_token),
            Some(&serde_json::json!({ "spec": spec })),
            &[],
        )
        .await
    }

    /// POST with the system token.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(
            Method::POST,
            path,
            Some(&self.system_token),
            Some(&body),
            &[],
        )
        .await
    }

    /// DELETE with the system token.
    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, Some(&self.system_token), None, &[])
            .await
    }

    /// A batch with the system token.
    pub async fn batch(&self, body: Value) -> Answer {
        self.post("/api/v1/batch", body).await
    }

    /// Mints a token through the API: its own role (`None`: none) and the user it acts as.
    pub async fn token(&self, scope: &str, role: Option<&str>, user: Option<&str>) -> String {
        let a = self
            .post(
                "/api/v1/tokens",
                serde_json::json!({ "scope": scope, "role": role, "user": user }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "token create: {}", a.text);
        a.body["token"].as_str().expect("token").to_string()
    }
}

/// A new, empty PostgreSQL database on `TENANTCTL_TEST_POSTGRES`: its URL and (admin URL,
/// name) to drop it with; `None` (with a loud message on stderr) when the variable is unset
/// locally. Under `CI=true` a missing variable is a failure.
pub async fn new_postgres_database() -> Option<(String, (String, String))> {
    let admin = match std::env::var(POSTGRES_ENV) {
        Ok(v) if !v.is_empty() => v,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "{POSTGRES_ENV} is not set, and CI=true: the PostgreSQL tests must run in CI"
                );
            }
            eprintln!("\n*** SKIPPED: set {POSTGRES_ENV}=postgres://USER@HOST:PORT/postgres to run the PostgreSQL tests ***\n");
            return None;
        }
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}={admin}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    Some((replace_db(&admin, &name), (admin, name)))
}

/// Drops a PostgreSQL database made by [`new_postgres_database`].
pub async fn drop_postgres_database(admin: &str, name: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}

/// `postgres://u@h:p/db?x` with its database replaced by `name`.
fn replace_db(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Defines one test per backend (`sqlite` and `postgres`) from an `async fn(&TestServer)`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let s = $crate::common::TestServer::sqlite().await;
                    super::$name(&s).await;
                    s.shutdown().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(s) = $crate::common::TestServer::postgres().await else { return };
                    super::$name(&s).await;
                    s.shutdown().await;
                }
            }
        )*
    };
}

pub mod context;
pub mod fixture;
pub mod smtp;

pub use context::Ctx;
