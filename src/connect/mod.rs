//! The platform a command talks to: the `--endpoint` with its token, or the embedded local
//! platform (the same server, in-process on a loopback port over `<local dir>/local.db`;
//! [`embedded`]). Either way a command gets one [`Client`].

pub mod embedded;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, ClientConfig, ClientError};

/// Where and how to reach the platform, resolved from flags, environment and defaults.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The remote platform's base URL; `None`: the embedded local platform.
    pub endpoint: Option<String>,
    pub token: Option<String>,
    /// The directory of the embedded platform's database and token.
    pub local_dir: PathBuf,
    /// Requests per second (0: unlimited).
    pub max_rps: u32,
    /// Timeout of one request.
    pub timeout: Duration,
    /// The apply lock's lease.
    pub lock_ttl: Duration,
}

/// Why the platform could not be reached or started.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
}

/// A connected platform. [`Platform::close`] stops the embedded server, if any.
pub struct Platform {
    pub client: Arc<Client>,
    /// The endpoint as recorded in saved plans (`embedded:<path>` for the local platform).
    pub label: String,
    embedded: Option<embedded::Embedded>,
}

impl Platform {
    /// Connects to the endpoint, or starts the embedded local platform.
    pub async fn connect(c: &Connection) -> Result<Platform, ConnectError> {
        match &c.endpoint {
            Some(endpoint) => Ok(Platform {
                client: Arc::new(Client::new(client_config(c, endpoint, c.token.clone()))?),
                label: endpoint.trim_end_matches('/').to_string(),
                embedded: None,
            }),
            None => {
                let e = embedded::Embedded::start(&c.local_dir).await?;
                let client = Client::new(client_config(c, &e.url, Some(e.token.clone())))?;
                Ok(Platform {
                    client: Arc::new(client),
                    label: format!("embedded:{}", e.db_path.display()),
                    embedded: Some(e),
                })
            }
        }
    }

    /// The embedded platform's database, when the platform is the embedded one.
    pub fn embedded_db(&self) -> Option<&Path> {
        self.embedded.as_ref().map(|e| e.db_path.as_path())
    }

    /// Stops the embedded server cleanly (a no-op for a remote endpoint).
    pub async fn close(self) {
        drop(self.client);
        if let Some(e) = self.embedded {
            e.stop().await;
        }
    }
}

fn client_config(c: &Connection, endpoint: &str, token: Option<String>) -> ClientConfig {
    let mut config = ClientConfig::new(endpoint, token);
    config.timeout = c.timeout;
    config.max_rps = c.max_rps;
    config.lock_ttl = c.lock_ttl;
    config
}
