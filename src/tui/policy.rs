//! The rulebook's override policy in the console (issue 16 §5): `:override RULE REASON` and a
//! send are judged by the server's own function (`Rulebook::judge_override`, the test behind
//! `check_overrides`), so the console never says "added" to an override the server refuses, and
//! says plainly why (the rule cannot be overridden, the agent's role may not, the reason is too
//! short).

use super::lint::{CompiledRules, MarkLevel};
use super::model::Composer;
use crate::domain::{AgentRole, Override};
use crate::rules::Rulebook;

/// Whether the agent may override `rule` with `reason`: `Err` says why not. Without the
/// rulebook (not loaded yet) the server alone decides.
pub fn judge(
    rules: Option<&CompiledRules>,
    rule: &str,
    reason: &str,
    role: Option<AgentRole>,
) -> Result<(), String> {
    let Some(rules) = rules else {
        return Ok(());
    };
    let Some(policy) = rules.override_policy(rule) else {
        return Err(format!("rulebook {} has no rule {rule}", rules.version));
    };
    let o = Override {
        rule: rule.to_string(),
        reason: reason.to_string(),
    };
    // Before the agent is known, judge as the least privileged role: the server has the last word.
    Rulebook::judge_override(policy, &o, role.unwrap_or(AgentRole::Agent))
        .map_err(|why| format!("{rule} cannot be overridden here: {why}"))
}

/// Why the composer's draft cannot go yet: an error of the rulebook that no accepted override
/// lifts. `None` when nothing blocks.
pub fn blocking(
    c: &Composer,
    rules: Option<&CompiledRules>,
    role: Option<AgentRole>,
) -> Option<String> {
    let errors: Vec<&str> = c
        .violations
        .iter()
        .filter(|v| v.level == MarkLevel::Error && c.kind.parts().contains(&v.part))
        .map(|v| v.rule.as_str())
        .collect();
    for rule in &errors {
        match c.overrides.iter().find(|o| o.rule == *rule) {
            None => {}
            Some(o) => match judge(rules, rule, &o.reason, role) {
                Ok(()) => continue,
                Err(why) => return Some(why),
            },
        }
        let n = errors.len();
        let fixable = c
            .violations
            .iter()
            .any(|v| v.rule == *rule && v.fix.is_some());
        // Whether any reason would do (the policy allows this agent at all).
        let hint = match judge(rules, rule, &"x".repeat(2048), role) {
            Ok(()) => format!("fix it or `:override {rule} <reason>`"),
            Err(_) if fixable => "it cannot be overridden: apply the fix (A-f) or edit".into(),
            Err(_) => "it cannot be overridden: edit the text".into(),
        };
        return Some(format!("{n} rule error(s), e.g. {rule}: {hint}"));
    }
    None
}
