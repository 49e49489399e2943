//! The console's side of the wire: the `CrmBackend` trait the console talks to, and its first
//! implementation over the reference server's HTTP API.
//!
//! The trait is the seam for other CRMs (Chatwoot, Zendesk...): the console never names the
//! HTTP client, only this trait.

pub mod backend;
pub mod config;
pub mod drafts;
pub mod events;
pub mod fsutil;
pub mod http;
pub mod outbox;
pub mod sanitize;
mod wire;

pub use backend::{ClientError, CrmBackend, FeedbackQuery, StreamItem};
pub use config::{ConfigError, ConfigFlags, ConnectionConfig};
pub use drafts::DraftStore;
pub use events::EventStreamOptions;
pub use http::{HttpBackend, HttpOptions};
pub use outbox::{DrainReport, Outbox, OutboxEntry, OutboxState};
pub use sanitize::Sanitized;

/// The rulebook in force on the server, as `GET /v1/rules` returns it.
pub use crate::domain::api::RulebookSource;
