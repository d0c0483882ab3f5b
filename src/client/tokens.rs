//! The platform's tokens, from the client's side: list them and revoke one (minting is
//! `Client::create_token`).

use reqwest::Method;

use crate::api::TokenList;

use super::{Client, ClientError, Repeat};

impl Client {
    /// Every token of the platform (system tokens only), oldest first.
    pub async fn list_tokens(&self) -> Result<TokenList, ClientError> {
        self.json(
            Method::GET,
            &["tokens".to_string()],
            None,
            None,
            Repeat::Safe,
        )
        .await
    }

    /// Revokes token `id` (revoking twice is not an error: the token stays revoked).
    pub async fn revoke_token(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["tokens".to_string(), id.to_string()]);
        let (status, b) = self
            .send(Method::DELETE, url.clone(), None, None, Repeat::Safe)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::error(&Method::DELETE, &url, status, &b))
        }
    }
}
