//! Answers to requests that may be retried: the `Idempotency-Key` of a reply, and 201 for what
//! a request made vs 200 for the stored result of an earlier one. Shared by the handlers, so in
//! a file of their own rather than in `api/mod.rs`, which imports the handlers.

use super::grammar;
use crate::domain::Feedback;
use crate::server::error::{ApiError, ApiResult};
use crate::server::service::reply;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// 201 with `Location` for a new item, 200 with the stored item for a repeat (a retry of the
/// same external id or webhook id); `POST /v1/intake/{source}` answers the same way.
pub(crate) fn created_or_repeated(feedback: Feedback, created: bool) -> Response {
    if !created {
        return (StatusCode::OK, Json(feedback)).into_response();
    }
    let location = HeaderValue::from_str(&format!("/v1/feedback/{}", feedback.id));
    let mut response = (StatusCode::CREATED, Json(feedback)).into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The `Idempotency-Key` of a reply request (one item's or a bulk one's).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| ApiError::bad_request("send an Idempotency-Key header with every reply"))?;
    match key.to_str() {
        Ok(key) if grammar::is_idempotency_key(key) => Ok(key.to_string()),
        _ => Err(ApiError::bad_request(
            "Idempotency-Key is 1 to 255 printable ASCII characters, not starting or ending with a space or a quote",
        )),
    }
}

/// 201 for a reply delivered now, 200 for the stored result of an earlier request.
pub(crate) fn delivered_status(delivered: &reply::Delivered) -> StatusCode {
    if delivered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}
