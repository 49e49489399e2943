//! What the HTTP backend and the event stream both read off the wire: error answers (a
//! problem body decoded once into the typed shapes of `domain::problem`), transport failures,
//! `Retry-After` and `ETag`, and the one-line, sanitised form of any message shown or logged.
//! Here rather than in `http` so that `events` need not import the backend it serves.

use super::backend::ClientError;
use crate::domain::api::Problem;
use crate::domain::problem::{ProblemExtension, ServerProblem};
use crate::text::sanitize_inline;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// `"7"`, `W/"7"` or `7` → 7.
pub(crate) fn parse_etag(v: &str) -> Option<i64> {
    v.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

/// `Retry-After` as seconds: delta-seconds, or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .num_seconds()
            .max(0) as u64,
    )
}

/// An error message fit to show and log: one line, sanitised, bounded.
pub(crate) fn clean_message(s: &str) -> String {
    let mut end = s.len().min(600);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = sanitize_inline(&s[..end]);
    if end < s.len() {
        out.push('…');
    }
    out
}

/// A transport failure, with its causes (reqwest's own message rarely says why).
pub(crate) fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    // reqwest's own top-level message is generic and repeats the URL: the causes say why.
    let generic = [
        "error sending request",
        "request or response body error",
        "error decoding response body",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let skip = err.source().is_some() && generic.iter().any(|g| text.starts_with(g));
        if !skip && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    clean_message(&parts.join(": "))
}

pub(crate) fn transport_error(e: reqwest::Error) -> ClientError {
    let msg = describe_error(&e);
    if e.is_decode() || e.is_builder() || e.is_redirect() {
        ClientError::Protocol(msg)
    } else {
        // Connect failures, timeouts, resets, a body cut short: the backend is not there now.
        ClientError::Unreachable(msg)
    }
}

pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, ClientError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if buf.len() + chunk.len() > max {
            return Err(ClientError::Protocol(format!(
                "response body over {max} bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Maps a non-2xx response to a [`ClientError`], with the problem's detail when there is one.
/// The problem body is decoded once, here, into the typed shapes of `domain::problem`
/// ([`Sanitized`](super::Sanitized) cleans them): the console never reads a problem by key names.
pub(crate) async fn error_from_response(resp: reqwest::Response, max: usize) -> ClientError {
    let status = resp.status();
    let retry = retry_after(resp.headers());
    let body = read_limited(resp, max).await.unwrap_or_default();
    let parsed: Option<Problem> = serde_json::from_slice(&body).ok();
    let detail = parsed
        .as_ref()
        .map(|p| {
            if p.detail.trim().is_empty() {
                p.title.clone()
            } else {
                p.detail.clone()
            }
        })
        .or_else(|| {
            // Another backend's problem-ish body: its detail or title, if a string.
            let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
            v.get("detail")
                .or_else(|| v.get("title"))
                .and_then(|d| d.as_str())
                .map(str::to_string)
        })
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let detail = clean_message(&detail);
    let problem = typed_problem(status, parsed);
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ClientError::Unauthorized(detail),
        StatusCode::NOT_FOUND => ClientError::NotFound(detail),
        StatusCode::CONFLICT => match problem.extension {
            ProblemExtension::StaleThread(s) => ClientError::Stale {
                detail,
                changes: s.changes,
            },
            _ => ClientError::Conflict(detail),
        },
        StatusCode::PRECONDITION_FAILED => ClientError::Conflict(detail),
        StatusCode::BAD_REQUEST
        | StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNPROCESSABLE_ENTITY => ClientError::Refused {
            detail,
            problem: Box::new(problem),
        },
        StatusCode::TOO_MANY_REQUESTS => ClientError::RateLimited(retry.unwrap_or(1)),
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            ClientError::Unreachable(format!("{}: {detail}", status.as_u16()))
        }
        _ => ClientError::Protocol(format!("unexpected HTTP {}: {detail}", status.as_u16())),
    }
}

/// The typed problem of an error answer. An extension that does not have its type's shape is
/// dropped (and logged): the detail still says what happened.
fn typed_problem(status: StatusCode, parsed: Option<Problem>) -> ServerProblem {
    let Some(p) = parsed else {
        return ServerProblem {
            status: status.as_u16(),
            ..Default::default()
        };
    };
    let kind = p.kind.rsplit('/').next().unwrap_or("").to_string();
    let extension = ProblemExtension::decode(&p.kind, p.violations).unwrap_or_else(|e| {
        tracing::warn!("problem {}: {}", sanitize_inline(&kind), clean_message(&e));
        ProblemExtension::None
    });
    ServerProblem {
        status: status.as_u16(),
        kind,
        errors: p.errors,
        extension,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn etags_and_retry_after_parse() {
        assert_eq!(parse_etag("\"7\""), Some(7));
        assert_eq!(parse_etag("W/\"8\""), Some(8));
        assert_eq!(parse_etag("9"), Some(9));
        assert_eq!(parse_etag("\"x\""), None);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(retry_after(&h), Some(12));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert!((28..=30).contains(&retry_after(&h).unwrap()));
    }
}
