//! `GET /v1/events`: the handler that opens an event stream (its token, its resume point, its
//! slot). The stream itself is `sse.rs`'s; the handler is here, with the other handlers, so
//! that `sse.rs`, whose fan-out and stream slots the `AppState` holds, does not import it.

use crate::domain::{EventName, Scope};
use crate::server::auth::{bearer_in, ApiQuery, Auth};
use crate::server::error::{ApiError, ApiResult, ProblemType};
use crate::server::sse::{event_stream, start_point, Holder, STREAMS_RETRY_AFTER};
use crate::server::state::AppState;
use crate::server::store::hash_token;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Resume after this event, for clients that cannot set headers (EventSource in a browser).
    last_event_id: Option<i64>,
}

/// One event of the stream, as a client's SSE parser gives it: `data` is an [`Event`] as JSON.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the frames are written by axum's `Sse`
pub struct SseFrame {
    /// The event's `seq`.
    id: String,
    /// The event's name.
    event: EventName,
    /// The [`Event`] as JSON.
    #[schema(content_media_type = "application/json")]
    data: String,
}

fn resume_point(headers: &HeaderMap, params: &EventParams) -> ApiResult<Option<i64>> {
    if let Some(v) = headers.get("last-event-id") {
        let text = v.to_str().unwrap_or_default().trim();
        return text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request("Last-Event-ID must be an event id (a number)"));
    }
    Ok(params.last_event_id)
}

#[utoipa::path(get, path = "/v1/events", tag = "events",
    summary = "The event log as server-sent events (each `data:` is an Event)",
    params(EventParams,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, description = "resume after this event")),
    responses((status = 200, description = "the stream; `stream.reset` first when the resume point is gone",
            content_type = "text/event-stream", body = SseFrame),
        (status = 400, description = "a Last-Event-ID that is not an event id"),
        (status = 403, description = "the token lacks the read scope")))]
pub async fn events(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventParams>,
) -> ApiResult<Response> {
    let agent = auth.require(Scope::Read)?.clone();
    let resume = resume_point(&headers, &params)?;
    let token = bearer_in(&headers).unwrap_or_default().to_string();
    let hash = hash_token(&token);
    let slot = state.streams.acquire(&hash).ok_or_else(|| {
        let mut e = ApiError::new(
            ProblemType::TOO_MANY_STREAMS,
            format!(
                "this token already has {} open event streams; close one or retry in {STREAMS_RETRY_AFTER} s",
                state.streams.per_token()
            ),
        );
        e.retry_after = Some(STREAMS_RETRY_AFTER);
        e
    })?;
    let scope: Option<Vec<String>> = agent.department_scope().map(<[String]>::to_vec);
    // The start point is fixed here, before the response headers go out: a client that has its
    // headers must get every event committed after that moment. Reading it lazily, when the body
    // is first polled, loses the events that commit in between. The broadcast is joined first,
    // so every batch sent after the start point was read reaches this stream.
    let live = state.fanout.subscribe();
    let start = start_point(&state.store, resume).await?;
    let stream = event_stream(
        state.store.clone(),
        start,
        live,
        scope,
        state.shutdown.clone(),
        Holder::new(token, hash, slot),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
