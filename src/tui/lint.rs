//! The composer's link to the rule engine: compile the server's rulebook once (off the UI
//! thread, in an effect) and check the draft on each edit. Violations are kept as byte ranges in
//! a part so the composer can underline them.

use crate::client::RulebookSource;
use crate::domain::Visibility;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkLevel {
    Info,
    Warning,
    Error,
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

/// One violation, as the composer shows it.
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

/// What a check needs to know about the reply besides its text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LintContext {
    pub channel: Option<crate::domain::Channel>,
    pub tier: Option<String>,
    pub department: Option<String>,
    pub tags: Vec<String>,
    pub language: Option<String>,
    pub sentiment: Option<f64>,
}

/// A compiled rulebook (the rule engine's), shared by every check of the session.
pub struct CompiledRules {
    pub id: String,
    pub version: String,
    book: crate::rules::Rulebook,
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
        let book =
            crate::rules::Rulebook::from_toml_str(&src.source, &format!("rulebook {}", src.id))
                .map_err(|e| e.to_string())?;
        Ok(CompiledRules {
            id: src.id.clone(),
            version: src.version.clone(),
            book,
        })
    }

    /// The override policy of a rule of this rulebook.
    pub fn override_policy(&self, rule: &str) -> Option<&crate::rules::OverridePolicy> {
        self.book.override_policy(rule)
    }

    /// Check the parts of a draft; each keystroke runs only the rules for this context.
    pub fn check(&self, parts: &[(Visibility, String)], ctx: &LintContext) -> Vec<ViolationMark> {
        let draft: Vec<crate::rules::DraftPart> = parts
            .iter()
            .map(|(v, t)| crate::rules::DraftPart::new(*v, t.clone()))
            .collect();
        let cctx = crate::rules::CheckContext {
            channel: ctx.channel,
            tier: ctx.tier.clone(),
            tags: ctx.tags.clone(),
            department: ctx.department.clone(),
            language: ctx.language.clone(),
            sentiment: ctx.sentiment.map(crate::domain::SentimentLabel::from_score),
        };
        self.book
            .check(&draft, &cctx)
            .violations
            .into_iter()
            .map(|v| ViolationMark {
                rule: v.rule,
                level: match v.level {
                    crate::rules::Level::Error => MarkLevel::Error,
                    crate::rules::Level::Warning => MarkLevel::Warning,
                    crate::rules::Level::Info => MarkLevel::Info,
                },
                message: v.message,
                part: v.part,
                start: v.start,
                end: v.end,
                fix: v.fix,
            })
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
