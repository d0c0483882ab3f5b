//! `tenantctl token create`: mint an API token, directly in a database (`--database`) or
//! through `POST /api/v1/tokens` with a system token. The token is printed alone on stdout.

use miette::{miette, IntoDiagnostic};

use super::{print, Exit, Settings};
use crate::cli::TokenCreateArgs;

pub fn run(a: TokenCreateArgs, settings: &Settings) -> miette::Result<Exit> {
    let global = &settings.connection;
    let rt = super::runtime()?;
    let token = rt.block_on(async {
        if let Some(db) = &a.database {
            return crate::server::mint_token(db, &a.scope, &a.role, a.user.as_deref(), a.description.as_deref()).await.into_diagnostic();
        }
        let Some(endpoint) = &global.endpoint else {
            return Err(miette!(help = "pass --database URL to mint in a database, or --endpoint URL and --token TOKEN (a system token)", "no platform to mint the token on"));
        };
        let Some(bearer) = &global.token else {
            return Err(miette!(help = "set TENANTCTL_TOKEN or pass --token with a system token", "minting a token through the API needs a system token"));
        };
        let body = crate::api::TokenRequest { scope: a.scope.clone(), role: a.role.clone(), user: a.user.clone(), description: a.description.clone() };
        let client = reqwest::Client::builder().timeout(global.timeout).build().into_diagnostic()?;
        let url = format!("{}{}/tokens", endpoint.trim_end_matches('/'), crate::api::PREFIX);
        let resp = client.post(&url).bearer_auth(bearer).json(&body).send().await.map_err(|e| miette!("cannot reach `{url}`: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.into_diagnostic()?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<crate::api::ErrorBody>(&bytes).map(|e| format!("{} ({})", e.message, e.code)).unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(miette!("the platform refused: {status}: {msg}"));
        }
        let out: crate::api::TokenResponse = serde_json::from_slice(&bytes).into_diagnostic()?;
        Ok(out.token)
    })?;
    print(&format!("{token}\n"), Exit::Failure)?;
    Ok(Exit::Success)
}
