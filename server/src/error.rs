//! HTTP errors: one type, one JSON body shape (`{code, message}`), one status
//! per code. 5xx are logged; their details stay in the log.

use crate::directory::catalog::CatalogError;
use crate::directory::links::LinkError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cadre_protocol::{ErrorBody, ErrorCode, Refusal};
use std::collections::BTreeMap;

/// An API failure.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human sentence.
    pub message: String,
    /// Status, when the code's usual one does not fit.
    pub status: Option<StatusCode>,
    /// Seconds to wait before trying again (`Retry-After`), for refusals
    /// that pass (capacity, rate).
    pub retry_after: Option<u64>,
    /// Which refusal, for a client to word it (see [`Refusal`]).
    pub reason: Option<Refusal>,
    /// The values the refusal's sentence names.
    pub args: BTreeMap<String, String>,
}

impl ApiError {
    /// An error with the code's usual status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: None,
            retry_after: None,
            reason: None,
            args: BTreeMap::new(),
        }
    }

    /// Says which refusal this is, with the values its sentence names.
    pub fn because(self, reason: Refusal, args: &[(&str, &str)]) -> Self {
        let named = ErrorBody::new(self.code, "").because(reason, args);
        ApiError {
            reason: named.reason,
            args: named.args,
            ..self
        }
    }

    /// A failure of ours (storage, a stored entry that no longer parses),
    /// saying what we were doing.
    pub fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        ApiError::new(ErrorCode::Internal, format!("{what}: {e}"))
    }

    /// Overrides the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Tells the client when to try again (`Retry-After`, whole seconds,
    /// at least one).
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(secs.max(1));
        self
    }

    fn status(&self) -> StatusCode {
        self.status.unwrap_or(match self.code {
            ErrorCode::TokenMissing
            | ErrorCode::TokenMalformed
            | ErrorCode::TokenAlgorithm
            | ErrorCode::TokenSignature
            | ErrorCode::TokenExpired
            | ErrorCode::TokenNotYetValid
            | ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::TokenRevoked
            | ErrorCode::WrongSession
            | ErrorCode::SessionEnded
            | ErrorCode::Forbidden
            | ErrorCode::CsrfToken
            | ErrorCode::ForeignOrigin => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::NotOpen => StatusCode::CONFLICT,
            ErrorCode::InvalidInput
            | ErrorCode::MalformedMessage
            | ErrorCode::UnknownMessageType
            | ErrorCode::UnknownPeer => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MessageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::AtCapacity => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && self.code != ErrorCode::AtCapacity {
            tracing::error!(code = %self.code, message = %self.message, "request failed");
        }
        let body = ErrorBody {
            code: self.code,
            message: if status.is_server_error() && self.code == ErrorCode::Internal {
                "internal error; nothing was changed".to_owned()
            } else {
                self.message
            },
            reason: self.reason,
            args: self.args,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        ApiError::new(e.code, e.message)
    }
}

impl From<ErrorBody> for ApiError {
    fn from(e: ErrorBody) -> Self {
        ApiError {
            reason: e.reason,
            args: e.args,
            ..ApiError::new(e.code, e.message)
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid(m) => ApiError::new(ErrorCode::InvalidInput, m),
            CatalogError::NotFound(m) => ApiError::new(ErrorCode::NotFound, m),
            CatalogError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            CatalogError::Refused(body) => ApiError::from(*body),
            // A shared database restarting: said as such, to try again,
            // rather than as an internal error.
            CatalogError::Sql(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "the database cannot be reached");
                ApiError {
                    retry_after: Some(2),
                    ..ApiError::new(
                        ErrorCode::AtCapacity,
                        "the database cannot be reached right now; nothing was changed: try \
                         again in a moment",
                    )
                }
            }
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}
