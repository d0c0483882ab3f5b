//! Extractors that answer every bad request with the API's JSON error body: the bearer
//! token, JSON bodies (content type, size, syntax, schema), path parameters, query pairs,
//! `If-Match` and the audit headers.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::api::{CHANGE_SET_HEADER, COMMIT_HEADER};
use crate::server::authz::Principal;
use crate::server::engine::{Mutation, WriteRequest};
use crate::server::error::ApiError;
use crate::server::sessions;
use crate::server::store::{self, AuditCtx};

use super::AppState;

/// SHA-256 of a secret, hex: how tokens and reset links are stored.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The authenticated caller. Its credential's row is read on every request (one indexed
/// read by hash), so a token or a session revoked by any `serve` process over the same
/// database is refused at once (`benches/server_state.rs` measures the read).
pub struct Auth(pub Principal);

/// The bearer secret of a request, or why there is none.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthorized(
            "missing bearer token: send `Authorization: Bearer <TOKEN>`".into(),
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <TOKEN>`".into())
        })
}

/// The principal of a secret: a session (`tcs_…`) or a token, read from the database.
pub async fn authenticate(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let hash = hash_secret(secret);
    if secret.starts_with(sessions::SECRET_PREFIX) {
        let now = store::now_ms();
        let row = state
            .engine
            .db
            .session_by_hash(&hash)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown session".into()))?;
        if let Some(why) = sessions::refusal(&row.life, now) {
            return Err(ApiError::Unauthorized(why));
        }
        if row.life.last_seen_ms <= now - store::SLIDE_EVERY_MS {
            let engine = std::sync::Arc::clone(&state.engine);
            let id = row.id.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.db.slide_session(&id, now).await {
                    tracing::warn!(error = %e, "cannot slide a session's expiry");
                }
            });
        }
        return Ok(sessions::principal(&row));
    }
    let (row, life) = state
        .engine
        .db
        .token_by_hash(&hash)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown token".into()))?;
    if let Some(why) = crate::server::tokens::refusal(&life, OffsetDateTime::now_utc()) {
        return Err(ApiError::Unauthorized(why));
    }
    Ok(Principal {
        token_id: row.id,
        scope: row.scope,
        role: row.role,
        user: row.user,
    })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
        let principal = authenticate(state, bearer(parts)?).await?;
        if let Some(u) = &principal.user {
            state.touch(u);
        }
        Ok(Auth(principal))
    }
}

/// The client's address (the peer of the connection; a proxy's `X-Forwarded-For` is not
/// trusted), `unknown` when the server was not started with connection info.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientAddr, ApiError> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string()),
        ))
    }
}

/// A JSON body: `application/json`, within the route's size limit, well-formed, and of the
/// expected shape (unknown fields are refused by the types).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json"
            && !(mime.starts_with("application/") && mime.ends_with("+json"))
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected `Content-Type: application/json`, got `{}`",
                if ct.is_empty() { "(none)" } else { ct }
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body is larger than this endpoint accepts".into(),
                )
            } else {
                ApiError::bad_request(
                    "bad_body",
                    format!("cannot read the request body: {}", e.body_text()),
                )
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be absent: an empty body is `None`, anything else is read as
/// [`JsonBody`] reads it.
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
            && req.headers().get(header::CONTENT_TYPE).is_none();
        if empty {
            return Ok(OptionalJsonBody(None));
        }
        JsonBody::from_request(req, state)
            .await
            .map(|JsonBody(t)| OptionalJsonBody(Some(t)))
    }
}

/// Whether a JSON text holds the escape `\u0000` in a string (PostgreSQL text cannot store
/// NUL, so the API refuses it everywhere). Raw control characters are invalid JSON already.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u')
                && bytes.get(i + 2..i + 6) == Some(b"0000".as_slice())
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Parses JSON: a syntax error is a 400 `invalid_json`, a shape error a 422 `invalid_body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul_escape(bytes) {
        return Err(ApiError::invalid(
            "invalid_body",
            "strings may not contain the NUL character (`\\u0000`)",
            json!({}),
        ));
    }
    let e = match serde_json::from_slice(bytes) {
        Ok(t) => return Ok(t),
        Err(e) => e,
    };
    if e.classify() == serde_json::error::Category::Data {
        // Retry once with integral floats as integers (`"version": 3.0`).
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if crate::server::json_schema::integral_floats(&mut v) {
                if let Ok(t) = serde_json::from_value(v) {
                    return Ok(t);
                }
            }
        }
    }
    Err({
        let details = json!({ "line": e.line(), "column": e.column() });
        match e.classify() {
            serde_json::error::Category::Data => ApiError::Invalid {
                code: "invalid_body",
                message: format!("the request body does not fit: {e}"),
                details,
            },
            _ => ApiError::BadRequest {
                code: "invalid_json",
                message: format!("the request body is not valid JSON: {e}"),
                details,
            },
        }
    })
}

/// The path parameters, in order, percent-decoded.
pub struct Params(pub Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_path",
                    format!("bad path parameter: {}", e.body_text()),
                )
            })?;
        Ok(Params(raw.iter().map(|(_, v)| v.to_string()).collect()))
    }
}

/// The query string as (name, value) pairs, repeated names kept.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<QueryPairs, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).map_err(|e| {
            ApiError::bad_request("invalid_query", format!("bad query string: {e}"))
        })?;
        Ok(QueryPairs(pairs))
    }
}

impl QueryPairs {
    /// Refuses parameters other than `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.0 {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::BadRequest {
                    code: "invalid_query",
                    message: format!("unknown query parameter `{k}`"),
                    details: json!({ "parameter": k, "allowed": allowed }),
                });
            }
        }
        Ok(())
    }

    /// The single value of `name`.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("query parameter `{name}` is given more than once"),
            ));
        }
        Ok(first)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `limit` (1..=max, default `default`) and `cursor`.
    pub fn page(&self, default: usize, max: usize) -> Result<(usize, Option<String>), ApiError> {
        self.only(&["limit", "cursor"])?;
        let limit = match self.one("limit")? {
            None => default,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(ApiError::BadRequest {
                        code: "invalid_pagination",
                        message: format!("`limit` must be an integer from 1 to {max}, got `{s}`"),
                        details: json!({ "parameter": "limit", "min": 1, "max": max }),
                    })
                }
            },
        };
        let cursor = self.one("cursor")?.map(str::to_string);
        if cursor.as_deref() == Some("") {
            return Err(ApiError::BadRequest {
                code: "invalid_pagination",
                message: "`cursor` is empty: pass the `next_cursor` of the previous page".into(),
                details: json!({ "parameter": "cursor" }),
            });
        }
        Ok((limit, cursor))
    }
}

/// The `If-Match` precondition: a version, or none.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<IfMatch, ApiError> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let bad = || {
            ApiError::bad_request(
                "invalid_if_match",
                "`If-Match` must be `*` or a resource version, e.g. `\"3\"`",
            )
        };
        let s = v.to_str().map_err(|_| bad())?.trim();
        if s == "*" {
            return Ok(IfMatch(None));
        }
        let s = s.strip_prefix("W/").unwrap_or(s);
        let s = match s.strip_prefix('"') {
            Some(rest) => rest.strip_suffix('"').ok_or_else(bad)?,
            None => s,
        };
        if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n = s.parse::<i64>().map_err(|_| bad())?;
        Ok(IfMatch(Some(n)))
    }
}

/// The change-set id and commit an apply sends, for the audit log.
pub struct AuditHeaders {
    pub change_set: Option<String>,
    pub commit: Option<String>,
}

impl AuditHeaders {
    /// A write of `mutations` by `principal`, audited with these headers.
    pub fn write(self, principal: Principal, mutations: Vec<Mutation>) -> WriteRequest {
        let mut w = WriteRequest::new(principal, mutations);
        w.change_set = self.change_set;
        w.commit = self.commit;
        w
    }

    /// Who wrote, at `revision`, for the audit entries of a change that is not a resource.
    pub fn context(self, revision: i64, principal: &Principal) -> AuditCtx {
        AuditCtx {
            revision,
            token_id: principal.token_id.clone(),
            change_set: self.change_set,
            commit: self.commit,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<AuditHeaders, ApiError> {
        let get = |name: &str| -> Result<Option<String>, ApiError> {
            match parts.headers.get(name) {
                None => Ok(None),
                Some(v) => {
                    let s = v.to_str().map_err(|_| {
                        ApiError::bad_request(
                            "invalid_header",
                            format!("`{name}` must be printable ASCII"),
                        )
                    })?;
                    if s.len() > 200 {
                        return Err(ApiError::bad_request(
                            "invalid_header",
                            format!("`{name}` is longer than 200 characters"),
                        ));
                    }
                    Ok(Some(s.to_string()).filter(|s| !s.is_empty()))
                }
            }
        };
        Ok(AuditHeaders {
            change_set: get(CHANGE_SET_HEADER)?,
            commit: get(COMMIT_HEADER)?,
        })
    }
}
