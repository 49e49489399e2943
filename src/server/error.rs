//! Errors as RFC 9457 `application/problem+json`. Every refusal has its own status and `type`;
//! a database failure is a 500 with no internals in the body (they go to the log).

use super::store::StoreError;
use crate::domain::api::{Problem, ProblemField};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One kind of refusal: its `type` (a URI under [`PROBLEM_BASE`]), the one status it is always
/// answered with, and its title. Every [`ApiError`] is made from one of these, so a problem type
/// cannot be answered with two statuses; the OpenAPI document lists them per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
}

/// Where problem types live: `type` is this followed by the slug.
pub const PROBLEM_BASE: &str = "https://earshot.dev/problems/";

macro_rules! problem_types {
    ($($name:ident = $status:ident $slug:literal $title:literal;)+) => {
        impl ProblemType {
            $(pub const $name: ProblemType = ProblemType {
                slug: $slug,
                status: StatusCode::$status,
                title: $title,
            };)+
            /// Every problem type the server answers with.
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$name),+];
        }
    };
}

problem_types! {
    BAD_REQUEST = BAD_REQUEST "bad-request" "Bad request";
    UNAUTHORIZED = UNAUTHORIZED "unauthorized" "Missing or invalid token";
    INVALID_SIGNATURE = UNAUTHORIZED "invalid-signature" "Signature not valid";
    FORBIDDEN = FORBIDDEN "forbidden" "Not allowed";
    NOT_FOUND = NOT_FOUND "not-found" "Not found";
    METHOD_NOT_ALLOWED = METHOD_NOT_ALLOWED "method-not-allowed" "Method not allowed";
    REQUEST_TIMEOUT = REQUEST_TIMEOUT "request-timeout" "Request timed out";
    ALREADY_EXISTS = CONFLICT "already-exists" "Already exists";
    STALE_THREAD = CONFLICT "stale-thread" "The thread changed";
    VERSION_MISMATCH = PRECONDITION_FAILED "version-mismatch" "The item changed";
    BODY_TOO_LARGE = PAYLOAD_TOO_LARGE "body-too-large" "Body too large";
    UNSUPPORTED_MEDIA_TYPE = UNSUPPORTED_MEDIA_TYPE "unsupported-media-type" "Unsupported media type";
    VALIDATION = UNPROCESSABLE_ENTITY "validation" "Invalid request";
    CONFLICT = UNPROCESSABLE_ENTITY "conflict" "Conflict";
    RULE_VIOLATION = UNPROCESSABLE_ENTITY "rule-violation" "The reply breaks business rules";
    RULEBOOK_CHANGED = UNPROCESSABLE_ENTITY "rulebook-changed" "The rulebook changed";
    PRECONDITION_REQUIRED = PRECONDITION_REQUIRED "precondition-required" "If-Match required";
    RATE_LIMITED = TOO_MANY_REQUESTS "rate-limited" "Too many requests";
    TOO_MANY_STREAMS = TOO_MANY_REQUESTS "too-many-streams" "Too many event streams";
    INTERNAL = INTERNAL_SERVER_ERROR "internal" "Internal error";
    UNAVAILABLE = SERVICE_UNAVAILABLE "unavailable" "Storage unavailable";
    INTAKE_UNAVAILABLE = SERVICE_UNAVAILABLE "intake-unavailable" "Intake unavailable";
    OVERLOADED = SERVICE_UNAVAILABLE "overloaded" "The server is at capacity";
}

impl ProblemType {
    /// The `type` member of a problem of this kind.
    pub fn uri(&self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug)
    }

    /// The problem types answered with `status`.
    pub fn with_status(status: StatusCode) -> impl Iterator<Item = &'static ProblemType> {
        Self::ALL.iter().filter(move |t| t.status == status)
    }
}

/// How a 401 tells the client to authenticate (RFC 6750 §3): `invalid_token` when a token was
/// sent but is unknown, expired or revoked.
pub const WWW_AUTHENTICATE_BEARER: &str = "Bearer";
pub const WWW_AUTHENTICATE_INVALID_TOKEN: &str = "Bearer error=\"invalid_token\"";

/// A refusal or failure as the API answers it. The problem is boxed so that `ApiResult<T>` stays
/// the size of `T` plus a pointer on every path that succeeds; its fields are reached through
/// `Deref`.
#[derive(Debug)]
pub struct ApiError(Box<ApiProblem>);

#[derive(Debug)]
pub struct ApiProblem {
    problem: ProblemType,
    pub detail: String,
    pub errors: Vec<ProblemField>,
    pub violations: Option<serde_json::Value>,
    pub retry_after: Option<u64>,
    pub www_authenticate: Option<&'static str>,
}

impl std::ops::Deref for ApiError {
    type Target = ApiProblem;
    fn deref(&self) -> &ApiProblem {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiProblem {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(problem: ProblemType, detail: impl Into<String>) -> Self {
        ApiError(Box::new(ApiProblem {
            problem,
            detail: detail.into(),
            errors: Vec::new(),
            violations: None,
            retry_after: None,
            www_authenticate: None,
        }))
    }

    pub fn status(&self) -> StatusCode {
        self.problem.status
    }

    pub fn problem_type(&self) -> ProblemType {
        self.problem
    }

    /// 401 for a request that sent no bearer token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = Self::new(ProblemType::UNAUTHORIZED, detail);
        e.www_authenticate = Some(WWW_AUTHENTICATE_BEARER);
        e
    }

    /// 401 for a token that is unknown, expired or revoked.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        let mut e = Self::new(ProblemType::UNAUTHORIZED, detail);
        e.www_authenticate = Some(WWW_AUTHENTICATE_INVALID_TOKEN);
        e
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::FORBIDDEN, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::NOT_FOUND, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::BAD_REQUEST, detail)
    }

    /// 400 naming the part of the request that is wrong (a query or path parameter: `/limit`).
    pub fn bad_request_at(pointer: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut e = Self::bad_request(detail.clone());
        e.errors.push(ProblemField {
            pointer: pointer.to_string(),
            detail,
        });
        e
    }

    pub fn invalid(pointer: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut e = Self::new(ProblemType::VALIDATION, detail.clone());
        e.errors.push(ProblemField {
            pointer: pointer.to_string(),
            detail,
        });
        e
    }

    /// 429 with `Retry-After: wait`.
    pub fn rate_limited(detail: impl Into<String>, wait: u64) -> Self {
        let mut e = Self::new(ProblemType::RATE_LIMITED, detail);
        e.retry_after = Some(wait);
        e
    }

    pub fn internal() -> Self {
        Self::new(
            ProblemType::INTERNAL,
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
                ProblemType::VERSION_MISMATCH,
                format!("the item is at version {current}; reload it and try again"),
            ),
            StoreError::Conflict(detail) => ApiError::new(ProblemType::CONFLICT, detail),
            StoreError::Stale(changes) => {
                let mut e = ApiError::new(
                    ProblemType::STALE_THREAD,
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
            StoreError::Taken(detail) => ApiError::new(ProblemType::ALREADY_EXISTS, detail),
            StoreError::Db(_) => {
                if e.is_storage_full() {
                    tracing::error!(error = %e, "the database is out of space; writes are refused until space is freed");
                } else {
                    tracing::error!(error = %e, "database error");
                }
                let mut api = ApiError::new(
                    ProblemType::UNAVAILABLE,
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
            kind: self.problem.uri(),
            title: self.problem.title.to_string(),
            status: self.problem.status.as_u16(),
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
        let mut response = problem_response(self.problem.status, body, self.retry_after);
        if let Some(challenge) = self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A problem+json answer of `status` with an encoded `body` and, if given, `Retry-After`: what
/// every `ApiError` answers with, and the overload 503 from a body encoded once ahead.
pub fn problem_response(
    status: StatusCode,
    body: impl Into<axum::body::Body>,
    retry_after: Option<u64>,
) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(secs) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

pub type ApiResult<T> = Result<T, ApiError>;
