//! The reference outbound adapter: each message part is POSTed as a signed webhook following the
//! Standard Webhooks specification (<https://www.standardwebhooks.com/>):
//!
//! - `webhook-id`: the message id, the same on every attempt, so receivers de-duplicate redeliveries
//!   (a crash between their acknowledgement and our record of it sends the message again);
//! - `webhook-timestamp`: seconds since the Unix epoch, of this attempt;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
//!   base64-decoded part of the channel's `whsec_...` secret.
//!
//! The body is `{"type": "message.outbound", "timestamp": ..., "data": {...}}`, identical on
//! every attempt. Any 2xx acknowledges; 408, 429 and 5xx (and transport errors) are retried;
//! other answers (a 401 for a bad signature, a 404...) are final refusals.

use super::{Attempt, OutboundChannel};
use crate::domain::{Channel, Message, Visibility};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
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

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    /// The `webhook-signature` value for one delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// Checks a `webhook-signature` header (space-separated `v1,<sig>` entries, any may match) in
    /// constant time, and that the timestamp is within `tolerance` of now.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        tolerance: Duration,
    ) -> Result<(), &'static str> {
        let ts: i64 = timestamp.parse().map_err(|_| "bad webhook-timestamp")?;
        let skew = (Utc::now().timestamp() - ts).unsigned_abs();
        if skew > tolerance.as_secs() {
            return Err("webhook-timestamp outside the tolerance");
        }
        for sig in signatures.split_whitespace() {
            let Some(b64) = sig.strip_prefix("v1,") else {
                continue;
            };
            let Ok(expected) = B64.decode(b64) else {
                continue;
            };
            let mut mac = self.mac();
            mac.update(format!("{id}.{ts}.").as_bytes());
            mac.update(body);
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
        Err("no valid v1 signature")
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
}

pub fn payload(m: &Message) -> Payload {
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
    async fn attempt(&self, message: &Message) -> Attempt {
        let body = match serde_json::to_vec(&payload(message)) {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Fatal {
                    http_status: None,
                    error: format!("cannot encode the message: {e}"),
                }
            }
        };
        let timestamp = Utc::now().timestamp();
        let signature = self.secret.sign(&message.id, timestamp, &body);
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
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verifies_and_refuses() {
        let secret = WebhookSecret::random();
        let now = Utc::now().timestamp();
        let sig = secret.sign("msg_1", now, b"{}");
        let tol = Duration::from_secs(300);
        let ts = now.to_string();
        assert!(secret.verify("msg_1", &ts, &sig, b"{}", tol).is_ok());
        let both = format!("v1,AAAA {sig}");
        assert!(secret.verify("msg_1", &ts, &both, b"{}", tol).is_ok());
        assert!(secret.verify("msg_2", &ts, &sig, b"{}", tol).is_err());
        assert!(secret.verify("msg_1", &ts, &sig, b"{ }", tol).is_err());
        let old = (now - 3600).to_string();
        let old_sig = secret.sign("msg_1", now - 3600, b"{}");
        assert!(secret.verify("msg_1", &old, &old_sig, b"{}", tol).is_err());
        assert!(WebhookSecret::random()
            .verify("msg_1", &ts, &sig, b"{}", tol)
            .is_err());
        assert_eq!(WebhookSecret::parse(&secret.to_whsec()).unwrap(), secret);
    }
}
