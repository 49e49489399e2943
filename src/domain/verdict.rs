//! The rule engine's verdicts as they travel: a violation, its level and override policy, and
//! why an override was refused. The engine (`crate::rules`) produces them, the server sends them in
//! its 422 problem, and the console decodes them with these same types (one contract, no JSON
//! read by key names).

use super::{AgentRole, Visibility};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may override a rule's errors, and with how long a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverridePolicy {
    pub allowed: bool,
    /// Empty: any agent.
    pub roles: Vec<AgentRole>,
    pub min_reason_chars: usize,
}

impl Default for OverridePolicy {
    fn default() -> Self {
        OverridePolicy {
            allowed: true,
            roles: Vec::new(),
            min_reason_chars: 0,
        }
    }
}

/// One finding. `start..end` are UTF-8 byte offsets into the text of `part`, on char boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: String,
    pub level: Level,
    pub message: String,
    pub part: Visibility,
    pub start: usize,
    pub end: usize,
    /// The replacement text for `start..end`, when the rule has one.
    pub fix: Option<String>,
    pub overridable: bool,
    pub override_policy: OverridePolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub rule: String,
    /// Index into `CheckResult::violations`.
    pub violation: usize,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RefusalReason {
    /// No override was given for this rule.
    Missing,
    /// The rule's policy forbids overriding it.
    NotAllowed,
    RoleNotPermitted {
        role: AgentRole,
        roles: Vec<AgentRole>,
    },
    ReasonTooShort {
        min_reason_chars: usize,
        given: usize,
    },
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefusalReason::Missing => write!(f, "not overridden"),
            RefusalReason::NotAllowed => write!(f, "this rule cannot be overridden"),
            RefusalReason::RoleNotPermitted { role, roles } => {
                let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
                write!(
                    f,
                    "a {role} may not override this rule (allowed: {})",
                    names.join(", ")
                )
            }
            RefusalReason::ReasonTooShort {
                min_reason_chars,
                given,
            } => {
                write!(
                    f,
                    "the reason needs at least {min_reason_chars} characters ({given} given)"
                )
            }
        }
    }
}
