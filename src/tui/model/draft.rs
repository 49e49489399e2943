//! A draft as it is saved: what survives a restart.

use crate::domain::Visibility;
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

/// Micro = one direct part, macro = one public part, both = one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyKind {
    Micro,
    Macro,
    Both,
}

impl ReplyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Micro => "micro",
            ReplyKind::Macro => "macro",
            ReplyKind::Both => "both",
        }
    }
    pub fn parse(s: &str) -> Option<ReplyKind> {
        match s {
            "micro" | "direct" | "dm" => Some(ReplyKind::Micro),
            "macro" | "public" => Some(ReplyKind::Macro),
            "both" => Some(ReplyKind::Both),
            _ => None,
        }
    }
    pub fn parts(self) -> &'static [Visibility] {
        match self {
            ReplyKind::Micro => &[Visibility::Direct],
            ReplyKind::Macro => &[Visibility::Public],
            ReplyKind::Both => &[Visibility::Public, Visibility::Direct],
        }
    }
}
