//! API errors: a status and a message, rendered as JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use raceway_store::StoreError;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// The body of every error answer: `{"error": message}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// The error answers of a route that reads one trace (for the OpenAPI document).
#[derive(IntoResponses)]
#[allow(dead_code)] // Describes `ApiError` answers; never built.
pub(crate) enum TraceErrors {
    /// A parameter is malformed.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No such trace.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The store could not answer.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The error answers of a route that reads a list (for the OpenAPI document).
#[derive(IntoResponses)]
#[allow(dead_code)] // Describes `ApiError` answers; never built.
pub(crate) enum ListErrors {
    /// A parameter is malformed.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// The store could not answer.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// An error answer of the query API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// A 400 answer: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// A 404 answer.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl ApiError {
    /// A 500 answer: a bug or a crashed worker, not the request's fault.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "query API internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::warn!(error = %err, "store query failed");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the store could not answer: {err}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
