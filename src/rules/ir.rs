//! The compiled form of a rulebook: what `compile`, `kinds` and `matchers` produce and `check`
//! runs. Plain data with no compiling logic, so that the compilers import it one way.

use super::detectors::Detector;
use crate::domain::verdict::{Level, OverridePolicy};
use crate::domain::{Channel, SentimentLabel, Visibility};
use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};
use rust_decimal::Decimal;

/// The owner id used for `[vocabulary] accept` literals, which belong to no rule.
pub(crate) const VOCABULARY: u32 = u32::MAX;

pub(crate) struct Compiled {
    pub id: String,
    pub version: String,
    pub rules: Vec<Rule>,
    pub literals: Literals,
    pub regexes: Regexes,
}

pub(crate) struct Rule {
    pub id: String,
    pub level: Level,
    pub message: String,
    pub when: Condition,
    pub unless: Option<Condition>,
    pub policy: OverridePolicy,
    pub kind: Kind,
    pub examples: Vec<Example>,
    /// Index of the file the rule came from, to locate example failures.
    pub file: usize,
}

pub(crate) struct Example {
    pub text: String,
    pub bad: bool,
    pub offset: usize,
}

pub(crate) enum Kind {
    Phrase {
        fix: Option<String>,
    },
    Substitute {
        swaps: Vec<String>,
    },
    Pattern {
        fix: Option<String>,
    },
    Pii {
        detector: Detector,
        region: Option<phonenumber::country::Id>,
        keep_last: Option<usize>,
    },
    AmountCap {
        window_words: usize,
        caps: Vec<(String, Cap)>,
    },
    Length {
        counter: Counter,
        max: usize,
        warn_at: Option<usize>,
    },
    Links {
        allow: Vec<String>,
    },
    Require {
        any_of: Vec<String>,
        triggered: bool,
        append: Option<String>,
    },
    Count {
        token: String,
        max: usize,
    },
}

impl Kind {
    /// Kinds judged on the whole text, which exceptions and vocabulary cannot excuse.
    pub fn is_whole_text(&self) -> bool {
        matches!(self, Kind::Length { .. } | Kind::Require { .. })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cap {
    pub amount: Option<Decimal>,
    pub percent: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    XWeighted,
    Sms,
    Graphemes,
}

/// Empty lists do not constrain.
#[derive(Debug, Default)]
pub(crate) struct Condition {
    pub channel: Vec<Channel>,
    pub visibility: Vec<Visibility>,
    pub tier: Vec<String>,
    pub tags: Vec<String>,
    pub department: Vec<String>,
    pub language: Vec<String>,
    pub sentiment: Vec<SentimentLabel>,
}

impl Condition {
    pub fn is_empty(&self) -> bool {
        self.channel.is_empty()
            && self.visibility.is_empty()
            && self.tier.is_empty()
            && self.tags.is_empty()
            && self.department.is_empty()
            && self.language.is_empty()
            && self.sentiment.is_empty()
    }
}

/// What a literal or regex entry means to the rule that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    Phrase,
    Swap(u32),
    Exception,
    Trigger,
    AnyOf,
    Vocabulary,
    Pattern,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LitOwner {
    pub rule: u32,
    pub role: Role,
    /// Case-sensitive: the automaton is ASCII-case-insensitive, so exact owners re-compare.
    pub exact: bool,
}

pub(crate) struct Literals {
    pub ac: Option<AhoCorasick>,
    pub patterns: Vec<String>,
    pub owners: Vec<Vec<LitOwner>>,
}

pub(crate) struct Regexes {
    pub set: Option<RegexSet>,
    pub each: Vec<Regex>,
    pub owners: Vec<Vec<(u32, Role)>>,
}
