//! Bearer-token authentication and the JSON body extractor that answers problem+json.

use super::audit::Caller;
use super::error::{ApiError, ProblemType};
use super::state::AppState;
use super::store::{hash_token, AuthenticatedAgent};
use crate::domain::Scope;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The calling agent. Extracting it fails with 401 for a missing, unknown, expired or revoked
/// token.
pub struct Auth(pub AuthenticatedAgent);

impl Auth {
    /// 403 unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<&AuthenticatedAgent, ApiError> {
        if self.0.has(scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::forbidden(format!(
                "this token lacks the '{scope}' scope"
            )))
        }
    }
}

pub fn bearer_token(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// The bearer token of a request's headers, if it sends one.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        let agent =
            state.store.authenticate(token).await?.ok_or_else(|| {
                ApiError::invalid_token("the token is unknown, expired or revoked")
            })?;
        if let Some(caller) = parts.extensions.get::<Caller>() {
            caller.set(&agent.agent.id);
        }
        if let Some(limiter) = &state.limiter {
            if let Err(wait) = limiter.check(&hash_token(token)) {
                let mut e = ApiError::new(
                    ProblemType::RATE_LIMITED,
                    format!("this token is over its request rate; retry in {wait} s"),
                );
                e.retry_after = Some(wait);
                return Err(e);
            }
        }
        Ok(Auth(agent))
    }
}

/// `Json<T>` whose rejections are problem+json: not JSON at all 400, valid JSON of the wrong
/// shape (wrong types, unknown fields, missing fields) 422 with a JSON pointer to the field, over
/// the limit 413, wrong content type 415. Parsing in two steps keeps 400 for malformed JSON only
/// (serde_json reports some type errors, e.g. a number where an enum is expected, as syntax).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let bytes = body_bytes(req, state).await?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// 415 unless the request says its body is JSON.
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim().eq_ignore_ascii_case("application/json") || m.trim().ends_with("+json")
            })
        });
    if json_type {
        Ok(())
    } else {
        Err(ApiError::new(
            ProblemType::UNSUPPORTED_MEDIA_TYPE,
            "send the body with Content-Type: application/json",
        ))
    }
}

/// The whole body, 413 over the limit.
pub(crate) async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(body_rejection)
}

/// A JSON object body as `T`, refused as [`ApiJson`] says.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid("", "the body must be a JSON object"));
    }
    if let Some(pointer) = nul_pointer(&value, &mut String::new()) {
        return Err(ApiError::invalid(
            &pointer,
            "text may not contain a NUL character",
        ));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::invalid(&json_pointer(e.path()), e.inner().to_string()))
}

/// The RFC 6901 pointer of the place serde stopped at (`/parts/0/bcc`), `""` for the whole body.
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// The JSON pointer of the first string (or object key) holding a NUL character, if any.
fn nul_pointer(value: &serde_json::Value, at: &mut String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(at.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = at.len();
            at.push_str(&format!("/{i}"));
            let found = nul_pointer(v, at);
            at.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let len = at.len();
            at.push('/');
            at.push_str(&k.replace('~', "~0").replace('/', "~1"));
            let found = if k.contains('\0') {
                Some(at.clone())
            } else {
                nul_pointer(v, at)
            };
            at.truncate(len);
            found
        }),
        _ => None,
    }
}

/// The longest id a path may carry.
pub const MAX_PATH_ID_BYTES: usize = 128;

/// `Path<T>` whose rejections (a path id that is not valid percent-encoded UTF-8, say) are
/// problem+json.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // An id of ours is short; a longer one is refused before it reaches the database (and
        // is never echoed back in a "not found").
        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await {
            if let Some((name, _)) = raw
                .iter()
                .find(|(_, v)| v.chars().count() > MAX_PATH_ID_BYTES)
            {
                return Err(ApiError::bad_request_at(
                    &format!("/{name}"),
                    format!("an id in the path is over {MAX_PATH_ID_BYTES} characters"),
                ));
            }
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => {
                let detail = "the path is not valid: an id must be percent-encoded UTF-8";
                match path_key(&rejection) {
                    Some(key) => Err(ApiError::bad_request_at(&format!("/{key}"), detail)),
                    None => Err(ApiError::bad_request(detail)),
                }
            }
        }
    }
}

/// The path parameter a path rejection is about, when it names one.
fn path_key(rejection: &axum::extract::rejection::PathRejection) -> Option<&str> {
    use axum::extract::path::ErrorKind;
    let axum::extract::rejection::PathRejection::FailedToDeserializePathParams(e) = rejection
    else {
        return None;
    };
    match e.kind() {
        ErrorKind::ParseErrorAtKey { key, .. }
        | ErrorKind::InvalidUtf8InPathParam { key }
        | ErrorKind::DeserializeError { key, .. } => Some(key),
        _ => None,
    }
}

/// `Query<T>` whose rejections are problem+json: 400 with the reason and, when one parameter is
/// to blame, a pointer to it (`/limit`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let params = form_urlencoded::parse(query.as_bytes());
        serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(params))
            .map(ApiQuery)
            .map_err(|e| {
                let detail = format!("the query string is not valid: {}", e.inner());
                match json_pointer(e.path()) {
                    p if p.is_empty() => ApiError::bad_request(detail),
                    p => ApiError::bad_request_at(&p, detail),
                }
            })
    }
}

/// The raw body (an import file) whose rejections are problem+json: 413 over the route's limit,
/// 400 when it cannot be read.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(body_rejection)
    }
}

fn body_rejection(r: axum::extract::rejection::BytesRejection) -> ApiError {
    if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ProblemType::BODY_TOO_LARGE,
            "the request body is over the limit",
        )
    } else {
        ApiError::bad_request("the request body could not be read")
    }
}
