//! Compiles raw rulebook files into matchers built once per rulebook version.
//!
//! All literals go into one Aho-Corasick automaton and all regexes into one `RegexSet`, each
//! entry remembering which rules own it and in what role; a check scans the text once per engine
//! and hands each rule its own hits.

use super::detectors::Detector;
use super::parse::{self, RawCondition, RawFile, RawOverride, RawRule, SList, SString, Source};
use super::{Level, OverridePolicy, RulebookError};
use crate::domain::{AgentRole, Channel, SentimentLabel, Visibility};
use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::str::FromStr;

/// The owner id used for `[vocabulary] accept` literals, which belong to no rule.
pub(crate) const VOCABULARY: u32 = u32::MAX;

/// Keeps a pathological pattern from eating memory on the server.
const REGEX_SIZE_LIMIT: usize = 2 << 20;

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

/// Compiles the files of one rulebook (one file, or a directory's files in order).
pub(crate) fn compile(files: &[(String, String)]) -> Result<Compiled, RulebookError> {
    let mut header: Option<(String, String)> = None;
    let mut default_policy: Option<OverridePolicy> = None;
    let mut literals = LiteralBuilder::default();
    let mut regexes = RegexBuilderSet::default();
    let mut raw_rules = Vec::new();
    for (index, (name, text)) in files.iter().enumerate() {
        let src = Source { name, text };
        let file = parse::parse_file(src)?;
        take_header(src, &file, &mut header, &mut default_policy)?;
        if let Some(vocab) = &file.vocabulary {
            for term in &vocab.get_ref().accept {
                non_empty(src, term, "a vocabulary term")?;
                literals.add(
                    term.get_ref(),
                    LitOwner {
                        rule: VOCABULARY,
                        role: Role::Vocabulary,
                        exact: true,
                    },
                );
            }
        }
        raw_rules.extend(file.rule.into_iter().map(|r| (index, r)));
    }
    let (id, version) = header.ok_or_else(|| missing_header(files))?;
    let policy = default_policy.unwrap_or_default();
    let rules = compile_rules(files, raw_rules, &policy, &mut literals, &mut regexes)?;
    Ok(Compiled {
        id,
        version,
        rules,
        literals: literals.build(),
        regexes: regexes.build(),
    })
}

fn missing_header(files: &[(String, String)]) -> RulebookError {
    let name = files.first().map_or("", |f| f.0.as_str());
    let message = "missing [rulebook] table with `id` and `version`".to_string();
    RulebookError {
        file: name.to_string(),
        line: 1,
        column: 1,
        message,
    }
}

/// `[rulebook]` in exactly one file, `[overrides]` in at most one (see `Rulebook::load`).
fn take_header(
    src: Source<'_>,
    file: &RawFile,
    header: &mut Option<(String, String)>,
    policy: &mut Option<OverridePolicy>,
) -> Result<(), RulebookError> {
    if let Some(h) = &file.rulebook {
        if header.is_some() {
            return Err(src.error(h.span(), "[rulebook] is already defined in another file"));
        }
        let h = h.get_ref();
        non_empty(src, &h.id, "the rulebook id")?;
        non_empty(src, &h.version, "the rulebook version")?;
        *header = Some((h.id.get_ref().clone(), h.version.get_ref().clone()));
    }
    if let Some(o) = &file.overrides {
        if policy.is_some() {
            return Err(src.error(o.span(), "[overrides] is already defined in another file"));
        }
        *policy = Some(override_policy(
            src,
            o.get_ref(),
            &OverridePolicy::default(),
            false,
        )?);
    }
    Ok(())
}

fn compile_rules(
    files: &[(String, String)],
    raw_rules: Vec<(usize, toml::Spanned<RawRule>)>,
    policy: &OverridePolicy,
    literals: &mut LiteralBuilder,
    regexes: &mut RegexBuilderSet,
) -> Result<Vec<Rule>, RulebookError> {
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    let mut rules = Vec::with_capacity(raw_rules.len());
    for (file, raw) in raw_rules {
        let src = Source {
            name: &files[file].0,
            text: &files[file].1,
        };
        let raw = raw.into_inner();
        let id = raw.id.get_ref().clone();
        if let Some(&(first_file, first_offset)) = seen.get(&id) {
            let first = Source {
                name: &files[first_file].0,
                text: &files[first_file].1,
            };
            let (line, col) = parse::line_col(first.text, first_offset);
            let message = format!(
                "duplicate rule id `{id}` (first defined at {}:{line}:{col})",
                first.name
            );
            return Err(src.error(raw.id.span(), message));
        }
        non_empty(src, &raw.id, "a rule id")?;
        seen.insert(id, (file, raw.id.span().start));
        let index = rules.len() as u32;
        let mut ctx = RuleCx {
            src,
            index,
            literals: &mut *literals,
            regexes: &mut *regexes,
        };
        rules.push(compile_rule(&mut ctx, raw, policy, file)?);
    }
    Ok(rules)
}

/// What compiling one rule needs besides the rule itself.
struct RuleCx<'a> {
    src: Source<'a>,
    index: u32,
    literals: &'a mut LiteralBuilder,
    regexes: &'a mut RegexBuilderSet,
}

impl RuleCx<'_> {
    fn literal(&mut self, text: &str, role: Role, ignore_case: bool) {
        let owner = LitOwner {
            rule: self.index,
            role,
            exact: !ignore_case,
        };
        if ignore_case {
            self.literals.add_case_insensitive(text, owner);
        } else {
            self.literals.add_exact(text, owner);
        }
    }

    fn regex(&mut self, pattern: &SString, role: Role, unicode: bool) -> Result<(), RulebookError> {
        let compiled = compile_regex(self.src, pattern, unicode)?;
        self.regexes.add(compiled, self.index, role);
        Ok(())
    }
}

fn compile_rule(
    cx: &mut RuleCx<'_>,
    raw: RawRule,
    default_policy: &OverridePolicy,
    file: usize,
) -> Result<Rule, RulebookError> {
    let src = cx.src;
    let kind_name = raw.kind.get_ref().as_str();
    check_fields(src, &raw, kind_name).map_err(|e| e.with_kind(&raw))?;
    let level = parse_level(src, &raw.level)?;
    let kind = compile_kind(cx, &raw)?;
    let message = match &raw.message {
        Some(m) => {
            check_placeholders(src, m)?;
            m.get_ref().clone()
        }
        None => default_message(&kind).to_string(),
    };
    for exception in raw.exceptions.iter().flat_map(|l| l.get_ref()) {
        non_empty(src, exception, "an exception")?;
        cx.literal(exception.get_ref(), Role::Exception, true);
    }
    let policy = match &raw.override_ {
        Some(o) => override_policy(src, o.get_ref(), default_policy, true)?,
        None => default_policy.clone(),
    };
    Ok(Rule {
        id: raw.id.get_ref().clone(),
        level,
        message,
        when: condition(src, raw.when.as_ref().map(|c| c.get_ref()))?,
        unless: match &raw.unless {
            Some(c) => Some(condition(src, Some(c.get_ref()))?).filter(|c| !c.is_empty()),
            None => None,
        },
        policy,
        kind,
        examples: examples(&raw),
        file,
    })
}

trait WithKind {
    fn with_kind(self, raw: &RawRule) -> Self;
}

impl WithKind for RulebookError {
    /// Names the rule so that "field does not apply" is actionable in a long rulebook.
    fn with_kind(mut self, raw: &RawRule) -> Self {
        self.message = format!("rule `{}`: {}", raw.id.get_ref(), self.message);
        self
    }
}

fn examples(raw: &RawRule) -> Vec<Example> {
    let Some(ex) = &raw.examples else {
        return Vec::new();
    };
    let ex = ex.get_ref();
    let one = |s: &SString, bad: bool| Example {
        text: s.get_ref().clone(),
        bad,
        offset: s.span().start,
    };
    ex.bad
        .iter()
        .map(|s| one(s, true))
        .chain(ex.good.iter().map(|s| one(s, false)))
        .collect()
}

const KINDS: &[(&str, &[&str])] = &[
    ("phrase", &["phrases", "ignore_case", "fix"]),
    ("substitute", &["swap", "ignore_case"]),
    ("pattern", &["patterns", "unicode", "fix"]),
    ("pii", &["detector", "region", "fix"]),
    ("amount_cap", &["triggers", "window_words", "caps"]),
    ("length", &["counter", "max", "warn_at"]),
    ("links", &["allow"]),
    ("require", &["trigger", "any_of", "fix"]),
    ("count", &["token", "max"]),
];

/// Refuses an unknown kind, and any field that belongs to another kind.
fn check_fields(src: Source<'_>, raw: &RawRule, kind: &str) -> Result<(), RulebookError> {
    let Some((_, allowed)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let names: Vec<_> = KINDS.iter().map(|(k, _)| *k).collect();
        let message = format!(
            "unknown kind `{kind}`, expected one of: {}",
            names.join(", ")
        );
        return Err(src.error(raw.kind.span(), message));
    };
    for (field, span) in raw.kind_fields() {
        if !allowed.contains(&field) {
            return Err(src.error(span, format!("`{field}` does not apply to kind `{kind}`")));
        }
    }
    Ok(())
}

fn required<'r, T>(
    src: Source<'_>,
    raw: &RawRule,
    value: &'r Option<T>,
    field: &str,
) -> Result<&'r T, RulebookError> {
    value.as_ref().ok_or_else(|| {
        let message = format!(
            "rule `{}`: kind `{}` needs `{field}`",
            raw.id.get_ref(),
            raw.kind.get_ref()
        );
        src.error(raw.kind.span(), message)
    })
}

fn compile_kind(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    match raw.kind.get_ref().as_str() {
        "phrase" => {
            let ignore_case = raw.ignore_case.as_ref().is_none_or(|b| *b.get_ref());
            for phrase in required(src, raw, &raw.phrases, "phrases")?.get_ref() {
                non_empty(src, phrase, "a phrase")?;
                cx.literal(phrase.get_ref(), Role::Phrase, ignore_case);
            }
            Ok(Kind::Phrase {
                fix: text_fix(src, raw, "replace")?,
            })
        }
        "substitute" => compile_substitute(cx, raw),
        "pattern" => {
            let unicode = raw.unicode.as_ref().is_some_and(|b| *b.get_ref());
            for pattern in required(src, raw, &raw.patterns, "patterns")?.get_ref() {
                cx.regex(pattern, Role::Pattern, unicode)?;
            }
            Ok(Kind::Pattern {
                fix: text_fix(src, raw, "replace")?,
            })
        }
        "pii" => compile_pii(src, raw),
        "amount_cap" => compile_amount_cap(cx, raw),
        "length" => compile_length(src, raw),
        "links" => {
            let allow = required(src, raw, &raw.allow, "allow")?.get_ref();
            let allow = allow
                .iter()
                .map(|d| domain(src, d))
                .collect::<Result<_, _>>()?;
            Ok(Kind::Links { allow })
        }
        "require" => compile_require(cx, raw),
        "count" => {
            let token = required(src, raw, &raw.token, "token")?;
            non_empty(src, token, "the token")?;
            let max = non_negative(src, required(src, raw, &raw.max, "max")?)?;
            Ok(Kind::Count {
                token: token.get_ref().clone(),
                max,
            })
        }
        _ => unreachable!("kind checked by check_fields"),
    }
}

fn compile_substitute(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    // Case-sensitive by default: "Acme gold" -> "Acme Gold" must not flag the right spelling.
    let ignore_case = raw.ignore_case.as_ref().is_some_and(|b| *b.get_ref());
    let swap = required(src, raw, &raw.swap, "swap")?;
    let mut swaps = Vec::new();
    for (key, value) in swap.get_ref() {
        if key.trim().is_empty() {
            return Err(src.error(swap.span(), "a substitute key must not be empty"));
        }
        cx.literal(key, Role::Swap(swaps.len() as u32), ignore_case);
        swaps.push(value.get_ref().clone());
    }
    Ok(Kind::Substitute { swaps })
}

fn compile_pii(src: Source<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let name = required(src, raw, &raw.detector, "detector")?;
    let detector = Detector::from_name(name.get_ref()).ok_or_else(|| {
        let message = format!(
            "unknown detector `{}`, expected one of: credit_card, iban, email, phone, us_ssn",
            name.get_ref()
        );
        src.error(name.span(), message)
    })?;
    let region = match &raw.region {
        Some(r) if detector != Detector::Phone => {
            return Err(src.error(r.span(), "`region` applies only to the phone detector"));
        }
        Some(r) => Some(
            phonenumber::country::Id::from_str(&r.get_ref().to_ascii_uppercase()).map_err(
                |_| {
                    src.error(
                        r.span(),
                        format!(
                            "unknown region `{}` (use an ISO 3166 code such as US)",
                            r.get_ref()
                        ),
                    )
                },
            )?,
        ),
        None => None,
    };
    let keep_last = match &raw.fix {
        None => None,
        Some(fix) => {
            let f = fix.get_ref();
            expect_action(src, &f.action, "mask")?;
            if let Some(t) = &f.text {
                return Err(src.error(t.span(), "a mask fix takes `keep_last`, not `text`"));
            }
            Some(
                f.keep_last
                    .as_ref()
                    .map_or(Ok(4), |k| non_negative(src, k))?,
            )
        }
    };
    Ok(Kind::Pii {
        detector,
        region,
        keep_last,
    })
}

fn compile_amount_cap(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    for trigger in required(src, raw, &raw.triggers, "triggers")?.get_ref() {
        non_empty(src, trigger, "a trigger")?;
        cx.literal(trigger.get_ref(), Role::Trigger, true);
    }
    let window_words = raw
        .window_words
        .as_ref()
        .map_or(Ok(8), |w| non_negative(src, w))?;
    let mut caps = Vec::new();
    for (tier, cap) in required(src, raw, &raw.caps, "caps")?.get_ref() {
        let c = cap.get_ref();
        let decimal = |v: &Option<toml::Spanned<f64>>| -> Result<Option<Decimal>, RulebookError> {
            let Some(v) = v else { return Ok(None) };
            match Decimal::try_from(*v.get_ref()) {
                Ok(d) if d >= Decimal::ZERO => Ok(Some(d.normalize())),
                _ => Err(src.error(v.span(), "a cap must be a non-negative number")),
            }
        };
        let (amount, percent) = (decimal(&c.amount)?, decimal(&c.percent)?);
        if amount.is_none() && percent.is_none() {
            return Err(src.error(cap.span(), "a cap needs `amount`, `percent` or both"));
        }
        caps.push((tier.clone(), Cap { amount, percent }));
    }
    Ok(Kind::AmountCap { window_words, caps })
}

fn compile_length(src: Source<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let name = required(src, raw, &raw.counter, "counter")?;
    let counter = match name.get_ref().as_str() {
        "x_weighted" => Counter::XWeighted,
        "sms" => Counter::Sms,
        "graphemes" => Counter::Graphemes,
        other => {
            let message =
                format!("unknown counter `{other}`, expected x_weighted, sms or graphemes");
            return Err(src.error(name.span(), message));
        }
    };
    let max_raw = required(src, raw, &raw.max, "max")?;
    let max = non_negative(src, max_raw)?;
    let warn_at = match &raw.warn_at {
        Some(w) if non_negative(src, w)? > max => {
            return Err(src.error(w.span(), "`warn_at` must not be above `max`"));
        }
        Some(w) => Some(non_negative(src, w)?),
        None => None,
    };
    Ok(Kind::Length {
        counter,
        max,
        warn_at,
    })
}

fn compile_require(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    let any_of = required(src, raw, &raw.any_of, "any_of")?.get_ref();
    if any_of.is_empty() {
        return Err(src.error(
            raw.any_of.as_ref().unwrap().span(),
            "`any_of` needs at least one text",
        ));
    }
    for text in any_of {
        non_empty(src, text, "a required text")?;
        cx.literal(text.get_ref(), Role::AnyOf, true);
    }
    if let Some(trigger) = &raw.trigger {
        for pattern in trigger.get_ref().patterns.get_ref() {
            cx.regex(pattern, Role::Trigger, false)?;
        }
    }
    Ok(Kind::Require {
        any_of: any_of.iter().map(|t| t.get_ref().clone()).collect(),
        triggered: raw.trigger.is_some(),
        append: text_fix(src, raw, "append")?,
    })
}

/// A `fix = { action = <expected>, text = "..." }`.
fn text_fix(
    src: Source<'_>,
    raw: &RawRule,
    expected: &str,
) -> Result<Option<String>, RulebookError> {
    let Some(fix) = &raw.fix else { return Ok(None) };
    let f = fix.get_ref();
    expect_action(src, &f.action, expected)?;
    if let Some(k) = &f.keep_last {
        return Err(src.error(
            k.span(),
            format!("an {expected} fix takes `text`, not `keep_last`"),
        ));
    }
    let text = f
        .text
        .as_ref()
        .ok_or_else(|| src.error(fix.span(), "this fix needs `text`"))?;
    Ok(Some(text.get_ref().clone()))
}

fn expect_action(src: Source<'_>, action: &SString, expected: &str) -> Result<(), RulebookError> {
    if action.get_ref() != expected {
        let message = format!(
            "fix action `{}` does not apply here; expected `{expected}`",
            action.get_ref()
        );
        return Err(src.error(action.span(), message));
    }
    Ok(())
}

fn parse_level(src: Source<'_>, level: &SString) -> Result<Level, RulebookError> {
    match level.get_ref().as_str() {
        "error" => Ok(Level::Error),
        "warning" => Ok(Level::Warning),
        "info" => Ok(Level::Info),
        other => Err(src.error(
            level.span(),
            format!("unknown level `{other}`, expected error, warning or info"),
        )),
    }
}

const PLACEHOLDERS: &[&str] = &[
    "match", "expected", "limit", "used", "tier", "amount", "cap",
];

/// A typo in a placeholder would otherwise show literally to every agent.
fn check_placeholders(src: Source<'_>, message: &SString) -> Result<(), RulebookError> {
    let text = message.get_ref();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            let message_text = format!(
                "unknown placeholder `{{{name}}}` in message; known: {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            return Err(src.error(message.span(), message_text));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

fn default_message(kind: &Kind) -> &'static str {
    match kind {
        Kind::Phrase { .. } | Kind::Pattern { .. } => "'{match}' is not allowed here.",
        Kind::Substitute { .. } => "Write '{expected}', not '{match}'.",
        Kind::Pii { .. } => "Personal data ({match}) must not appear here.",
        Kind::AmountCap { .. } => "{amount} is above the {tier} cap of {cap}.",
        Kind::Length { .. } => "Too long: {used} of {limit}.",
        Kind::Links { .. } => "Links to '{match}' are not allowed.",
        Kind::Require { .. } => "Required text missing: '{expected}'.",
        Kind::Count { .. } => "'{match}' is used {used} times; at most {limit}.",
    }
}

fn condition(src: Source<'_>, raw: Option<&RawCondition>) -> Result<Condition, RulebookError> {
    let Some(raw) = raw else {
        return Ok(Condition::default());
    };
    Ok(Condition {
        channel: enum_list(src, &raw.channel, "channel")?,
        visibility: enum_list(src, &raw.visibility, "visibility")?,
        tier: string_list(src, &raw.tier)?,
        tags: string_list(src, &raw.tags)?,
        department: string_list(src, &raw.department)?,
        language: string_list(src, &raw.language)?,
        sentiment: enum_list(src, &raw.sentiment, "sentiment")?,
    })
}

fn enum_list<T: FromStr>(
    src: Source<'_>,
    list: &Option<SList>,
    what: &str,
) -> Result<Vec<T>, RulebookError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.get_ref()
        .iter()
        .map(|v| {
            T::from_str(v.get_ref())
                .map_err(|_| src.error(v.span(), format!("unknown {what} `{}`", v.get_ref())))
        })
        .collect()
}

fn string_list(src: Source<'_>, list: &Option<SList>) -> Result<Vec<String>, RulebookError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.get_ref()
        .iter()
        .map(|v| non_empty(src, v, "a condition value").map(|_| v.get_ref().clone()))
        .collect()
}

/// The `[overrides]` default (`tighten_only == false`) or a rule's own, which may only tighten.
fn override_policy(
    src: Source<'_>,
    raw: &RawOverride,
    base: &OverridePolicy,
    tighten_only: bool,
) -> Result<OverridePolicy, RulebookError> {
    let mut policy = base.clone();
    if let Some(allowed) = &raw.allowed {
        if tighten_only && *allowed.get_ref() && !base.allowed {
            return Err(src.error(allowed.span(), "a rule may tighten the override policy, not loosen it: overrides are not allowed by default"));
        }
        policy.allowed = *allowed.get_ref();
    }
    if let Some(roles) = &raw.roles {
        let parsed: Vec<AgentRole> = enum_list(src, &Some(roles.clone()), "role")?;
        let widens = !base.roles.is_empty()
            && (parsed.is_empty() || parsed.iter().any(|r| !base.roles.contains(r)));
        if tighten_only && widens {
            return Err(src.error(roles.span(), "a rule may tighten the override policy, not loosen it: these roles go beyond the default ones"));
        }
        policy.roles = parsed;
    }
    if let Some(min) = &raw.min_reason_chars {
        let min_value = non_negative(src, min)?;
        if tighten_only && min_value < base.min_reason_chars {
            return Err(src.error(min.span(), "a rule may tighten the override policy, not loosen it: the default asks for a longer reason"));
        }
        policy.min_reason_chars = min_value;
    }
    Ok(policy)
}

fn non_negative(src: Source<'_>, value: &toml::Spanned<i64>) -> Result<usize, RulebookError> {
    usize::try_from(*value.get_ref())
        .map_err(|_| src.error(value.span(), "must be a non-negative integer"))
}

fn non_empty(src: Source<'_>, value: &SString, what: &str) -> Result<(), RulebookError> {
    if value.get_ref().trim().is_empty() {
        return Err(src.error(value.span(), format!("{what} must not be empty")));
    }
    Ok(())
}

/// An allowed link domain, written bare ("acme.com"), stored lowercase.
fn domain(src: Source<'_>, value: &SString) -> Result<String, RulebookError> {
    let d = value
        .get_ref()
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let bad = d.is_empty() || d.contains(['/', ':', ' ', '@']) || d.starts_with('.');
    if bad {
        return Err(src.error(
            value.span(),
            format!(
                "`{}` is not a bare domain such as acme.com",
                value.get_ref()
            ),
        ));
    }
    Ok(d)
}

/// Collects literals, deduplicated, each with the rules that own it.
#[derive(Default)]
struct LiteralBuilder {
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    owners: Vec<Vec<LitOwner>>,
}

impl LiteralBuilder {
    fn add(&mut self, text: &str, owner: LitOwner) {
        let next = self.patterns.len();
        let i = *self.index.entry(text.to_string()).or_insert(next);
        if i == next {
            self.patterns.push(text.to_string());
            self.owners.push(Vec::new());
        }
        self.owners[i].push(owner);
    }

    /// The automaton folds ASCII case only; for other letters the usual casings are added.
    fn add_case_insensitive(&mut self, text: &str, owner: LitOwner) {
        let mut variants = vec![text.to_string()];
        if !text.is_ascii() {
            variants.extend([
                text.to_lowercase(),
                text.to_uppercase(),
                capitalise(&text.to_lowercase()),
            ]);
        }
        self.add_variants(variants, owner);
    }

    /// Phones and word processors turn "can't" into "can’t": both spellings are the phrase.
    fn add_exact(&mut self, text: &str, owner: LitOwner) {
        self.add_variants(vec![text.to_string()], owner);
    }

    fn add_variants(&mut self, mut variants: Vec<String>, owner: LitOwner) {
        let curly: Vec<String> = variants
            .iter()
            .filter(|v| v.contains('\''))
            .map(|v| v.replace('\'', "’"))
            .collect();
        variants.extend(curly);
        let mut seen = HashSet::new();
        for v in variants {
            if seen.insert(v.clone()) {
                self.add(&v, owner);
            }
        }
    }

    fn build(self) -> Literals {
        let ac = (!self.patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&self.patterns)
                .expect("literal patterns always compile")
        });
        Literals {
            ac,
            patterns: self.patterns,
            owners: self.owners,
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Default)]
struct RegexBuilderSet {
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    each: Vec<Regex>,
    owners: Vec<Vec<(u32, Role)>>,
}

impl RegexBuilderSet {
    fn add(&mut self, (pattern, regex): (String, Regex), rule: u32, role: Role) {
        let next = self.patterns.len();
        let i = *self.index.entry(pattern.clone()).or_insert(next);
        if i == next {
            self.patterns.push(pattern);
            self.each.push(regex);
            self.owners.push(Vec::new());
        }
        self.owners[i].push((rule, role));
    }

    fn build(self) -> Regexes {
        let set = (!self.patterns.is_empty()).then(|| {
            RegexSetBuilder::new(&self.patterns)
                .size_limit(REGEX_SIZE_LIMIT * 16)
                .build()
                .expect("each pattern compiled alone")
        });
        Regexes {
            set,
            each: self.each,
            owners: self.owners,
        }
    }
}

/// Validates one pattern (linear time only) and rewrites it to ASCII word classes unless asked.
fn compile_regex(
    src: Source<'_>,
    pattern: &SString,
    unicode: bool,
) -> Result<(String, Regex), RulebookError> {
    let text = pattern.get_ref();
    let located = |offset: usize, message: String| {
        src.error_at(offset_in_value(src, pattern, offset), message)
    };
    if text.is_empty() {
        return Err(src.error(pattern.span(), "a pattern must not be empty"));
    }
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(text)
        .map_err(|e| located(e.span().start.offset, regex_message(&e)))?;
    let rewritten = if unicode {
        text.clone()
    } else {
        ascii_classes(text, &ast)
    };
    let regex = RegexBuilder::new(&rewritten)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| located(0, format!("bad regex: {}", one_line(&e.to_string()))))?;
    Ok((rewritten, regex))
}

fn regex_message(e: &regex_syntax::ast::Error) -> String {
    use regex_syntax::ast::ErrorKind;
    match e.kind() {
        ErrorKind::UnsupportedLookAround => {
            "lookaround ((?=, (?!, (?<=, (?<!) is not supported: rules must match in linear time"
                .into()
        }
        ErrorKind::UnsupportedBackreference => {
            "backreferences (\\1) are not supported: rules must match in linear time".into()
        }
        kind => format!("bad regex: {kind}"),
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Maps an offset inside a pattern to the source: exact for 'literal' strings, which have no
/// escapes; for "basic" strings, the opening quote.
fn offset_in_value(src: Source<'_>, value: &SString, offset: usize) -> usize {
    let span = value.span();
    let raw = &src.text[span.clone()];
    if raw.starts_with('\'') && !raw.starts_with("'''") {
        span.start + 1 + offset
    } else {
        span.start
    }
}

/// Replaces `\b \B \w \d \s` (and negations) by their ASCII forms; Unicode `\b` is two orders of
/// magnitude slower in the regex crate's fast engines (DESIGN.md §4).
fn ascii_classes(pattern: &str, ast: &regex_syntax::ast::Ast) -> String {
    let mut edits = regex_syntax::ast::visit(ast, AsciiVisitor::default()).unwrap_or_default();
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = pattern.to_string();
    for (span, replacement) in edits {
        out.replace_range(span, &replacement);
    }
    out
}

#[derive(Default)]
struct AsciiVisitor {
    edits: Vec<(Range<usize>, String)>,
}

impl regex_syntax::ast::Visitor for AsciiVisitor {
    type Output = Vec<(Range<usize>, String)>;
    type Err = std::convert::Infallible;

    fn finish(self) -> Result<Self::Output, Self::Err> {
        Ok(self.edits)
    }

    fn visit_pre(&mut self, ast: &regex_syntax::ast::Ast) -> Result<(), Self::Err> {
        use regex_syntax::ast::{AssertionKind, Ast};
        match ast {
            Ast::Assertion(a) => {
                let ascii = match a.kind {
                    AssertionKind::WordBoundary => Some(r"(?-u:\b)"),
                    AssertionKind::WordBoundaryStart | AssertionKind::WordBoundaryStartAngle => {
                        Some(r"(?-u:\b{start})")
                    }
                    AssertionKind::WordBoundaryEnd | AssertionKind::WordBoundaryEndAngle => {
                        Some(r"(?-u:\b{end})")
                    }
                    _ => None,
                };
                if let Some(ascii) = ascii {
                    self.edits
                        .push((a.span.start.offset..a.span.end.offset, ascii.to_string()));
                }
            }
            Ast::ClassPerl(c) => {
                let class = format!("[{}]", posix_class(c));
                self.edits
                    .push((c.span.start.offset..c.span.end.offset, class));
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_class_set_item_pre(
        &mut self,
        item: &regex_syntax::ast::ClassSetItem,
    ) -> Result<(), Self::Err> {
        if let regex_syntax::ast::ClassSetItem::Perl(c) = item {
            self.edits
                .push((c.span.start.offset..c.span.end.offset, posix_class(c)));
        }
        Ok(())
    }
}

fn posix_class(c: &regex_syntax::ast::ClassPerl) -> String {
    use regex_syntax::ast::ClassPerlKind;
    let name = match c.kind {
        ClassPerlKind::Digit => "digit",
        ClassPerlKind::Space => "space",
        ClassPerlKind::Word => "word",
    };
    format!("[:{}{name}:]", if c.negated { "^" } else { "" })
}
