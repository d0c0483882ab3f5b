//! The one error type of the platform API. Every failure becomes a JSON `{code, message,
//! details}` answer here; 5xx details are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::api::ErrorBody;
use crate::rules::Violation;

use super::store::StoreError;

/// An error answered by the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (query, path, header, JSON syntax).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// 401: no token, or an unknown one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource (or not visible to the token).
    #[error("{message}")]
    NotFound { message: String, details: Value },
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the state's revision moved (batch precondition) or a conflict.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// 412: a resource's version moved.
    #[error("{message}")]
    StaleVersion { message: String, details: Value },
    /// 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed JSON that does not fit the schema.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// 422: the write would break a rule of the platform.
    #[error("{message}")]
    Rules {
        message: String,
        violations: Vec<Violation>,
    },
    /// 429: too many failed attempts; retry after this many seconds (`Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    /// 503: the request took too long.
    #[error("the request timed out")]
    Timeout,
    /// 500: a bug or an unavailable database; the details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::NotFound {
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(message.into())
    }

    pub fn invalid(code: &'static str, message: impl Into<String>, details: Value) -> ApiError {
        ApiError::Invalid {
            code,
            message: message.into(),
            details,
        }
    }

    /// Adds the index of the batch operation that failed to the details.
    pub fn at_operation(self, index: usize) -> ApiError {
        fn add(details: Value, index: usize) -> Value {
            match details {
                Value::Object(mut m) => {
                    m.insert("operation".into(), json!(index));
                    Value::Object(m)
                }
                Value::Null => json!({ "operation": index }),
                other => json!({ "operation": index, "context": other }),
            }
        }
        match self {
            ApiError::BadRequest {
                code,
                message,
                details,
            } => ApiError::BadRequest {
                code,
                message: format!("operation {index}: {message}"),
                details: add(details, index),
            },
            ApiError::NotFound { message, details } => ApiError::NotFound {
                message: format!("operation {index}: {message}"),
                details: add(details, index),
            },
            ApiError::StaleVersion { message, details } => ApiError::StaleVersion {
                message: format!("operation {index}: {message}"),
                details: add(details, index),
            },
            ApiError::Invalid {
                code,
                message,
                details,
            } => ApiError::Invalid {
                code,
                message: format!("operation {index}: {message}"),
                details: add(details, index),
            },
            ApiError::Conflict {
                code,
                message,
                details,
            } => ApiError::Conflict {
                code,
                message: format!("operation {index}: {message}"),
                details: add(details, index),
            },
            ApiError::Forbidden(m) => ApiError::Forbidden(format!("operation {index}: {m}")),
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::StaleVersion { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } | ApiError::Rules { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire body.
    pub fn body(&self) -> ErrorBody {
        let (code, details) = match self {
            ApiError::BadRequest { code, details, .. } => (*code, details.clone()),
            ApiError::Unauthorized(_) => ("unauthorized", Value::Null),
            ApiError::Forbidden(_) => ("forbidden", Value::Null),
            ApiError::NotFound { details, .. } => ("not_found", details.clone()),
            ApiError::MethodNotAllowed => ("method_not_allowed", Value::Null),
            ApiError::Conflict { code, details, .. } => (*code, details.clone()),
            ApiError::StaleVersion { details, .. } => ("stale_version", details.clone()),
            ApiError::PayloadTooLarge(_) => ("payload_too_large", Value::Null),
            ApiError::UnsupportedMediaType(_) => ("unsupported_media_type", Value::Null),
            ApiError::Invalid { code, details, .. } => (*code, details.clone()),
            ApiError::Rules { violations, .. } => {
                ("rule_violation", json!({ "violations": violations }))
            }
            ApiError::TooManyRequests {
                code,
                retry_after_secs,
                ..
            } => (*code, json!({ "retry_after": retry_after_secs })),
            ApiError::Timeout => ("timeout", Value::Null),
            ApiError::Internal(_) => ("internal", Value::Null),
        };
        let message = match self {
            ApiError::Internal(_) => "internal error; see the server log".to_string(),
            other => other.to_string(),
        };
        let details = if details.is_null() {
            json!({})
        } else {
            details
        };
        ErrorBody {
            code: code.to_string(),
            message,
            details,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| {
            b"{\"code\":\"internal\",\"message\":\"\",\"details\":{}}".to_vec()
        });
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
