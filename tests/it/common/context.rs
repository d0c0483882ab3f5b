//! The context of an end-to-end test: a platform server (SQLite or PostgreSQL), a temp dir
//! the binary runs in and configurations are written to, the token it uses, and the insta
//! filters that keep transcripts stable. One call runs the real binary:
//!
//! ```ignore
//! let ctx = Ctx::sqlite().await;
//! let v1 = ctx.write_config("v1", &doc);
//! let r = ctx.tenantctl(["apply", "--auto-approve", &v1]).await;
//! let r = ctx.tenantctl(["plan", &v1]).token(&other).await; // as another identity
//! ctx_snapshot!(ctx, "name", r.stderr); // with the URL and the temp dir filtered
//! ```

use std::ffi::OsString;
use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use tenantctl::config::Document;
use tenantctl::model::State;

use super::TestServer;

/// Where `tenantctl` is pointed when a test has no server: a port nothing listens on.
const NOWHERE: &str = "http://127.0.0.1:9";

pub struct Ctx {
    server: Option<TestServer>,
    dir: tempfile::TempDir,
    endpoint: String,
    token: String,
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stderr with miette's wrapped lines joined again (its frame characters dropped), for
    /// `contains` checks of a long message.
    pub fn stderr_flat(&self) -> String {
        self.stderr
            .lines()
            .map(|l| l.trim().trim_start_matches(['│', '×']).trim())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Ctx {
    /// A context on a new server over a new SQLite file.
    pub async fn sqlite() -> Ctx {
        Ctx::on(TestServer::sqlite().await)
    }

    /// A context on a new server over a new PostgreSQL database, or `None` when
    /// `TENANTCTL_TEST_POSTGRES` is unset locally (see [`TestServer::postgres`]).
    pub async fn postgres() -> Option<Ctx> {
        TestServer::postgres().await.map(Ctx::on)
    }

    /// A context on `server`, with its system token.
    pub fn on(server: TestServer) -> Ctx {
        let (endpoint, token) = (server.url(), server.system_token().to_string());
        Ctx {
            server: Some(server),
            dir: tempfile::tempdir().expect("temp dir"),
            endpoint,
            token,
        }
    }

    /// A context without a server, for commands on the desired state alone, the embedded
    /// platform, or runs given their own endpoint ([`Invocation::endpoint`]).
    pub fn without_server() -> Ctx {
        Ctx {
            server: None,
            dir: tempfile::tempdir().expect("temp dir"),
            endpoint: NOWHERE.into(),
            token: "unused".into(),
        }
    }

    /// The server; panics on a context without one.
    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("a context with a server")
    }

    /// The temp dir the binary runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The token `tenantctl` uses unless told otherwise: the server's system token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `tenantctl ARGS` against the server with the context's token, in its temp dir,
    /// without colour and without the CI variables of the environment the tests run in;
    /// `.await` it, after [`Invocation::token`], [`Invocation::env`]… if needed.
    pub fn tenantctl<I, S>(&self, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Invocation {
            args: args.into_iter().map(Into::into).collect(),
            dir: self.dir().to_path_buf(),
            endpoint: Some(self.endpoint.clone()),
            token: self.token.clone(),
            envs: Vec::new(),
        }
    }

    /// The live state, read with the system token.
    pub async fn live(&self) -> State {
        let a = self.server().get("/api/v1/state").await;
        assert!(a.status.is_success(), "state: {}", a.text);
        serde_json::from_value(a.body).expect("state parses")
    }

    /// Writes `doc` as `NAME/config.yaml` in the temp dir; returns its path, for arguments.
    pub fn write_config(&self, name: &str, doc: &Document) -> String {
        let dir = self.dir().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("config.yaml");
        std::fs::write(&path, serde_saphyr::to_string(doc).expect("yaml")).expect("write");
        path_arg(&path)
    }

    /// A path in the temp dir, as an argument.
    pub fn path(&self, name: &str) -> String {
        path_arg(&self.dir().join(name))
    }

    /// insta settings that replace what changes from run to run: the server URL by `URL`,
    /// the temp dir by `[TEMP]`. Used by [`ctx_snapshot!`](crate::ctx_snapshot).
    pub fn settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        for (value, name) in [
            (self.endpoint.as_str(), "URL"),
            (&path_arg(self.dir()), "[TEMP]"),
        ] {
            s.add_filter(&regex_escape(value), name);
        }
        s
    }

    /// Stops the server (and drops its PostgreSQL database).
    pub async fn shutdown(self) {
        if let Some(s) = self.server {
            s.shutdown().await;
        }
    }
}

/// `insta::assert_snapshot!` under the context's filters ([`Ctx::settings`]).
#[macro_export]
macro_rules! ctx_snapshot {
    ($ctx:expr, $($snapshot:tt)*) => {
        $ctx.settings().bind(|| insta::assert_snapshot!($($snapshot)*))
    };
}

/// One run of the binary, to `.await`.
pub struct Invocation {
    args: Vec<OsString>,
    dir: PathBuf,
    /// `None`: no endpoint at all, so `tenantctl` runs the embedded local platform.
    endpoint: Option<String>,
    token: String,
    /// Set (`Some`) or removed (`None`) after the defaults, in order.
    envs: Vec<(String, Option<String>)>,
}

impl Invocation {
    /// Runs with `token` instead of the context's.
    pub fn token(mut self, token: &str) -> Invocation {
        self.token = token.into();
        self
    }

    /// Runs against `url` instead of the context's server.
    pub fn endpoint(mut self, url: &str) -> Invocation {
        self.endpoint = Some(url.into());
        self
    }

    /// Runs against an endpoint where nothing listens, with a token of no use: for commands
    /// that must not need the platform (`explain --path`).
    pub fn nowhere(self) -> Invocation {
        self.endpoint(NOWHERE).token("unused")
    }

    /// Runs without an endpoint or a token: on the embedded local platform in the temp dir.
    pub fn embedded(mut self) -> Invocation {
        self.endpoint = None;
        self
    }

    /// Runs with an extra environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.envs.push((key.into(), Some(value.into())));
        self
    }

    /// Runs without an environment variable, one of the defaults (`NO_COLOR`) included.
    pub fn env_remove(mut self, key: &str) -> Invocation {
        self.envs.push((key.into(), None));
        self
    }

    /// Runs the binary on a blocking thread (it talks to a server on this runtime).
    async fn run(self) -> Run {
        tokio::task::spawn_blocking(move || {
            let mut cmd = assert_cmd::Command::cargo_bin("tenantctl").expect("binary built");
            cmd.args(&self.args)
                .current_dir(&self.dir)
                .env("NO_COLOR", "1")
                .env_remove("GITHUB_SHA")
                .env_remove("CI_COMMIT_SHA")
                .env_remove("TENANTCTL_MAX_RPS")
                .env_remove("TENANTCTL_LOCAL_DIR")
                .timeout(Duration::from_secs(120));
            match &self.endpoint {
                Some(url) => cmd
                    .env("TENANTCTL_ENDPOINT", url)
                    .env("TENANTCTL_TOKEN", &self.token),
                None => cmd
                    .env_remove("TENANTCTL_ENDPOINT")
                    .env_remove("TENANTCTL_TOKEN"),
            };
            for (key, value) in &self.envs {
                match value {
                    Some(v) => cmd.env(key, v),
                    None => cmd.env_remove(key),
                };
            }
            let out = cmd.output().expect("tenantctl runs");
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into(),
                stderr: String::from_utf8_lossy(&out.stderr).into(),
            }
        })
        .await
        .expect("join")
    }
}

impl IntoFuture for Invocation {
    type Output = Run;
    type IntoFuture = Pin<Box<dyn Future<Output = Run> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temp path").to_string()
}

/// `text` as a regular expression that matches it literally.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
