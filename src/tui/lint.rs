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

/// A compiled rulebook.
#[derive(Debug)]
pub struct CompiledRules {
    pub id: String,
    pub version: String,
    inner: Engine,
}

#[derive(Debug)]
enum Engine {
    /// No rule engine in this build: nothing is flagged locally (the server still checks).
    None,
}

impl CompiledRules {
    /// Compile a rulebook source (slow: run it in an effect, not in `update`).
    pub fn compile(src: &RulebookSource) -> Result<CompiledRules, String> {
        Ok(CompiledRules {
            id: src.id.clone(),
            version: src.version.clone(),
            inner: Engine::None,
        })
    }

    /// Check the parts of a draft.
    pub fn check(&self, _parts: &[(Visibility, String)], _ctx: &LintContext) -> Vec<ViolationMark> {
        match self.inner {
            Engine::None => Vec::new(),
        }
    }
}
