//! Strict loading of rulebook TOML into raw, span-carrying structures.
//!
//! Every struct refuses unknown keys, and every value that is validated after deserialisation
//! (regexes, ids, enum names, examples...) is kept as a `Spanned` so that a refusal can name the
//! file, line and column of the offending value, exactly as a compiler would.

use super::error::RulebookError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

pub(crate) type SString = Spanned<String>;
pub(crate) type SList = Spanned<Vec<SString>>;

/// One rulebook file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub rulebook: Option<Spanned<RawHeader>>,
    pub overrides: Option<Spanned<RawOverride>>,
    pub vocabulary: Option<Spanned<RawVocabulary>>,
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    pub id: SString,
    pub version: SString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOverride {
    pub allowed: Option<Spanned<bool>>,
    pub roles: Option<SList>,
    pub min_reason_chars: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVocabulary {
    #[serde(default)]
    pub accept: Vec<SString>,
}

/// `when` / `unless`: keys ANDed, values ORed.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub channel: Option<SList>,
    pub visibility: Option<SList>,
    pub tier: Option<SList>,
    pub tags: Option<SList>,
    pub department: Option<SList>,
    pub language: Option<SList>,
    pub sentiment: Option<SList>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExamples {
    #[serde(default)]
    pub bad: Vec<SString>,
    #[serde(default)]
    pub good: Vec<SString>,
}

/// `fix = { action = "mask" | "append" | "replace", keep_last = N, text = "..." }`.
/// Flat rather than a tagged enum: serde buffers tagged enums, which loses toml's spans.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFix {
    pub action: SString,
    pub keep_last: Option<Spanned<i64>>,
    pub text: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCap {
    pub amount: Option<Spanned<f64>>,
    pub percent: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrigger {
    pub patterns: SList,
}

/// Every rule, whatever its kind: one flat struct, so that a field that does not belong to the
/// kind is reported at its own location (see `kinds::check_fields`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub id: SString,
    pub kind: SString,
    pub level: SString,
    pub message: Option<SString>,
    pub when: Option<Spanned<RawCondition>>,
    pub unless: Option<Spanned<RawCondition>>,
    pub exceptions: Option<SList>,
    #[serde(rename = "override")]
    pub override_: Option<Spanned<RawOverride>>,
    pub examples: Option<Spanned<RawExamples>>,
    // phrase, substitute
    pub phrases: Option<SList>,
    pub ignore_case: Option<Spanned<bool>>,
    pub swap: Option<Spanned<BTreeMap<String, SString>>>,
    // pattern
    pub patterns: Option<SList>,
    pub unicode: Option<Spanned<bool>>,
    // pii
    pub detector: Option<SString>,
    pub region: Option<SString>,
    pub fix: Option<Spanned<RawFix>>,
    // amount_cap
    pub triggers: Option<SList>,
    pub window_words: Option<Spanned<i64>>,
    pub caps: Option<Spanned<BTreeMap<String, Spanned<RawCap>>>>,
    // length
    pub counter: Option<SString>,
    pub max: Option<Spanned<i64>>,
    pub warn_at: Option<Spanned<i64>>,
    // links
    pub allow: Option<SList>,
    // require
    pub trigger: Option<Spanned<RawTrigger>>,
    pub any_of: Option<SList>,
    // count
    pub token: Option<SString>,
}

impl RawRule {
    /// The kind-specific fields that are present, with their spans.
    pub fn kind_fields(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, span: Option<Range<usize>>| {
            if let Some(span) = span {
                out.push((name, span));
            }
        };
        add("phrases", self.phrases.as_ref().map(|s| s.span()));
        add("ignore_case", self.ignore_case.as_ref().map(|s| s.span()));
        add("swap", self.swap.as_ref().map(|s| s.span()));
        add("patterns", self.patterns.as_ref().map(|s| s.span()));
        add("unicode", self.unicode.as_ref().map(|s| s.span()));
        add("detector", self.detector.as_ref().map(|s| s.span()));
        add("region", self.region.as_ref().map(|s| s.span()));
        add("fix", self.fix.as_ref().map(|s| s.span()));
        add("triggers", self.triggers.as_ref().map(|s| s.span()));
        add("window_words", self.window_words.as_ref().map(|s| s.span()));
        add("caps", self.caps.as_ref().map(|s| s.span()));
        add("counter", self.counter.as_ref().map(|s| s.span()));
        add("max", self.max.as_ref().map(|s| s.span()));
        add("warn_at", self.warn_at.as_ref().map(|s| s.span()));
        add("allow", self.allow.as_ref().map(|s| s.span()));
        add("trigger", self.trigger.as_ref().map(|s| s.span()));
        add("any_of", self.any_of.as_ref().map(|s| s.span()));
        add("token", self.token.as_ref().map(|s| s.span()));
        out
    }
}

/// Locates byte offsets of one source file as `file:line:col`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// An error at a byte offset; the column counts characters, 1-based, like editors do.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> RulebookError {
        let (line, column) = line_col(self.text, offset);
        RulebookError {
            file: self.name.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> RulebookError {
        self.error_at(span.start, message)
    }
}

// Checks of values read as written, shared by the rulebook compiler and the per-kind one.

pub(crate) fn non_negative(src: Source<'_>, value: &Spanned<i64>) -> Result<usize, RulebookError> {
    usize::try_from(*value.get_ref())
        .map_err(|_| src.error(value.span(), "must be a non-negative integer"))
}

pub(crate) fn non_empty(src: Source<'_>, value: &SString, what: &str) -> Result<(), RulebookError> {
    if value.get_ref().trim().is_empty() {
        return Err(src.error(value.span(), format!("{what} must not be empty")));
    }
    Ok(())
}

/// 1-based line and character column of a byte offset (clamped into the text).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Parses one file strictly. toml's own errors carry the span of the offending key or value.
pub(crate) fn parse_file(src: Source<'_>) -> Result<RawFile, RulebookError> {
    toml::from_str::<RawFile>(src.text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        src.error_at(offset, tidy_toml_message(e.message()))
    })
}

/// toml's messages are good but sometimes multi-line; keep one line for `file:line:col: msg`.
fn tidy_toml_message(message: &str) -> String {
    message.trim().replace('\n', "; ")
}
