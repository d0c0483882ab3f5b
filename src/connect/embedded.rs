//! The embedded local platform: the platform's server started in-process on a loopback port
//! over the SQLite database `<dir>/local.db` (0600), with a system token kept in
//! `<dir>/local.token` (0600), minted on first use; `<dir>/.gitignore` keeps both out of git.

use std::path::{Path, PathBuf};

use crate::server::{self, RunningServer, ServerConfig, ServerError};

/// Why the embedded platform could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot create `{}`", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{}`", path.display())]
    WriteToken {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the embedded local platform over `{}`: {error}", db.display())]
    Start { db: PathBuf, error: ServerError },
    #[error("cannot mint a token for the embedded local platform: {0}")]
    Mint(ServerError),
}

/// The `.gitignore` written in the embedded platform's directory.
const GITIGNORE: &str = "# Written by tenantctl: the embedded local platform's database (every user, every\n# token hash) and its token stay out of git.\n*\n";

/// A running embedded platform.
pub struct Embedded {
    pub url: String,
    pub token: String,
    pub db_path: PathBuf,
    server: RunningServer,
}

fn write_token(path: &Path, token: &str) -> Result<(), EmbeddedError> {
    let err = |source| EmbeddedError::WriteToken {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, format!("{token}\n")).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(())
}

impl Embedded {
    /// Starts the server over `<dir>/local.db` (creating it) with the token of
    /// `<dir>/local.token`: the bootstrap token of a new database, the saved one, or a new one.
    pub async fn start(dir: &Path) -> Result<Embedded, EmbeddedError> {
        std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        // The database and the token never belong in git: the directory ignores itself.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, GITIGNORE).map_err(|source| EmbeddedError::CreateDir {
                path: ignore.clone(),
                source,
            })?;
        }
        let db_path = dir.join("local.db");
        let token_path = dir.join("local.token");
        let database_url = format!("sqlite://{}", db_path.display());
        let server = server::start(ServerConfig {
            database_url: database_url.clone(),
            listen: "127.0.0.1:0".into(),
        })
        .await
        .map_err(|error| EmbeddedError::Start {
            db: db_path.clone(),
            error,
        })?;
        let token = match (
            &server.bootstrap_token,
            std::fs::read_to_string(&token_path),
        ) {
            (Some(t), _) => {
                write_token(&token_path, t)?;
                t.clone()
            }
            (None, Ok(t)) if !t.trim().is_empty() => t.trim().to_string(),
            (None, _) => {
                let t = server::mint_token(
                    &database_url,
                    "system",
                    None,
                    None,
                    Some("embedded local platform"),
                    None,
                )
                .await
                .map_err(EmbeddedError::Mint)?;
                write_token(&token_path, &t)?;
                t
            }
        };
        Ok(Embedded {
            url: server.url(),
            token,
            db_path,
            server,
        })
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
