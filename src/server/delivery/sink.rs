//! The demo's loopback sink: `POST /sink/{channel}` on the demo server itself stands in for the
//! social networks. It verifies each webhook's signature with the documented scheme, de-duplicates
//! by `webhook-id`, takes a moment like a real network would, and acknowledges. The demo's outbound
//! configuration points every channel at it, so a demo reply goes through the same webhook
//! adapter, retries and attempt records as a production one.

use super::config::{Endpoint, OutboundConfig, RetryPolicy};
use super::webhook::{Payload, WebhookSecret};
use crate::domain::Channel;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many webhook ids the sink remembers for de-duplication.
const REMEMBER: usize = 10_000;

pub struct DemoSink {
    secret: WebhookSecret,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl DemoSink {
    pub fn new() -> Arc<DemoSink> {
        Arc::new(DemoSink {
            secret: WebhookSecret::random(),
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        })
    }

    /// The outbound configuration that points every channel at this sink on `addr`.
    pub fn outbound_config(&self, addr: SocketAddr) -> OutboundConfig {
        let channels: HashMap<Channel, Endpoint> = Channel::ALL
            .iter()
            .filter_map(|&c| {
                let url = reqwest::Url::parse(&format!("http://{addr}/sink/{c}")).ok()?;
                Some((
                    c,
                    Endpoint {
                        url,
                        secret: self.secret.clone(),
                    },
                ))
            })
            .collect();
        OutboundConfig {
            retry: RetryPolicy {
                max_attempts: 4,
                base: Duration::from_millis(250),
                max: Duration::from_secs(5),
                timeout: Duration::from_secs(5),
                ..RetryPolicy::default()
            },
            default: None,
            channels,
        }
    }

    /// True the first time an id is seen.
    fn first_time(&self, id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *seen;
        if !set.insert(id.to_string()) {
            return false;
        }
        order.push_back(id.to_string());
        if order.len() > REMEMBER {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

pub fn router(sink: Arc<DemoSink>) -> Router {
    Router::new()
        .route("/sink/{channel}", post(receive))
        .with_state(sink)
}

async fn receive(
    State(sink): State<Arc<DemoSink>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Err(e) = sink.secret.verify(&headers, &body) {
        let reason = super::webhook::refusal_reason(&e);
        tracing::warn!(%channel, %reason, "demo sink refused a webhook");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(payload) = serde_json::from_slice::<Payload>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if !sink.first_time(id) {
        tracing::debug!(%channel, id, "demo sink: duplicate delivery acknowledged");
        return StatusCode::OK;
    }
    // A network takes a moment to post.
    let ms = rand::Rng::gen_range(&mut rand::thread_rng(), 80..300);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    tracing::debug!(
        %channel,
        id,
        visibility = %payload.data.visibility,
        "demo sink: posted"
    );
    StatusCode::OK
}
