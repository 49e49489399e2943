//! The composer's link to the rule engine: compile the server's rulebook once (off the UI
//! thread, in an effect) and check the draft on each edit. Violations are kept as byte ranges in
//! a part so the composer can underline them.

use crate::client::RulebookSource;
use crate::domain::{Channel, SentimentLabel, Visibility};
use crate::rules::{CheckContext, DraftPart, Level, OverridePolicy, Rulebook, Violation};

/// A rule's [`Level`] as the composer ranks it: ordered by severity (`max()` is the worst mark
/// of a part), where `Level` keeps the rulebook's order (error first), and with its theme scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkLevel {
    Info,
    Warning,
    Error,
}

impl From<Level> for MarkLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Error => MarkLevel::Error,
            Level::Warning => MarkLevel::Warning,
            Level::Info => MarkLevel::Info,
        }
    }
}

impl MarkLevel {
    pub fn scope(self) -> &'static str {
        match self {
            MarkLevel::Info => "rule.info",
            MarkLevel::Warning => "rule.warning",
            MarkLevel::Error => "rule.error",
        }
    }
}

/// One [`Violation`], as the composer shows it: what to underline and say, without the override
/// policy (the composer asks [`CompiledRules::override_policy`] when an agent overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationMark {
    pub rule: String,
    pub level: MarkLevel,
    pub message: String,
    pub part: Visibility,
    /// Byte range in the part's text.
    pub start: usize,
    pub end: usize,
    /// Replacement text for the range, when the rule offers one.
    pub fix: Option<String>,
}

/// The one conversion from the rule engine's findings (local checks, and the server's 422 rule
/// refusals, which carry the same `Violation`s).
impl From<&Violation> for ViolationMark {
    fn from(v: &Violation) -> Self {
        ViolationMark {
            rule: v.rule.clone(),
            level: v.level.into(),
            message: v.message.clone(),
            part: v.part,
            start: v.start,
            end: v.end,
            fix: v.fix.clone(),
        }
    }
}

/// What a check needs to know about the reply besides its text: the rules' [`CheckContext`],
/// with the item's sentiment as the score the console holds (labelled at the conversion).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LintContext {
    pub channel: Option<Channel>,
    pub tier: Option<String>,
    pub department: Option<String>,
    pub tags: Vec<String>,
    pub language: Option<String>,
    pub sentiment: Option<f64>,
}

impl From<&LintContext> for CheckContext {
    fn from(ctx: &LintContext) -> Self {
        CheckContext {
            channel: ctx.channel,
            tier: ctx.tier.clone(),
            tags: ctx.tags.clone(),
            department: ctx.department.clone(),
            language: ctx.language.clone(),
            sentiment: ctx.sentiment.map(SentimentLabel::from_score),
        }
    }
}

/// A compiled rulebook (the rule engine's), shared by every check of the session.
pub struct CompiledRules {
    pub id: String,
    pub version: String,
    book: Rulebook,
}

impl std::fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRules")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish()
    }
}

impl CompiledRules {
    /// Compile a rulebook source (slow: run it in an effect, not in `update`).
    pub fn compile(src: &RulebookSource) -> Result<CompiledRules, String> {
        let book = Rulebook::from_toml_str(&src.source, &format!("rulebook {}", src.id))
            .map_err(|e| e.to_string())?;
        Ok(CompiledRules {
            id: src.id.clone(),
            version: src.version.clone(),
            book,
        })
    }

    /// The override policy of a rule of this rulebook.
    pub fn override_policy(&self, rule: &str) -> Option<&OverridePolicy> {
        self.book.override_policy(rule)
    }

    /// Check the parts of a draft; each keystroke runs only the rules for this context.
    pub fn check(&self, parts: &[(Visibility, String)], ctx: &LintContext) -> Vec<ViolationMark> {
        let draft: Vec<DraftPart> = parts
            .iter()
            .map(|(v, t)| DraftPart::new(*v, t.clone()))
            .collect();
        self.book
            .check(&draft, &ctx.into())
            .violations
            .iter()
            .map(ViolationMark::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rulebook_compiles_and_flags_a_draft() {
        let src = RulebookSource {
            id: "default".into(),
            version: "1".into(),
            source: crate::rules::DEFAULT_RULEBOOK.into(),
        };
        let rules = CompiledRules::compile(&src).expect("default rulebook compiles");
        let ctx = LintContext {
            channel: Some(crate::domain::Channel::X),
            ..Default::default()
        };
        let clean = rules.check(
            &[(Visibility::Public, "Thanks for reaching out!".into())],
            &ctx,
        );
        let long = rules.check(&[(Visibility::Public, "a".repeat(400))], &ctx);
        assert!(long.len() > clean.len(), "{long:?}");
        for v in &long {
            assert!(v.start <= v.end);
        }
    }

    #[test]
    fn a_broken_rulebook_is_an_error_not_a_panic() {
        let src = RulebookSource {
            id: "x".into(),
            version: "1".into(),
            source: "[[rule]\n".into(),
        };
        assert!(CompiledRules::compile(&src).is_err());
    }
}
