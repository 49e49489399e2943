//! Errors as RFC 9457 `application/problem+json`. Every refusal has its own status and `type`;
//! a database failure is a 500 with no internals in the body (they go to the log).

use super::store::StoreError;
use crate::domain::api::{Problem, ProblemField};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<ProblemField>,
    pub violations: Option<serde_json::Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            violations: None,
            retry_after: None,
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid token",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn invalid(pointer: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request",
            detail.clone(),
        );
        e.errors.push(ProblemField {
            pointer: pointer.to_string(),
            detail,
        });
        e
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request",
        )
    }
}

/// The `Retry-After` of a 503 for a storage failure (a full disk, a pool timeout...).
const STORAGE_RETRY_AFTER_SECS: u64 = 5;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::VersionMismatch { current } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version-mismatch",
                "The item changed",
                format!("the item is at version {current}; reload it and try again"),
            ),
            StoreError::Conflict(detail) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "conflict",
                "Conflict",
                detail,
            ),
            StoreError::Stale(changes) => {
                let mut e = ApiError::new(
                    StatusCode::CONFLICT,
                    crate::domain::problem::STALE_THREAD,
                    "The thread changed",
                    format!(
                        "{} new message(s) since the one the reply was based on; review them, then edit or send again without base_message_id to confirm",
                        changes.len()
                    ),
                );
                e.violations = crate::domain::problem::ProblemExtension::StaleThread(
                    crate::domain::problem::StaleThread { changes },
                )
                .to_value();
                e
            }
            StoreError::Invalid(detail) => ApiError::invalid("", detail),
            StoreError::InvalidField(pointer, detail) => ApiError::invalid(pointer, detail),
            StoreError::Taken(detail) => ApiError::new(
                StatusCode::CONFLICT,
                "already-exists",
                "Already exists",
                detail,
            ),
            StoreError::Db(_) => {
                if e.is_storage_full() {
                    tracing::error!(error = %e, "the database is out of space; writes are refused until space is freed");
                } else {
                    tracing::error!(error = %e, "database error");
                }
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Storage unavailable",
                    "the store could not complete the request; retry later",
                );
                api.retry_after = Some(STORAGE_RETRY_AFTER_SECS);
                api
            }
            StoreError::Corrupt(e) | StoreError::BadFile(e) => {
                tracing::error!(error = %e, "corrupt stored data");
                ApiError::internal()
            }
        }
    }
}

impl ApiError {
    /// The problem details of this error (the body of its response, or one item's result in a
    /// bulk request).
    pub fn to_problem(&self) -> Problem {
        Problem {
            kind: format!("https://earshot.dev/problems/{}", self.kind),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
            violations: self.violations.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
