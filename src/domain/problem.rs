//! The extensions of the server's problem bodies (RFC 9457), typed: what the server puts in a
//! problem's `violations` member for each problem type, built by the server and decoded by the
//! client with these same types. The console never reads a problem by key names.

use super::verdict::{Refusal, Violation};
use super::Message;
use serde::{Deserialize, Serialize};

/// `type` of a reply refused by the rules (422).
pub const RULE_VIOLATION: &str = "rule-violation";
/// `type` of a reply based on a message that is no longer the newest (409).
pub const STALE_THREAD: &str = "stale-thread";
/// `type` of a reply checked against another rulebook version (422).
pub const RULEBOOK_CHANGED: &str = "rulebook-changed";

/// 422 rule-violation: every violation found in the reply, and the errors no override lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRefusal {
    pub rulebook_version: String,
    #[serde(default)]
    pub violations: Vec<Violation>,
    #[serde(default)]
    pub refused: Vec<Refusal>,
}

/// 409 stale-thread: the messages the reply did not take into account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleThread {
    pub changes: Vec<Message>,
}

/// 422 rulebook-changed: the version in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulebookChanged {
    pub rulebook_version: String,
}

/// What a problem carries beyond its title and detail.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ProblemExtension {
    RuleViolation(RuleRefusal),
    StaleThread(StaleThread),
    RulebookChanged(RulebookChanged),
    #[default]
    None,
}

impl ProblemExtension {
    /// The `violations` member of the problem body (what the server sends).
    pub fn to_value(&self) -> Option<serde_json::Value> {
        match self {
            ProblemExtension::RuleViolation(r) => serde_json::to_value(r).ok(),
            ProblemExtension::StaleThread(s) => serde_json::to_value(s).ok(),
            ProblemExtension::RulebookChanged(c) => serde_json::to_value(c).ok(),
            ProblemExtension::None => None,
        }
    }

    /// The extension of a problem of type `problem_type` (a URI ending in the short name, or the
    /// short name) with its `violations` member: known types must have their shape.
    pub fn decode(
        problem_type: &str,
        violations: Option<serde_json::Value>,
    ) -> Result<ProblemExtension, String> {
        let short = problem_type.rsplit('/').next().unwrap_or(problem_type);
        let Some(v) = violations else {
            return match short {
                RULE_VIOLATION | STALE_THREAD => {
                    Err(format!("a {short} problem without its details"))
                }
                _ => Ok(ProblemExtension::None),
            };
        };
        let bad = |e: serde_json::Error| format!("a {short} problem with unreadable details: {e}");
        match short {
            RULE_VIOLATION => serde_json::from_value(v)
                .map(ProblemExtension::RuleViolation)
                .map_err(bad),
            STALE_THREAD => serde_json::from_value(v)
                .map(ProblemExtension::StaleThread)
                .map_err(bad),
            RULEBOOK_CHANGED => serde_json::from_value(v)
                .map(ProblemExtension::RulebookChanged)
                .map_err(bad),
            _ => Ok(ProblemExtension::None),
        }
    }
}

/// A problem as the client hands it to the console: status, the short type, field errors and
/// the typed extension.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerProblem {
    pub status: u16,
    /// The short type (`rule-violation`, `validation`...).
    pub kind: String,
    pub errors: Vec<super::api::ProblemField>,
    pub extension: ProblemExtension,
}
