//! What a check is given (a draft's parts, what is known of its conversation) and what it
//! gives back. Apart from `Rulebook` so that the engine's modules import it one way.

use crate::domain::verdict::Violation;
use crate::domain::{Channel, SentimentLabel, Visibility};
use serde::{Deserialize, Serialize};

/// One part of a draft reply: public (macro) or direct (micro).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftPart {
    pub visibility: Visibility,
    pub text: String,
}

impl DraftPart {
    pub fn new(visibility: Visibility, text: impl Into<String>) -> Self {
        DraftPart {
            visibility,
            text: text.into(),
        }
    }
}

/// What is known about the conversation a draft answers. Unknown fields fail any condition on them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CheckContext {
    pub channel: Option<Channel>,
    pub tier: Option<String>,
    pub tags: Vec<String>,
    pub department: Option<String>,
    pub language: Option<String>,
    pub sentiment: Option<SentimentLabel>,
}

/// The outcome of checking a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub rulebook_version: String,
    /// No error-level violation (overrides are applied by `Rulebook::check_overrides`).
    pub deliverable: bool,
    pub violations: Vec<Violation>,
}
