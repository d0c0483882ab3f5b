//! The platform API (`tenantctl serve`): axum over SQLite or PostgreSQL. [`start`] opens and
//! migrates the database, loads the state into memory, binds and serves until
//! [`RunningServer::shutdown`]. See `authz` for the access matrix and `engine` for the write
//! path.

pub mod authz;
pub mod backup;
pub mod engine;
pub mod error;
pub mod http;
pub mod json_schema;
pub mod mail;
pub mod openapi;
pub mod passwords;
pub mod scope;
pub mod sensitive;
pub mod sessions;
pub mod store;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Address to bind; `127.0.0.1:0` picks a free port.
    pub listen: String,
}

/// What `serve` adds to a [`ServerConfig`]: e-mail and the base of links.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub mail: mail::MailConfig,
    /// The base of every link in an e-mail (`https://admin.example`); None: the address the
    /// server listens on.
    pub public_url: Option<String>,
    /// How sessions live and failed sign-ins are throttled.
    pub auth: sessions::AuthPolicy,
    /// Scheduled backups (`--backup-dir`), taken by this process.
    pub backups: Option<backup::schedule::Schedule>,
}

/// An error starting the server or minting a token.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid token request: {0}")]
    InvalidToken(String),
    #[error("cannot load the state: {0}")]
    Load(String),
    #[error(transparent)]
    Mail(#[from] mail::MailError),
}

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// A system token minted because the database was new (shown once).
    pub bootstrap_token: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// On PostgreSQL, the listener of other processes' writes.
    listener: Option<JoinHandle<()>>,
    /// The sender of the outbox (None without SMTP settings).
    mailer: Option<JoinHandle<()>>,
    /// The scheduled backups (None without `--backup-dir`).
    backups: Option<JoinHandle<()>>,
    db: store::Db,
}

impl RunningServer {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish, closes the database.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        for task in [
            self.listener.take(),
            self.mailer.take(),
            self.backups.take(),
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
            let _ = task.await;
        }
        self.db.close().await;
    }

    /// How many e-mails wait in the outbox, and how many were sent.
    pub async fn outbox_counts(&self) -> Result<store::OutboxCounts, store::StoreError> {
        self.db.outbox_counts().await
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Opens the database (creating a SQLite file and its directory if missing), migrates it,
/// mints a bootstrap system token on a new database, binds and serves in the background.
/// E-mail stays in the outbox (see [`start_with`]).
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    start_with(config, ServeOptions::default()).await
}

/// [`start`], with e-mail delivered as `options` say and links based on its public URL.
pub async fn start_with(
    config: ServerConfig,
    options: ServeOptions,
) -> Result<RunningServer, ServerError> {
    let db = store::Db::connect(&config.database_url).await?;
    let bootstrap_token = if db.has_tokens().await? {
        None
    } else {
        Some(
            tokens::create(&db, "system", None, None, Some("bootstrap"), None, None)
                .await?
                .token,
        )
    };
    let engine = Arc::new(
        engine::Engine::load(db.clone())
            .await
            .map_err(|e| ServerError::Load(e.to_string()))?,
    );
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen.clone(),
        source,
    })?;
    let replica = engine::listen(&engine);
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mailer = mail::spawn(Arc::clone(&engine), &options.mail, &public_url)?;
    let backups = options.backups.clone().map(|schedule| {
        tokio::spawn(backup::schedule::run(
            db.clone(),
            schedule,
            backup::schedule::SystemClock,
            None,
        ))
    });
    let app = http::router(engine, public_url, options.auth)
        .into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "server stopped");
        }
    });
    tracing::info!(%addr, "listening");
    Ok(RunningServer {
        addr,
        bootstrap_token,
        shutdown: Some(tx),
        task,
        listener: replica,
        mailer,
        backups,
        db,
    })
}

/// Mints a token directly in the database at `database_url` (migrating it if new), expiring
/// at `expires_at` (RFC 3339) if given; returns the secret, shown once.
pub async fn mint_token(
    database_url: &str,
    scope: &str,
    role: Option<&str>,
    user: Option<&str>,
    description: Option<&str>,
    expires_at: Option<&str>,
) -> Result<String, ServerError> {
    let db = store::Db::connect(database_url).await?;
    let out = tokens::create(&db, scope, role, user, description, expires_at, None).await;
    db.close().await;
    Ok(out?.token)
}
