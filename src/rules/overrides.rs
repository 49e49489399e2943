//! Overrides: an agent may deliver despite an error-level violation when the rule's policy
//! allows it, the agent's role is permitted and the written reason is long enough.
//!
//! An override names a rule (DESIGN.md §4; `domain::Override { rule, reason }`), so it covers
//! every error of that rule in the draft: the agent overrides "this rule in this reply".

use super::draft::CheckResult;
use crate::domain::verdict::{Level, OverridePolicy, Refusal, RefusalReason};
use crate::domain::{AgentRole, Override};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideOutcome {
    /// True when every error-level violation is covered by an accepted override.
    pub deliverable: bool,
    pub accepted: Vec<AcceptedOverride>,
    /// One entry per error-level violation left standing, in the order of the check result.
    pub refused: Vec<Refusal>,
    /// Overrides naming a rule that has no error in this draft (stale after an edit, usually).
    pub unused: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedOverride {
    pub rule: String,
    pub reason: String,
}

pub(crate) fn evaluate(
    result: &CheckResult,
    overrides: &[Override],
    role: AgentRole,
) -> OverrideOutcome {
    let mut accepted: Vec<AcceptedOverride> = Vec::new();
    let mut refused = Vec::new();
    for (index, v) in result
        .violations
        .iter()
        .enumerate()
        .filter(|(_, v)| v.level == Level::Error)
    {
        let candidates: Vec<&Override> = overrides.iter().filter(|o| o.rule == v.rule).collect();
        // The most favourable of the agent's overrides for this rule decides.
        let verdicts: Vec<Result<&Override, RefusalReason>> = candidates
            .iter()
            .map(|o| judge(o, &v.override_policy, role))
            .collect();
        match verdicts.iter().find_map(|r| r.as_ref().ok()) {
            Some(o) => {
                if !accepted.iter().any(|a| a.rule == o.rule) {
                    accepted.push(AcceptedOverride {
                        rule: o.rule.clone(),
                        reason: o.reason.clone(),
                    });
                }
            }
            None => {
                let reason = verdicts
                    .into_iter()
                    .find_map(Result::err)
                    .unwrap_or(RefusalReason::Missing);
                refused.push(Refusal {
                    rule: v.rule.clone(),
                    violation: index,
                    reason,
                });
            }
        }
    }
    let has_error = |rule: &str| {
        result
            .violations
            .iter()
            .any(|v| v.level == Level::Error && v.rule == rule)
    };
    let mut unused: Vec<String> = overrides
        .iter()
        .filter(|o| !has_error(&o.rule))
        .map(|o| o.rule.clone())
        .collect();
    unused.dedup();
    OverrideOutcome {
        deliverable: refused.is_empty(),
        accepted,
        refused,
        unused,
    }
}

pub(super) fn judge<'o>(
    o: &'o Override,
    policy: &OverridePolicy,
    role: AgentRole,
) -> Result<&'o Override, RefusalReason> {
    if !policy.allowed {
        return Err(RefusalReason::NotAllowed);
    }
    if !policy.roles.is_empty() && !policy.roles.contains(&role) {
        return Err(RefusalReason::RoleNotPermitted {
            role,
            roles: policy.roles.clone(),
        });
    }
    let given = o.reason.trim().chars().count();
    if given < policy.min_reason_chars {
        return Err(RefusalReason::ReasonTooShort {
            min_reason_chars: policy.min_reason_chars,
            given,
        });
    }
    Ok(o)
}
