//! The reference outbound adapter: each message part is POSTed as a signed webhook following the
//! Standard Webhooks specification (<https://www.standardwebhooks.com/>):
//!
//! - `webhook-id`: the message id, the same on every attempt, so receivers de-duplicate redeliveries
//!   (a crash between their acknowledgement and our record of it sends the message again);
//! - `webhook-timestamp`: seconds since the Unix epoch, of this attempt;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
//!   base64-decoded part of the channel's `whsec_...` secret.
//!
//! Signing and verifying are the maintained `standardwebhooks` crate's (the specification's own
//! Rust library); this module holds the secret and builds the payload.
//!
//! The body is `{"type": "message.outbound", "timestamp": ..., "data": {...}}`, identical on
//! every attempt. Any 2xx acknowledges; 408, 429 and 5xx (and transport errors) are retried;
//! other answers (a 401 for a bad signature, a 404...) are final refusals.

use super::channel::{Attempt, OutboundChannel};
use crate::domain::{Channel, Message, Visibility};
use crate::server::store::{Answers, PostRef};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A webhook signing secret, given as `whsec_<base64>`; its bytes are never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<WebhookSecret, String> {
        let b64 = text
            .trim()
            .strip_prefix("whsec_")
            .ok_or("must start with whsec_")?;
        let bytes = B64
            .decode(b64)
            .map_err(|_| "the part after whsec_ is not base64".to_string())?;
        if bytes.len() < 4 {
            return Err("too short".into());
        }
        Ok(WebhookSecret(bytes))
    }

    /// A new random secret (24 bytes, as Standard Webhooks libraries generate).
    pub fn random() -> WebhookSecret {
        let bytes: [u8; 24] = rand::random();
        WebhookSecret(bytes.to_vec())
    }

    /// The `whsec_<base64>` form, to hand to a receiver.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", B64.encode(&self.0))
    }

    /// The maintained Standard Webhooks implementation, keyed with these bytes.
    fn webhook(&self) -> standardwebhooks::Webhook {
        // `from_bytes` takes any key; it returns a Result only for symmetry with `new`.
        standardwebhooks::Webhook::from_bytes(self.0.clone()).expect("any key is a key")
    }

    /// The `webhook-signature` value for one delivery; `None` when the body is not UTF-8 (the
    /// specification signs text).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
        self.webhook().sign(id, timestamp, body).ok()
    }

    /// Checks a request's `webhook-id`, `webhook-timestamp` (within 5 minutes of now, as the
    /// specification's libraries allow) and `webhook-signature` (space-separated `v1,<sig>`
    /// entries, any may match, compared in constant time) against its body.
    pub fn verify(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<(), standardwebhooks::WebhookError> {
        self.webhook().verify(body, headers)
    }

    /// The SHA-256 of the secret's bytes, hex: what is stored to recognise a secret.
    pub fn fingerprint(&self) -> String {
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&self.0))
    }

    pub(crate) fn from_bytes(bytes: Vec<u8>) -> WebhookSecret {
        WebhookSecret(bytes)
    }
}

/// Why a signed request was refused, in words for the sender (never the expected signature).
pub fn refusal_reason(e: &standardwebhooks::WebhookError) -> String {
    use standardwebhooks::WebhookError as E;
    match e {
        E::MissingHeader(h) => format!("the webhook-{h} header is missing"),
        E::InvalidHeader(h) => format!("the webhook-{h} header is not text"),
        E::InvalidTimestamp => "webhook-timestamp is not a number of seconds".into(),
        E::TimestampTooOldError => {
            "webhook-timestamp is more than 5 minutes in the past; sign the request again".into()
        }
        E::FutureTimestampError => "webhook-timestamp is more than 5 minutes in the future".into(),
        E::InvalidSignature => "no webhook-signature entry matches the body".into(),
        E::InvalidPayload => "the body is not UTF-8 text".into(),
        E::InvalidSecret(_) => "the signing secret is not valid".into(),
    }
}

/// The body of an outbound webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: DateTime<Utc>,
    pub data: OutboundMessage,
}

/// What a channel bridge needs to post one message part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub id: String,
    pub thread_id: String,
    pub feedback_id: Option<String>,
    pub reply_id: Option<String>,
    pub channel: Channel,
    pub visibility: Visibility,
    /// Handle, email address or phone number to deliver to.
    pub address: String,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// The post this part answers (the item the reply was sent to).
    pub in_reply_to: Option<PostRef>,
    /// The first post of the thread (the same as `in_reply_to` for a reply to it).
    pub thread_root: Option<PostRef>,
}

pub fn payload(m: &Message, answers: &Answers) -> Payload {
    Payload {
        kind: "message.outbound".into(),
        timestamp: m.created_at,
        data: OutboundMessage {
            id: m.id.clone(),
            thread_id: m.thread_id.clone(),
            feedback_id: m.feedback_id.clone(),
            reply_id: m.reply_id.clone(),
            channel: m.channel,
            visibility: m.visibility,
            address: m.address.clone(),
            author: m.author.clone(),
            body: m.body.clone(),
            created_at: m.created_at,
            in_reply_to: answers.in_reply_to.clone(),
            thread_root: answers.thread_root.clone(),
        },
    }
}

/// Posts messages to one URL, signed with one secret.
pub struct WebhookChannel {
    url: reqwest::Url,
    secret: WebhookSecret,
    client: reqwest::Client,
}

impl WebhookChannel {
    pub fn new(
        url: reqwest::Url,
        secret: WebhookSecret,
        timeout: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // A signed delivery goes where it was configured to go, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("earshot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(WebhookChannel {
            url,
            secret,
            client,
        })
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".into()
    } else if e.is_connect() {
        "cannot connect to the receiver".into()
    } else {
        // Without the URL, which may carry a token in its path.
        let mut e = format!("{}", TransportError(e));
        e.truncate(200);
        e
    }
}

struct TransportError<'a>(&'a reqwest::Error);

impl std::fmt::Display for TransportError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::error::Error as _;
        write!(f, "transport error")?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

#[async_trait::async_trait]
impl OutboundChannel for WebhookChannel {
    async fn attempt(&self, message: &Message, answers: &Answers) -> Attempt {
        let body = match serde_json::to_vec(&payload(message, answers)) {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Fatal {
                    http_status: None,
                    error: format!("cannot encode the message: {e}"),
                }
            }
        };
        let timestamp = Utc::now().timestamp();
        let Some(signature) = self.secret.sign(&message.id, timestamp, &body) else {
            return Attempt::Fatal {
                http_status: None,
                error: "the message is not UTF-8 text".into(),
            };
        };
        let sent = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    http_status: None,
                    error: transport_reason(&e.without_url()),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        let code = Some(status.as_u16());
        let wait = retry_after(response.headers());
        // The body is not needed; dropping the response closes or reuses the connection.
        drop(response);
        if status.is_success() {
            return Attempt::Delivered { http_status: code };
        }
        let error = format!("the receiver answered HTTP {status}");
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Attempt::Retry {
                http_status: code,
                error,
                retry_after: wait,
            }
        } else {
            Attempt::Fatal {
                http_status: code,
                error: format!("{error}; not retried"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            sig.as_deref().unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verifies_and_refuses() {
        let secret = WebhookSecret::random();
        let now = Utc::now().timestamp();
        let headers = |id: &str, ts: i64, sig: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert("webhook-id", id.parse().unwrap());
            h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
            h.insert("webhook-signature", sig.parse().unwrap());
            h
        };
        let sig = secret.sign("msg_1", now, b"{}").unwrap();
        assert!(secret.verify(&headers("msg_1", now, &sig), b"{}").is_ok());
        let both = format!("v1,AAAA {sig}");
        assert!(secret.verify(&headers("msg_1", now, &both), b"{}").is_ok());
        assert!(secret.verify(&headers("msg_2", now, &sig), b"{}").is_err());
        assert!(secret.verify(&headers("msg_1", now, &sig), b"{ }").is_err());
        let old_sig = secret.sign("msg_1", now - 3600, b"{}").unwrap();
        let stale = secret.verify(&headers("msg_1", now - 3600, &old_sig), b"{}");
        assert!(refusal_reason(&stale.unwrap_err()).contains("5 minutes"));
        assert!(WebhookSecret::random()
            .verify(&headers("msg_1", now, &sig), b"{}")
            .is_err());
        let missing = secret.verify(&axum::http::HeaderMap::new(), b"{}");
        assert!(refusal_reason(&missing.unwrap_err()).contains("missing"));
        assert_eq!(WebhookSecret::parse(&secret.to_whsec()).unwrap(), secret);
    }
}
