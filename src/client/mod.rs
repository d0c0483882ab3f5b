//! The only module that speaks HTTP to the platform: reqwest over rustls, connect and
//! request timeouts, retries with jittered exponential backoff (connection errors, 429 with
//! `Retry-After`, 5xx) for requests that are safe to repeat, a client-side request rate limit,
//! and the change-set id and CI commit on every write.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, IF_MATCH, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::api::{
    self, BatchRequest, BatchResponse, ErrorBody, PutBody, ResourceBody, SensitiveFieldList,
    TokenRequest, TokenResponse, WhoAmI,
};
use crate::model::{keys, Kind, State};

/// An error talking to the platform. Messages name the endpoint and what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a valid endpoint URL")]
    InvalidEndpoint(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("cannot reach the platform at `{url}` after {attempts} attempt(s)")]
    Unreachable {
        url: String,
        attempts: u32,
        source: reqwest::Error,
    },
    #[error("the platform answered {status} to {method} `{url}`: {} (`{}`)", body.message, body.code)]
    Api {
        method: String,
        url: String,
        status: u16,
        body: Box<ErrorBody>,
    },
    #[error("unexpected answer from {method} `{url}`: {message}")]
    Decode {
        method: String,
        url: String,
        message: String,
    },
}

impl ClientError {
    /// The API error code (`stale_revision`, `rule_violation`, …) if the platform answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How the client is set up (resolved from flags and environment).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub endpoint: String,
    pub token: Option<String>,
    /// Timeout of one request.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Requests per second (0: unlimited).
    pub max_rps: u32,
    /// Attempts of a request safe to repeat (1: no retry).
    pub max_attempts: u32,
    /// First backoff delay; doubled on every attempt, with full jitter, capped at 20 s.
    pub backoff: Duration,
    /// Sent as `x-tenantctl-change-set` on every write.
    pub change_set: String,
    /// Sent as `x-tenantctl-commit` on every write.
    pub commit: Option<String>,
    /// Who applies, named in the platform's apply lock: the CI run, or `user@host`.
    pub holder: String,
    /// The apply lock's lease; apply renews it every third of it.
    pub lock_ttl: Duration,
}

impl ClientConfig {
    /// Defaults for `endpoint`: a fresh change-set id and the CI commit from `GITHUB_SHA`
    /// or `CI_COMMIT_SHA`.
    pub fn new(endpoint: &str, token: Option<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.to_string(),
            token,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_rps: 0,
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            change_set: uuid::Uuid::new_v4().to_string(),
            commit: ci_commit(),
            holder: holder(),
            lock_ttl: Duration::from_secs(60),
        }
    }
}

/// The commit a CI job runs on: `GITHUB_SHA` (GitHub Actions) or `CI_COMMIT_SHA` (GitLab).
pub fn ci_commit() -> Option<String> {
    ["GITHUB_SHA", "CI_COMMIT_SHA"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
}

/// Whether a request may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads, and writes guarded by a version or revision precondition: a repeat of an
    /// applied write fails its precondition instead of applying twice.
    Safe,
    /// Only retried when the request was certainly not processed (connection refused, 429).
    Unsafe,
}

/// A response's body in one buffer, sized by its `Content-Length` (up to 64 MiB ahead): the
/// chunks are copied in as they arrive. `Response::bytes` keeps every chunk until the end,
/// then copies them: twice the body at once, 80 MB for the live state of `large`.
async fn body_of(mut resp: reqwest::Response) -> Result<bytes::Bytes, reqwest::Error> {
    let expected = resp.content_length().unwrap_or(0).min(64 << 20);
    let mut buf = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        buf.extend_from_slice(&chunk);
    }
    Ok(bytes::Bytes::from(buf))
}

/// A client of one platform.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
    next_slot: Mutex<Instant>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// The body of `POST /batch`: the owned [`BatchRequest`] or a view of it that serialises
/// the same JSON.
pub trait BatchBody: serde::Serialize {
    /// Whether the batch carries an expected revision (then a repeat cannot apply twice).
    fn guarded(&self) -> bool;
}

impl BatchBody for BatchRequest {
    fn guarded(&self) -> bool {
        self.expected_revision.is_some()
    }
}

/// The URL path segments of a resource (`/tenants/acme/workspaces/paris`).
pub fn resource_segments(kind: Kind, key: &str) -> Option<Vec<String>> {
    let s = |x: &str| x.to_string();
    Some(match kind {
        Kind::Plan | Kind::Model | Kind::Role | Kind::Tenant | Kind::User => {
            vec![s(kind.plural()), s(key)]
        }
        Kind::Workspace => {
            let (t, w) = keys::split2(key)?;
            vec![s("tenants"), s(t), s("workspaces"), s(w)]
        }
        Kind::TenantModel => {
            let (t, m) = keys::split2(key)?;
            vec![s("tenants"), s(t), s("models"), s(m)]
        }
        Kind::Grant => {
            let (t, w, g) = keys::split_grant(key)?;
            vec![
                s("tenants"),
                s(t),
                s("workspaces"),
                s(w),
                s("grants"),
                g.to_string(),
            ]
        }
        Kind::Membership => {
            let (u, t) = keys::split2(key)?;
            vec![s("users"), s(u), s("memberships"), s(t)]
        }
        Kind::UserModel => {
            let (u, m) = keys::split2(key)?;
            vec![s("users"), s(u), s("models"), s(m)]
        }
    })
}

fn jittered(base: Duration, attempt: u32) -> Duration {
    let cap = Duration::from_secs(20);
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    let millis = exp.as_millis().max(1) as u64;
    Duration::from_millis(rand::random_range(millis / 2..=millis))
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(120)))
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let mut base = Url::parse(config.endpoint.trim_end_matches('/'))
            .map_err(|_| ClientError::InvalidEndpoint(config.endpoint.clone()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::InvalidEndpoint(config.endpoint.clone()));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("tenantctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(Client {
            http,
            base,
            config,
            next_slot: Mutex::new(Instant::now()),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    pub fn change_set(&self) -> &str {
        &self.config.change_set
    }

    /// Who applies, as the apply lock names it.
    pub fn holder(&self) -> &str {
        &self.config.holder
    }

    /// The apply lock's lease.
    pub fn lock_ttl(&self) -> Duration {
        self.config.lock_ttl
    }

    fn url(&self, segments: &[String]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    /// Waits for the next request slot under `--max-rps`.
    async fn throttle(&self) {
        if self.config.max_rps == 0 {
            return;
        }
        let interval = Duration::from_secs_f64(1.0 / f64::from(self.config.max_rps));
        let wait_until = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }

    /// Sends one request with retries; returns the status, headers and body of the final
    /// answer (any status) or the transport error.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&bytes::Bytes>,
        if_match: Option<i64>,
        repeat: Repeat,
    ) -> Result<(StatusCode, bytes::Bytes), ClientError> {
        let is_write = method != Method::GET;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.throttle().await;
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(t) = &self.config.token {
                req = req.header(AUTHORIZATION, format!("Bearer {t}"));
            }
            if let Some(v) = if_match {
                req = req.header(IF_MATCH, format!("\"{v}\""));
            }
            if is_write {
                if let Ok(v) = HeaderValue::from_str(&self.config.change_set) {
                    req = req.header(api::CHANGE_SET_HEADER, v);
                }
                if let Some(c) = self
                    .config
                    .commit
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                {
                    req = req.header(api::COMMIT_HEADER, c);
                }
            }
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            let last = attempt >= self.config.max_attempts.max(1);
            match req.send().await {
                Err(e) => {
                    // A refused connection was certainly not processed; anything else
                    // (timeout, reset) may have been.
                    let retry =
                        !last && (repeat == Repeat::Safe || (e.is_connect() && !e.is_timeout()));
                    if !retry {
                        return Err(ClientError::Unreachable {
                            url: url.to_string(),
                            attempts: attempt,
                            source: e,
                        });
                    }
                    tokio::time::sleep(jittered(self.config.backoff, attempt - 1)).await;
                }
                Ok(resp) => {
                    let status = resp.status();
                    let after = retry_after(resp.headers());
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE
                        || (repeat == Repeat::Safe && status.is_server_error());
                    if retryable && !last {
                        let wait =
                            after.unwrap_or_else(|| jittered(self.config.backoff, attempt - 1));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let bytes = body_of(resp).await.map_err(|e| ClientError::Unreachable {
                        url: url.to_string(),
                        attempts: attempt,
                        source: e,
                    })?;
                    return Ok((status, bytes));
                }
            }
        }
    }

    fn error(method: &Method, url: &Url, status: StatusCode, body: &[u8]) -> ClientError {
        let body = serde_json::from_slice::<ErrorBody>(body).unwrap_or_else(|_| ErrorBody {
            code: format!("http_{}", status.as_u16()),
            message: String::from_utf8_lossy(body)
                .chars()
                .take(300)
                .collect::<String>()
                .trim()
                .to_string(),
            details: serde_json::Value::Null,
        });
        ClientError::Api {
            method: method.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
            body: Box::new(body),
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[String],
        body: Option<Vec<u8>>,
        if_match: Option<i64>,
        repeat: Repeat,
    ) -> Result<T, ClientError> {
        let url = self.url(segments);
        // Shared, not copied, by each attempt (a batch from empty is about 120 MB).
        let body = body.map(bytes::Bytes::from);
        let (status, b) = self
            .send(method.clone(), url.clone(), body.as_ref(), if_match, repeat)
            .await?;
        if !status.is_success() {
            return Err(Self::error(&method, &url, status, &b));
        }
        serde_json::from_slice(&b).map_err(|e| ClientError::Decode {
            method: method.to_string(),
            url: url.to_string(),
            message: e.to_string(),
        })
    }

    /// The whole live state visible to the token, in one read.
    pub async fn state(&self) -> Result<State, ClientError> {
        self.json(
            Method::GET,
            &["state".to_string()],
            None,
            None,
            Repeat::Safe,
        )
        .await
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.json(
            Method::GET,
            &["whoami".to_string()],
            None,
            None,
            Repeat::Safe,
        )
        .await
    }

    /// An atomic batch. With an expected revision a repeat cannot apply twice (it would fail
    /// with `stale_revision`), so it is retried like a safe request.
    pub async fn batch<B: BatchBody>(&self, req: &B) -> Result<BatchResponse, ClientError> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode {
            method: "POST".into(),
            url: self.url(&["batch".into()]).to_string(),
            message: e.to_string(),
        })?;
        let repeat = if req.guarded() {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        };
        self.json(
            Method::POST,
            &["batch".to_string()],
            Some(body),
            None,
            repeat,
        )
        .await
    }

    fn segments(kind: Kind, key: &str) -> Result<Vec<String>, ClientError> {
        resource_segments(kind, key).ok_or_else(|| ClientError::Decode {
            method: "-".into(),
            url: "-".into(),
            message: format!("`{key}` is not a valid {kind} key"),
        })
    }

    /// One resource, or `None` when absent.
    pub async fn get(&self, kind: Kind, key: &str) -> Result<Option<ResourceBody>, ClientError> {
        match self
            .json(
                Method::GET,
                &Self::segments(kind, key)?,
                None,
                None,
                Repeat::Safe,
            )
            .await
        {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or overwrites one resource, expecting version `if_version` (0: absent).
    pub async fn put(
        &self,
        kind: Kind,
        key: &str,
        body: &PutBody,
        if_version: i64,
    ) -> Result<ResourceBody, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Decode {
            method: "PUT".into(),
            url: key.into(),
            message: e.to_string(),
        })?;
        self.json(
            Method::PUT,
            &Self::segments(kind, key)?,
            Some(bytes),
            Some(if_version),
            Repeat::Safe,
        )
        .await
    }

    /// Deletes one resource at version `if_version`.
    pub async fn delete(&self, kind: Kind, key: &str, if_version: i64) -> Result<(), ClientError> {
        let segments = Self::segments(kind, key)?;
        let url = self.url(&segments);
        let (status, b) = self
            .send(
                Method::DELETE,
                url.clone(),
                None,
                Some(if_version),
                Repeat::Safe,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::error(&Method::DELETE, &url, status, &b))
        }
    }

    /// Where the sensitive values of the live state came from (`${env:NAME}`), for export.
    pub async fn sensitive_fields(&self) -> Result<SensitiveFieldList, ClientError> {
        self.json(
            Method::GET,
            &["sensitive-fields".to_string()],
            None,
            None,
            Repeat::Safe,
        )
        .await
    }

    /// Mints an API token (`POST /api/v1/tokens`, a system token's right). Not repeated
    /// after a failure whose outcome is unknown: a repeat would mint a second token.
    pub async fn create_token(&self, req: &TokenRequest) -> Result<TokenResponse, ClientError> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode {
            method: "POST".into(),
            url: self.url(&["tokens".into()]).to_string(),
            message: e.to_string(),
        })?;
        self.json(
            Method::POST,
            &["tokens".to_string()],
            Some(body),
            None,
            Repeat::Unsafe,
        )
        .await
    }

    /// The users CSV export (seed 002/004 columns).
    pub async fn users_csv(&self) -> Result<String, ClientError> {
        let url = self.url(&["exports".into(), "users.csv".into()]);
        let (status, b) = self
            .send(Method::GET, url.clone(), None, None, Repeat::Safe)
            .await?;
        if !status.is_success() {
            return Err(Self::error(&Method::GET, &url, status, &b));
        }
        String::from_utf8(b.to_vec()).map_err(|e| ClientError::Decode {
            method: "GET".into(),
            url: url.to_string(),
            message: e.to_string(),
        })
    }
}

mod lock;
mod tokens;

pub use lock::holder;

#[cfg(test)]
mod tests;
