//! Compiles raw rulebook files into the compiled form of `ir`, built once per rulebook version.
//!
//! The driver: header, conditions, override policies and each rule; `kinds` compiles each kind's
//! fields and `matchers` the two engines. All literals go into one Aho-Corasick automaton and all
//! regexes into one `RegexSet`, each entry remembering which rules own it and in what role; a
//! check scans the text once per engine and hands each rule its own hits.

use super::error::RulebookError;
use super::ir::{Compiled, Condition, Example, LitOwner, Role, Rule, VOCABULARY};
use super::kinds::{check_fields, compile_kind, default_message};
use super::matchers::{LiteralBuilder, RegexBuilderSet, RuleCx};
use super::parse::{self, non_empty, non_negative};
use super::parse::{RawCondition, RawFile, RawOverride, RawRule, SList, SString, Source};
use crate::domain::verdict::{Level, OverridePolicy};
use crate::domain::AgentRole;
use std::collections::HashMap;
use std::str::FromStr;

/// Compiles the files of one rulebook (one file, or a directory's files in order).
pub(crate) fn compile(files: &[(String, String)]) -> Result<Compiled, RulebookError> {
    let mut header: Option<(String, String)> = None;
    let mut default_policy: Option<OverridePolicy> = None;
    let mut literals = LiteralBuilder::default();
    let mut regexes = RegexBuilderSet::default();
    let mut raw_rules = Vec::new();
    let mut vocabulary_seen = false;
    for (index, (name, text)) in files.iter().enumerate() {
        let src = Source { name, text };
        let file = parse::parse_file(src)?;
        take_header(src, &file, &mut header, &mut default_policy)?;
        if let Some(vocab) = &file.vocabulary {
            // Two [vocabulary] tables could not be served as one concatenated file.
            if std::mem::replace(&mut vocabulary_seen, true) {
                let message = "[vocabulary] is already defined in another file";
                return Err(src.error(vocab.span(), message));
            }
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
