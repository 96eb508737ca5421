//! The account's share links over the API: make one for chosen images, list them with
//! their views, revoke one. The link itself is in the answer to `POST /shares` only.

use imagevault_common::api::{ShareCreated, ShareList, ShareRequest};
use reqwest::Method;
use uuid::Uuid;

use super::{Api, Token, authed, json, send};
use crate::error::Result;

impl Api {
    /// `POST /shares`: a new link; its `url` is never shown again.
    pub async fn create_share(
        &self,
        token: &Token,
        request: &ShareRequest,
    ) -> Result<ShareCreated> {
        let req = authed(self.call(Method::POST, self.url("shares")), token).json(request);
        json(send(req).await?).await
    }

    /// `GET /shares`: the account's links, newest first.
    pub async fn shares(&self, token: &Token) -> Result<ShareList> {
        let req = authed(self.call(Method::GET, self.url("shares")), token);
        json(send(req).await?).await
    }

    /// `DELETE /shares/{id}`: the link stops working at once.
    pub async fn revoke_share(&self, token: &Token, id: Uuid) -> Result<()> {
        let url = self.url(&format!("shares/{id}"));
        send(authed(self.call(Method::DELETE, url), token))
            .await
            .map(drop)
    }
}
