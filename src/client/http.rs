//! [`HttpBackend`]: the [`CrmBackend`] over the reference server's HTTP API (DESIGN.md §3).
//!
//! - Responses, problems and events are decoded into the domain types and handed over as they
//!   came: sanitising them is [`Sanitized`](super::Sanitized)'s job, once, at the console's
//!   boundary (wrap this backend in it before showing anything). Error messages made here are
//!   still one line and bounded ([`clean_message`]).
//! - Statuses map to [`ClientError`]s the console can act on (see [`HttpBackend`]).
//! - Each request has a timeout; response bodies are bounded.
//! - `PATCH` sends `If-Match` with the item's version as an entity tag, replies send
//!   `Idempotency-Key`; an `ETag` on a response is taken as the item's version.

use super::backend::{ClientError, CrmBackend, FeedbackQuery, StreamItem};
use super::events::{self, EventStreamOptions};
use super::wire::{clean_message, error_from_response, parse_etag, read_limited, transport_error};
use crate::domain::api::RulebookSource;
use crate::domain::api::{
    FeedbackDetail, FeedbackPatch, IdentityMatches, LinkIdentity, Me, NewFeedback, NewReply, Page,
    PresenceUpdate,
};
use crate::domain::{
    Agent, Customer, Department, Feedback, HistoryEntry, Identity, PresenceState, Reply,
    Transaction,
};
use crate::text::sanitize_inline;
use futures::stream::BoxStream;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH,
};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Tuning of [`HttpBackend`]; the defaults suit a console on a normal network.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole request, response body included (not the event stream).
    pub request_timeout: Duration,
    /// TCP connect (and TLS handshake).
    pub connect_timeout: Duration,
    /// Largest response body read; a larger one is a [`ClientError::Protocol`].
    pub max_body_bytes: usize,
    /// Most pages followed by [`CrmBackend::agents`] and [`CrmBackend::departments`].
    pub max_pages: usize,
    pub events: EventStreamOptions,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            request_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 32 * 1024 * 1024,
            max_pages: 100,
            events: EventStreamOptions::default(),
        }
    }
}

/// The reference server over HTTP.
///
/// Status mapping: 401/403 → [`ClientError::Unauthorized`], 404 → `NotFound`, 409/412 →
/// `Conflict`, 400/413/422 → `Refused` (with the problem JSON), 429 → `RateLimited` (from
/// `Retry-After`), 502/503/504 and connection failures or timeouts → `Unreachable`, anything else
/// unexpected (other statuses, a body that is not the JSON we expect) → `Protocol`.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct HttpBackend {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    stream_client: reqwest::Client,
    /// Always ends with `/`, without the `v1` segment.
    base: Url,
    auth: HeaderValue,
    options: HttpOptions,
}

impl std::fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBackend")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpBackend {
    /// A backend at `base_url` (e.g. `https://crm.example.com` or `http://127.0.0.1:7300`; a
    /// trailing `/v1` is accepted) that authenticates with the bearer `token`.
    pub fn new(base_url: &str, token: &str) -> Result<Self, ClientError> {
        Self::with_options(base_url, token, HttpOptions::default())
    }

    pub fn with_options(
        base_url: &str,
        token: &str,
        options: HttpOptions,
    ) -> Result<Self, ClientError> {
        let base = parse_base_url(base_url)?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
                ClientError::Protocol(
                    "the token contains characters not allowed in an HTTP header".into(),
                )
            })?;
        auth.set_sensitive(true);
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("earshot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        // The event stream gets its own connections: a reconnect must never pick a pooled
        // connection the server has just closed.
        let stream_client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .user_agent(concat!("earshot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpBackend {
            inner: Arc::new(Inner {
                client,
                stream_client,
                base,
                auth,
                options,
            }),
        })
    }

    /// The base URL, normalised (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// `GET /v1/health` (no authentication needed): `Ok` when the server answers 2xx.
    pub async fn health(&self) -> Result<(), ClientError> {
        let url = self.url(&["health"]);
        self.request(Method::GET, url, None::<&()>, HeaderMap::new())
            .await
            .map(drop)
    }

    /// `base/v1/<segments>`, each segment percent-encoded (an id can never add a path level).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }

    async fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        headers: HeaderMap,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .inner
            .client
            .request(method, url)
            .timeout(self.inner.options.request_timeout)
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(ACCEPT, "application/json, application/problem+json")
            .headers(headers);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| ClientError::Protocol(format!("cannot encode the request: {e}")))?;
            req = req.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        let resp = req.send().await.map_err(transport_error)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(error_from_response(resp, self.inner.options.max_body_bytes.min(1024 * 1024)).await)
        }
    }

    async fn json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        headers: HeaderMap,
    ) -> Result<(T, Option<i64>), ClientError> {
        let resp = self.request(method, url, body, headers).await?;
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_etag);
        let bytes = read_limited(resp, self.inner.options.max_body_bytes).await?;
        let value: T = serde_json::from_slice(&bytes)
            .map_err(|e| protocol(format!("unexpected response body: {e}")))?;
        Ok((value, etag))
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        Ok(self
            .json::<T, ()>(Method::GET, url, None, HeaderMap::new())
            .await?
            .0)
    }

    /// Every page of a list, following `next_cursor` (at most `max_pages`).
    async fn all_pages<T: DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..self.inner.options.max_pages.max(1) {
            let mut url = self.url(segments);
            if let Some(c) = &cursor {
                url.query_pairs_mut().append_pair("cursor", c);
            }
            let page: Page<T> = self.get(url).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => break,
            }
        }
        Ok(items)
    }

    pub(crate) fn events_endpoint(&self) -> events::Endpoint {
        events::Endpoint {
            client: self.inner.stream_client.clone(),
            url: self.url(&["events"]),
            auth: self.inner.auth.clone(),
            connect_timeout: self.inner.options.request_timeout,
        }
    }
}

/// Accepts `https://host`, `http://host:port/prefix/` and the same with a trailing `/v1`.
fn parse_base_url(base_url: &str) -> Result<Url, ClientError> {
    let mut url = Url::parse(base_url.trim()).map_err(|e| {
        ClientError::Protocol(format!(
            "bad backend URL '{}': {e}",
            sanitize_inline(base_url)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || url.host().is_none() {
        return Err(ClientError::Protocol(format!(
            "the backend URL must be http(s)://host[:port][/path], not '{}'",
            sanitize_inline(base_url)
        )));
    }
    url.set_query(None);
    url.set_fragment(None);
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    if segments.last().is_some_and(|s| s == "v1") {
        segments.pop();
    }
    let mut path = String::from("/");
    for s in segments {
        path.push_str(&s);
        path.push('/');
    }
    url.set_path(&path);
    Ok(url)
}

fn protocol(msg: String) -> ClientError {
    ClientError::Protocol(clean_message(&msg))
}

fn header(name: HeaderName, value: &str) -> Result<HeaderMap, ClientError> {
    let mut h = HeaderMap::new();
    let v = HeaderValue::from_str(value)
        .map_err(|_| protocol(format!("invalid {name} header value")))?;
    h.insert(name, v);
    Ok(h)
}

#[async_trait::async_trait]
impl CrmBackend for HttpBackend {
    async fn me(&self) -> Result<Me, ClientError> {
        self.get(self.url(&["me"])).await
    }

    async fn list_feedback(&self, query: &FeedbackQuery) -> Result<Page<Feedback>, ClientError> {
        let mut url = self.url(&["feedback"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = query.status {
                q.append_pair("status", s.as_str());
            }
            if let Some(a) = &query.assignee {
                q.append_pair("assignee", a);
            }
            if let Some(d) = &query.department {
                q.append_pair("department", d);
            }
            if let Some(c) = query.channel {
                q.append_pair("channel", c.as_str());
            }
            if let Some(text) = &query.q {
                q.append_pair("q", text);
            }
            if let Some(l) = query.limit {
                q.append_pair("limit", &l.to_string());
            }
            if let Some(c) = &query.cursor {
                q.append_pair("cursor", c);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.get(url).await
    }

    async fn feedback(&self, id: &str) -> Result<FeedbackDetail, ClientError> {
        let (mut detail, etag): (FeedbackDetail, _) = self
            .json::<_, ()>(
                Method::GET,
                self.url(&["feedback", id]),
                None,
                HeaderMap::new(),
            )
            .await?;
        if let Some(v) = etag {
            detail.feedback.version = v;
        }
        Ok(detail)
    }

    async fn create_feedback(&self, new: &NewFeedback) -> Result<Feedback, ClientError> {
        Ok(self
            .json(
                Method::POST,
                self.url(&["feedback"]),
                Some(new),
                HeaderMap::new(),
            )
            .await?
            .0)
    }

    async fn patch_feedback(
        &self,
        id: &str,
        version: i64,
        patch: &FeedbackPatch,
    ) -> Result<Feedback, ClientError> {
        let headers = header(IF_MATCH, &format!("\"{version}\""))?;
        let (mut feedback, etag): (Feedback, _) = self
            .json(
                Method::PATCH,
                self.url(&["feedback", id]),
                Some(patch),
                headers,
            )
            .await?;
        if let Some(v) = etag {
            feedback.version = v;
        }
        Ok(feedback)
    }

    async fn send_reply(
        &self,
        feedback_id: &str,
        idempotency_key: &str,
        reply: &NewReply,
    ) -> Result<Reply, ClientError> {
        let headers = header(HeaderName::from_static("idempotency-key"), idempotency_key)?;
        Ok(self
            .json(
                Method::POST,
                self.url(&["feedback", feedback_id, "replies"]),
                Some(reply),
                headers,
            )
            .await?
            .0)
    }

    async fn set_presence(
        &self,
        feedback_id: &str,
        state: PresenceState,
    ) -> Result<(), ClientError> {
        let url = self.url(&["feedback", feedback_id, "presence"]);
        self.request(
            Method::POST,
            url,
            Some(&PresenceUpdate { state }),
            HeaderMap::new(),
        )
        .await
        .map(drop)
    }

    async fn customer(&self, id: &str) -> Result<Customer, ClientError> {
        self.get(self.url(&["customers", id])).await
    }

    async fn customer_history(&self, id: &str) -> Result<Page<HistoryEntry>, ClientError> {
        self.get(self.url(&["customers", id, "history"])).await
    }

    async fn customer_transactions(&self, id: &str) -> Result<Page<Transaction>, ClientError> {
        self.get(self.url(&["customers", id, "transactions"])).await
    }

    async fn identity_matches(&self, identity_id: &str) -> Result<IdentityMatches, ClientError> {
        self.get(self.url(&["identities", identity_id, "matches"]))
            .await
    }

    async fn search_customers(&self, q: &str) -> Result<Page<Customer>, ClientError> {
        let mut url = self.url(&["customers"]);
        url.query_pairs_mut().append_pair("q", q);
        self.get(url).await
    }

    async fn link_identity(
        &self,
        identity_id: &str,
        customer_id: &str,
    ) -> Result<Identity, ClientError> {
        let body = LinkIdentity {
            customer_id: customer_id.to_string(),
        };
        Ok(self
            .json(
                Method::POST,
                self.url(&["identities", identity_id, "link"]),
                Some(&body),
                HeaderMap::new(),
            )
            .await?
            .0)
    }

    async fn agents(&self) -> Result<Vec<Agent>, ClientError> {
        self.all_pages(&["agents"]).await
    }

    async fn departments(&self) -> Result<Vec<Department>, ClientError> {
        self.all_pages(&["departments"]).await
    }

    async fn rules(&self) -> Result<RulebookSource, ClientError> {
        self.get(self.url(&["rules"])).await
    }

    async fn metrics_summary(
        &self,
        query: &crate::domain::metrics::MetricsQuery,
    ) -> Result<crate::domain::metrics::MetricsSummary, ClientError> {
        let mut url = self.url(&["metrics", "summary"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("window", query.window.as_str());
            if let Some(d) = &query.department {
                q.append_pair("department", d);
            }
            if let Some(a) = &query.agent {
                q.append_pair("agent", a);
            }
            if let Some(c) = query.channel {
                q.append_pair("channel", c.as_str());
            }
        }
        self.get(url).await
    }

    fn events(&self, last_event_id: Option<i64>) -> BoxStream<'static, StreamItem> {
        events::stream(
            self.events_endpoint(),
            last_event_id,
            self.inner.options.events.clone(),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::api::Problem;
    use crate::domain::*;
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap as AxHeaders, StatusCode as AxStatus};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use std::collections::HashMap;
    use std::sync::Mutex;

    pub(crate) async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        format!("http://{addr}")
    }

    fn problem(status: u16, detail: &str) -> impl IntoResponse {
        let body = serde_json::json!({"type": "about:blank", "title": "t", "status": status, "detail": detail});
        (
            AxStatus::from_u16(status).unwrap(),
            [("content-type", "application/problem+json")],
            body.to_string(),
        )
    }

    fn agent() -> Agent {
        Agent {
            id: "ag_1".into(),
            name: "Ann\u{1B}]0;pwned\u{7}".into(),
            role: AgentRole::Agent,
            departments: vec!["billing".into()],
            availability: Default::default(),
        }
    }

    pub(crate) fn feedback(id: &str, version: i64) -> Feedback {
        let now = chrono::Utc::now();
        Feedback {
            id: id.into(),
            channel: Channel::X,
            origin: Origin::Online,
            author: Identity {
                id: "idn_1".into(),
                network: Channel::X,
                handle: "@eve".into(),
                display_name: "Eve\u{202E}".into(),
                verified: false,
                customer_id: None,
            },
            customer_id: None,
            text: "\u{1B}[2Jhello\u{9B}31m".into(),
            thread_id: "th_1".into(),
            url: None,
            received_at: now,
            sentiment: 0.0,
            sentiment_label: SentimentLabel::Neutral,
            sentiment_confidence: 0.5,
            kind: FeedbackKind::Other,
            urgency: vec![],
            cues: vec![],
            corrected: false,
            department: "billing".into(),
            assignee: None,
            status: FeedbackStatus::New,
            priority: Priority::Normal,
            sla_due_at: now,
            version,
            unassigned_reason: None,
            thread_messages: 1,
            author_roles: vec![],
        }
    }

    #[derive(Default)]
    struct Seen {
        headers: Mutex<Vec<(String, String)>>,
        queries: Mutex<Vec<HashMap<String, String>>>,
    }

    fn router(seen: Arc<Seen>) -> Router {
        Router::new()
            .route("/v1/health", get(|| async { "ok" }))
            .route(
                "/v1/me",
                get(|headers: AxHeaders| async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret") {
                        return problem(401, "token revoked").into_response();
                    }
                    Json(Me { agent: agent(), scopes: vec![Scope::Read] }).into_response()
                }),
            )
            .route(
                "/v1/feedback",
                get(|State(seen): State<Arc<Seen>>, Query(q): Query<HashMap<String, String>>| async move {
                    seen.queries.lock().unwrap().push(q);
                    Json(Page { items: vec![feedback("fb_1", 1)], next_cursor: Some("c2".to_string()) })
                }),
            )
            .route(
                "/v1/feedback/{id}",
                get(|Path(id): Path<String>| async move {
                    match id.as_str() {
                        "fb_1" => ([("etag", "\"9\"")], Json(FeedbackDetail { feedback: feedback("fb_1", 1), thread: vec![], authors: vec![], participants: vec![] })).into_response(),
                        "bad json" => "{not json".into_response(),
                        "slow" => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            "late".into_response()
                        }
                        "html" => (AxStatus::INTERNAL_SERVER_ERROR, "<html>\u{1B}[2Joops</html>").into_response(),
                        "down" => problem(503, "storage unavailable").into_response(),
                        "gone" => problem(409, "gone").into_response(),
                        _ => problem(404, &format!("feedback {id} not found")).into_response(),
                    }
                })
                .patch(|State(seen): State<Arc<Seen>>, headers: AxHeaders, Json(p): Json<FeedbackPatch>| async move {
                    let v = headers.get("if-match").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    seen.headers.lock().unwrap().push(("if-match".into(), v.clone()));
                    if v != "\"3\"" {
                        return problem(412, "the item is at version 3").into_response();
                    }
                    let mut f = feedback("fb_1", 4);
                    f.status = p.status.unwrap_or(f.status);
                    ([("etag", "\"4\"")], Json(f)).into_response()
                }),
            )
            .route(
                "/v1/feedback/{id}/replies",
                post(|State(seen): State<Arc<Seen>>, headers: AxHeaders, Json(r): Json<NewReply>| async move {
                    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    seen.headers.lock().unwrap().push(("idempotency-key".into(), key));
                    if r.parts.iter().any(|p| p.body.contains("refund")) {
                        // The server's own shape (`domain::problem`), with hostile text in it.
                        use crate::domain::problem::{ProblemExtension, RuleRefusal};
                        use crate::domain::verdict::{Level, OverridePolicy, Violation};
                        let ext = ProblemExtension::RuleViolation(RuleRefusal {
                            rulebook_version: "1".into(),
                            violations: vec![Violation {
                                rule: "no-refund-promises".into(),
                                level: Level::Error,
                                message: "x\u{202E}".into(),
                                part: Visibility::Direct,
                                start: 0,
                                end: 4,
                                fix: None,
                                overridable: true,
                                override_policy: OverridePolicy::default(),
                            }],
                            refused: vec![],
                        });
                        let body = Problem {
                            kind: "https://earshot.dev/problems/rule-violation".into(),
                            title: "Refused".into(),
                            status: 422,
                            detail: "rule no-refund-promises\u{1B}[31m matched".into(),
                            errors: vec![],
                            violations: ext.to_value(),
                        };
                        return (AxStatus::UNPROCESSABLE_ENTITY, Json(body)).into_response();
                    }
                    if r.parts.iter().any(|p| p.body == "slow down") {
                        return (AxStatus::TOO_MANY_REQUESTS, [("retry-after", "7")], "").into_response();
                    }
                    let reply = Reply {
                        id: "rp_1".into(),
                        feedback_id: "fb_1".into(),
                        agent_id: "ag_1".into(),
                        parts: r.parts,
                        overrides: r.overrides,
                        messages: vec![],
                        created_at: chrono::Utc::now(),
                    };
                    (AxStatus::CREATED, Json(reply)).into_response()
                }),
            )
            .route("/v1/feedback/{id}/presence", post(|Json(_p): Json<PresenceUpdate>| async { AxStatus::NO_CONTENT }))
            .route(
                "/v1/agents",
                get(|Query(q): Query<HashMap<String, String>>| async move {
                    let cursor = q.get("cursor").cloned();
                    let (items, next) = match cursor.as_deref() {
                        None => (vec![agent()], Some("p2".to_string())),
                        Some("p2") => (vec![Agent { id: "ag_2".into(), ..agent() }], None),
                        _ => (vec![], None),
                    };
                    Json(Page { items, next_cursor: next })
                }),
            )
            .route("/v1/rules", get(|| async { Json(RulebookSource { id: "acme".into(), version: "7\u{7}".into(), source: "[rules]\n\tx = 1".into() }) }))
            .route(
                "/v1/identities/{id}/link",
                post(|Path(id): Path<String>, Json(l): Json<LinkIdentity>| async move {
                    Json(Identity { id, network: Channel::X, handle: "@eve".into(), display_name: "Eve".into(), verified: true, customer_id: Some(l.customer_id) })
                }),
            )
            .with_state(seen)
    }

    async fn backend() -> (HttpBackend, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let base = serve(router(seen.clone())).await;
        let opts = HttpOptions {
            request_timeout: Duration::from_millis(1500),
            ..HttpOptions::default()
        };
        (
            HttpBackend::with_options(&format!("{base}/v1/"), "s3cret", opts).unwrap(),
            seen,
        )
    }

    #[test]
    fn base_urls_are_normalised() {
        let cases = [
            ("http://127.0.0.1:7300", "http://127.0.0.1:7300/"),
            ("http://127.0.0.1:7300/v1", "http://127.0.0.1:7300/"),
            (
                "https://crm.example.com/earshot/v1/?x=1#f",
                "https://crm.example.com/earshot/",
            ),
            (
                "https://crm.example.com/earshot",
                "https://crm.example.com/earshot/",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_base_url(input).unwrap().as_str(), want);
        }
        for bad in ["ftp://x", "not a url", "mailto:a@b.c", "file:///etc"] {
            assert!(
                matches!(parse_base_url(bad), Err(ClientError::Protocol(_))),
                "{bad}"
            );
        }
        let b = HttpBackend::new("https://crm.example.com/x", "t").unwrap();
        assert_eq!(
            b.url(&["feedback", "a/b?c"]).as_str(),
            "https://crm.example.com/x/v1/feedback/a%2Fb%3Fc"
        );
        assert!(HttpBackend::new("https://crm.example.com", "bad\ntoken").is_err());
    }

    #[tokio::test]
    async fn responses_are_parsed_and_sanitised_at_ingest() {
        let (http, seen) = backend().await;
        http.health().await.unwrap();
        // Sanitising is the wrapper's, at the console's boundary.
        let b = crate::client::Sanitized::new(http);
        let me = b.me().await.unwrap();
        assert_eq!(me.agent.name, "Ann");
        let detail = b.feedback("fb_1").await.unwrap();
        assert_eq!(detail.feedback.text, "hello");
        assert_eq!(detail.feedback.author.display_name, "Eve");
        assert_eq!(detail.feedback.version, 9, "the ETag is the version");
        let q = FeedbackQuery {
            status: Some(FeedbackStatus::New),
            assignee: Some("me".into()),
            channel: Some(Channel::InPerson),
            q: Some("late & lost".into()),
            limit: Some(50),
            ..FeedbackQuery::default()
        };
        let page = b.list_feedback(&q).await.unwrap();
        assert_eq!(page.items[0].text, "hello");
        assert_eq!(page.next_cursor.as_deref(), Some("c2"));
        let got = seen.queries.lock().unwrap()[0].clone();
        assert_eq!(got.get("status").map(String::as_str), Some("new"));
        assert_eq!(got.get("assignee").map(String::as_str), Some("me"));
        assert_eq!(got.get("channel").map(String::as_str), Some("in_person"));
        assert_eq!(got.get("q").map(String::as_str), Some("late & lost"));
        assert_eq!(got.get("limit").map(String::as_str), Some("50"));
        assert!(!got.contains_key("department"));
        let agents = b.agents().await.unwrap();
        assert_eq!(
            agents.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            vec!["ag_1", "ag_2"]
        );
        let rules = b.rules().await.unwrap();
        assert_eq!(rules.version, "7");
        assert_eq!(
            rules.source, "[rules]\n\tx = 1",
            "the rulebook source is not rewritten"
        );
        b.set_presence("fb_1", PresenceState::Viewing)
            .await
            .unwrap();
        let id = b.link_identity("idn 1", "cus_1").await.unwrap();
        assert_eq!(id.id, "idn 1");
        assert_eq!(id.customer_id.as_deref(), Some("cus_1"));
    }

    #[tokio::test]
    async fn patch_sends_if_match_and_maps_a_stale_version_to_conflict() {
        let (b, seen) = backend().await;
        let patch = FeedbackPatch {
            status: Some(FeedbackStatus::Pending),
            ..FeedbackPatch::default()
        };
        let f = b.patch_feedback("fb_1", 3, &patch).await.unwrap();
        assert_eq!(f.status, FeedbackStatus::Pending);
        assert_eq!(f.version, 4);
        let err = b.patch_feedback("fb_1", 2, &patch).await.unwrap_err();
        assert_eq!(
            err,
            ClientError::Conflict("the item is at version 3".into())
        );
        let h = seen.headers.lock().unwrap().clone();
        assert_eq!(h[0], ("if-match".to_string(), "\"3\"".to_string()));
    }

    #[tokio::test]
    async fn replies_carry_the_idempotency_key_and_refusals_keep_the_problem() {
        let (http, seen) = backend().await;
        let b = crate::client::Sanitized::new(http);
        let reply = NewReply {
            parts: vec![ReplyPart {
                visibility: Visibility::Public,
                body: "thanks".into(),
            }],
            overrides: vec![],
            rulebook_version: None,
            base_message_id: None,
        };
        let r = b.send_reply("fb_1", "key-123", &reply).await.unwrap();
        assert_eq!(r.id, "rp_1");
        assert_eq!(
            seen.headers.lock().unwrap()[0],
            ("idempotency-key".to_string(), "key-123".to_string())
        );
        let refused = NewReply {
            parts: vec![ReplyPart {
                visibility: Visibility::Direct,
                body: "full refund".into(),
            }],
            ..reply.clone()
        };
        match b.send_reply("fb_1", "key-124", &refused).await.unwrap_err() {
            ClientError::Refused { detail, problem } => {
                assert_eq!(detail, "rule no-refund-promises matched");
                use crate::domain::problem::ProblemExtension;
                let ProblemExtension::RuleViolation(r) = &problem.extension else {
                    panic!("{problem:?}")
                };
                assert_eq!(r.violations[0].message, "x");
                assert_eq!(problem.status, 422);
                assert_eq!(problem.kind, "rule-violation");
            }
            other => panic!("{other:?}"),
        }
        let slow = NewReply {
            parts: vec![ReplyPart {
                visibility: Visibility::Direct,
                body: "slow down".into(),
            }],
            ..reply
        };
        assert_eq!(
            b.send_reply("fb_1", "k", &slow).await.unwrap_err(),
            ClientError::RateLimited(7)
        );
        assert!(matches!(
            b.send_reply("fb_1", "bad\nkey", &refused).await,
            Err(ClientError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn statuses_map_to_errors_the_console_can_act_on() {
        let (b, _) = backend().await;
        assert_eq!(
            b.feedback("nope").await.unwrap_err(),
            ClientError::NotFound("feedback nope not found".into())
        );
        assert_eq!(
            b.feedback("gone").await.unwrap_err(),
            ClientError::Conflict("gone".into())
        );
        assert!(
            matches!(b.feedback("down").await, Err(ClientError::Unreachable(m)) if m.contains("storage unavailable"))
        );
        match b.feedback("bad json").await {
            Err(ClientError::Protocol(m)) => assert!(m.contains("unexpected response body")),
            other => panic!("{other:?}"),
        }
        match b.feedback("html").await {
            Err(ClientError::Protocol(m)) => {
                assert_eq!(m, "unexpected HTTP 500: Internal Server Error")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            b.feedback("slow").await,
            Err(ClientError::Unreachable(_))
        ));
        let wrong = HttpBackend::new(b.base_url().as_str(), "wrong").unwrap();
        assert_eq!(
            wrong.me().await.unwrap_err(),
            ClientError::Unauthorized("token revoked".into())
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let b = HttpBackend::new(&format!("http://{addr}"), "t").unwrap();
        match b.me().await {
            Err(ClientError::Unreachable(m)) => assert!(
                m.contains("onnect") && !m.contains("error sending request"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
