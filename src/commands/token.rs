//! `tenantctl token create`: mint an API token, directly in a database (`--database`) or
//! through `POST /api/v1/tokens` with a system token. The token is printed alone on stdout.

use miette::{miette, IntoDiagnostic};

use super::{print, Exit, Settings};
use crate::api::TokenRequest;
use crate::cli::TokenCreateArgs;
use crate::client::{Client, ClientConfig};

pub fn run(a: TokenCreateArgs, settings: &Settings) -> miette::Result<Exit> {
    let connection = &settings.connection;
    let rt = super::runtime()?;
    let token = rt.block_on(async {
        if let Some(db) = &a.database {
            return crate::server::mint_token(
                db,
                &a.scope,
                a.role.as_deref(),
                a.user.as_deref(),
                a.description.as_deref(),
            )
            .await
            .into_diagnostic();
        }
        let Some(endpoint) = &connection.endpoint else {
            return Err(miette!(
                help = "pass --database URL to mint in a database, or --endpoint URL and --token TOKEN (a system token)",
                "no platform to mint the token on"
            ));
        };
        let Some(bearer) = &connection.token else {
            return Err(miette!(
                help = "set TENANTCTL_TOKEN or pass --token with a system token",
                "minting a token through the API needs a system token"
            ));
        };
        let mut config = ClientConfig::new(endpoint, Some(bearer.clone()));
        config.timeout = connection.timeout;
        let client = Client::new(config).into_diagnostic()?;
        let request = TokenRequest {
            scope: a.scope.clone(),
            role: a.role.clone(),
            user: a.user.clone(),
            description: a.description.clone(),
        };
        let created = client.create_token(&request).await.into_diagnostic()?;
        Ok(created.token)
    })?;
    print(&format!("{token}\n"), Exit::Failure)?;
    Ok(Exit::Success)
}
