//! Keyset pages of the list endpoints: the opaque cursor and the page size. Shared by the
//! handlers, so in a file of their own rather than in `api/mod.rs`, which imports the handlers.

use super::grammar;
use crate::server::error::ApiError;

/// Opaque keyset cursor: `<micros>.<id>`.
pub(crate) fn encode_cursor(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}.{}", at.timestamp_micros(), id)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request_at("/cursor", "the cursor is not one this server gave out");
    if !grammar::is_cursor(cursor) {
        return Err(bad());
    }
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    Ok((at, id.to_string()))
}

/// Cuts a page fetched with one extra row back to `limit` and makes the cursor for the next.
pub(crate) fn trim_page<T>(
    items: &mut Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> String,
) -> Option<String> {
    if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(cursor)
    } else {
        None
    }
}

/// Page size: default 50, at most 500.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request_at(
            "/limit",
            "limit must be between 1 and 500",
        )),
    }
}
