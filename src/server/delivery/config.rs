//! The outbound configuration (`earshot serve --outbound <file>`): where each channel's messages
//! are posted as signed webhooks, and how failed attempts are retried.
//!
//! ```toml
//! [retry]                 # all optional
//! max_attempts = 6        # attempts per message, counted across restarts
//! base_ms = 500           # first backoff; doubles each attempt (with jitter)
//! max_ms = 60000          # backoff cap
//! timeout_ms = 10000      # one attempt's HTTP timeout
//! lease_ms = 30000        # how long an instance owns a message it delivers without renewing
//!                         # (renewed every third of it; another instance takes over after)
//! poll_ms = 5000          # how often the worker looks for messages nobody owns
//!
//! [default]               # channels without their own table (optional)
//! url = "https://bridge.example.com/earshot"
//! secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
//!
//! [channels.x]
//! url = "https://x-bridge.example.com/hooks/earshot"
//! secret = "whsec_..."
//! ```

use super::webhook::WebhookSecret;
use crate::domain::Channel;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// How failed attempts are retried: exponential backoff with jitter, bounded attempts; and how
/// the instances sharing a database share the work (leases, see `super` module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    pub timeout: Duration,
    /// How long a claimed message stays owned by this instance without a renewal; the owner
    /// renews it every third of this while it works on the message, so another instance takes
    /// over only when the owner died or lost the database.
    pub lease: Duration,
    /// How often the worker looks for deliverable messages that nobody owns (new ones another
    /// instance did not take, and orphans whose lease expired).
    pub poll: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `n` (1-based): `base * 2^(n-1)`, capped, then "equal
    /// jitter" (half fixed, half random) so that many messages failing together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        crate::backoff::Backoff::new(self.base, self.max).nth_delay(attempt)
    }
}

/// Where one channel's messages go.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub url: reqwest::Url,
    pub secret: WebhookSecret,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundConfig {
    pub retry: RetryPolicy,
    pub default: Option<Endpoint>,
    pub channels: HashMap<Channel, Endpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    retry: RetryFile,
    default: Option<EndpointFile>,
    #[serde(default)]
    channels: BTreeMap<String, EndpointFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryFile {
    max_attempts: Option<u32>,
    base_ms: Option<u64>,
    max_ms: Option<u64>,
    timeout_ms: Option<u64>,
    lease_ms: Option<u64>,
    poll_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointFile {
    url: String,
    secret: String,
}

fn endpoint(what: &str, e: EndpointFile) -> Result<Endpoint, String> {
    let url = reqwest::Url::parse(&e.url).map_err(|err| format!("{what}: url: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{what}: url must be http or https"));
    }
    let secret = WebhookSecret::parse(&e.secret).map_err(|err| format!("{what}: secret: {err}"))?;
    Ok(Endpoint { url, secret })
}

impl OutboundConfig {
    pub fn load(path: &Path) -> Result<OutboundConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<OutboundConfig, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let d = RetryPolicy::default();
        let r = file.retry;
        let retry = RetryPolicy {
            max_attempts: r.max_attempts.unwrap_or(d.max_attempts),
            base: r.base_ms.map(Duration::from_millis).unwrap_or(d.base),
            max: r.max_ms.map(Duration::from_millis).unwrap_or(d.max),
            timeout: r.timeout_ms.map(Duration::from_millis).unwrap_or(d.timeout),
            lease: r.lease_ms.map(Duration::from_millis).unwrap_or(d.lease),
            poll: r.poll_ms.map(Duration::from_millis).unwrap_or(d.poll),
        };
        if !(1..=100).contains(&retry.max_attempts) {
            return Err("retry.max_attempts must be between 1 and 100".into());
        }
        if retry.timeout.is_zero() {
            return Err("retry.timeout_ms must be above 0".into());
        }
        if retry.lease < Duration::from_secs(1) {
            return Err("retry.lease_ms must be at least 1000".into());
        }
        if retry.poll.is_zero() || retry.poll > retry.lease {
            return Err("retry.poll_ms must be above 0 and at most retry.lease_ms".into());
        }
        let default = file.default.map(|e| endpoint("default", e)).transpose()?;
        let mut channels = HashMap::new();
        for (name, e) in file.channels {
            let channel = Channel::from_str(&name).map_err(|_| {
                format!(
                    "channels.{name}: unknown channel (one of: {})",
                    Channel::ALL
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            channels.insert(channel, endpoint(&format!("channels.{name}"), e)?);
        }
        Ok(OutboundConfig {
            retry,
            default,
            channels,
        })
    }

    /// The endpoint a channel's messages go to.
    pub fn endpoint(&self, channel: Channel) -> Option<&Endpoint> {
        self.channels.get(&channel).or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_channels_default_and_retry() {
        let c = OutboundConfig::parse(
            r#"
            [retry]
            max_attempts = 3
            base_ms = 10
            lease_ms = 4000
            poll_ms = 250
            [default]
            url = "http://127.0.0.1:9/all"
            secret = "whsec_c2VjcmV0"
            [channels.x]
            url = "https://x.example/hook"
            secret = "whsec_c2VjcmV0"
            "#,
        )
        .unwrap();
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.retry.base, Duration::from_millis(10));
        assert_eq!(c.retry.lease, Duration::from_secs(4));
        assert_eq!(c.retry.poll, Duration::from_millis(250));
        assert_eq!(c.retry.timeout, RetryPolicy::default().timeout);
        assert_eq!(
            c.endpoint(Channel::X).unwrap().url.as_str(),
            "https://x.example/hook"
        );
        assert_eq!(
            c.endpoint(Channel::Email).unwrap().url.as_str(),
            "http://127.0.0.1:9/all"
        );
    }

    #[test]
    fn refuses_bad_entries_with_where() {
        let bad_channel = "[channels.myspace]\nurl = \"http://a/\"\nsecret = \"whsec_c2VjcmV0\"";
        assert!(OutboundConfig::parse(bad_channel)
            .unwrap_err()
            .contains("channels.myspace"));
        let bad_secret = "[default]\nurl = \"http://a/\"\nsecret = \"hunter2\"";
        assert!(OutboundConfig::parse(bad_secret)
            .unwrap_err()
            .contains("default: secret"));
        let bad_scheme = "[default]\nurl = \"ftp://a/\"\nsecret = \"whsec_c2VjcmV0\"";
        assert!(OutboundConfig::parse(bad_scheme).is_err());
        assert!(OutboundConfig::parse("[retry]\nmax_attempts = 0").is_err());
        assert!(OutboundConfig::parse("[retri]\n").is_err());
        assert!(OutboundConfig::parse("[retry]\nlease_ms = 10").is_err());
        assert!(OutboundConfig::parse("[retry]\nlease_ms = 2000\npoll_ms = 3000").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            timeout: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for n in 1..=10u32 {
            let full = (100u64 << (n - 1)).min(1000);
            let d = p.backoff(n).as_millis() as u64;
            assert!(d >= full / 2 && d <= full, "attempt {n}: {d} ms");
        }
    }
}
