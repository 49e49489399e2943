//! A draft as it is saved: what survives a restart.

use super::composer::ReplyKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A draft as kept per item and saved to disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub feedback_id: String,
    pub kind: ReplyKind,
    #[serde(default)]
    pub public: String,
    #[serde(default)]
    pub direct: String,
    pub updated_at: DateTime<Utc>,
    /// The key of a send whose outcome is unknown: a retry must reuse it.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl Draft {
    pub fn is_empty(&self) -> bool {
        self.public.trim().is_empty() && self.direct.trim().is_empty()
    }
}
