//! Checking one draft part: resolve the applicable rules (cached per context), scan the text
//! once with each engine, then let each rule judge its own hits.

use super::counters;
use super::detectors::{self, Amount, Detector, Link};
use super::draft::{CheckContext, DraftPart};
use super::ir::{Cap, Compiled, Condition, Counter, Kind, Role, Rule, VOCABULARY};
use crate::domain::verdict::{Level, Violation};
use crate::domain::Visibility;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

/// Bounds the cache on a long-running server that sees many tag combinations.
const CACHE_LIMIT: usize = 4096;

/// The rules that apply to one (context, visibility), resolved once and shared.
pub(crate) struct Applicable {
    pub rules: Vec<u32>,
    pub active: Vec<bool>,
    pub any_literals: bool,
    pub any_regex: bool,
}

impl Applicable {
    fn new(compiled: &Compiled, rules: Vec<u32>) -> Self {
        let mut active = vec![false; compiled.rules.len()];
        rules.iter().for_each(|&r| active[r as usize] = true);
        let is_active = |rule: u32| rule != VOCABULARY && active[rule as usize];
        // The vocabulary matters as soon as one rule reports spans it could excuse.
        let has_vocabulary = compiled
            .literals
            .owners
            .iter()
            .flatten()
            .any(|o| o.rule == VOCABULARY);
        let span_rules = rules
            .iter()
            .any(|&r| !compiled.rules[r as usize].kind.is_whole_text());
        let any_literals = compiled
            .literals
            .owners
            .iter()
            .flatten()
            .any(|o| is_active(o.rule))
            || (has_vocabulary && span_rules);
        let any_regex = compiled
            .regexes
            .owners
            .iter()
            .flatten()
            .any(|&(r, _)| is_active(r));
        Applicable {
            rules,
            active,
            any_literals,
            any_regex,
        }
    }

    /// One rule regardless of its conditions: how examples are checked at load.
    pub fn single(compiled: &Compiled, rule: u32) -> Self {
        Self::new(compiled, vec![rule])
    }

    fn is_active(&self, rule: u32) -> bool {
        rule == VOCABULARY || self.active[rule as usize]
    }
}

#[derive(Default)]
pub(crate) struct ContextCache {
    map: RwLock<HashMap<(CheckContext, Visibility), Arc<Applicable>>>,
}

impl ContextCache {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }

    pub fn resolve(
        &self,
        compiled: &Compiled,
        ctx: &CheckContext,
        vis: Visibility,
    ) -> Arc<Applicable> {
        let mut key_ctx = ctx.clone();
        key_ctx.tags.sort();
        key_ctx.tags.dedup();
        let key = (key_ctx, vis);
        if let Some(hit) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return hit.clone();
        }
        let rules = (0..compiled.rules.len() as u32)
            .filter(|&r| applies(&compiled.rules[r as usize], ctx, vis))
            .collect();
        let applicable = Arc::new(Applicable::new(compiled, rules));
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(key, applicable.clone());
        applicable
    }
}

fn applies(rule: &Rule, ctx: &CheckContext, vis: Visibility) -> bool {
    matches(&rule.when, ctx, vis) && !rule.unless.as_ref().is_some_and(|u| matches(u, ctx, vis))
}

/// Keys ANDed, values ORed; an unknown context value fails a condition on it.
fn matches(cond: &Condition, ctx: &CheckContext, vis: Visibility) -> bool {
    let text = |list: &[String], value: &Option<String>| {
        list.is_empty()
            || value
                .as_ref()
                .is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
    };
    let language = cond.language.is_empty()
        || ctx
            .language
            .as_ref()
            .is_some_and(|lang| cond.language.iter().any(|l| language_matches(l, lang)));
    (cond.channel.is_empty() || ctx.channel.is_some_and(|c| cond.channel.contains(&c)))
        && (cond.visibility.is_empty() || cond.visibility.contains(&vis))
        && text(&cond.tier, &ctx.tier)
        && (cond.tags.is_empty()
            || ctx
                .tags
                .iter()
                .any(|t| cond.tags.iter().any(|c| c.eq_ignore_ascii_case(t))))
        && text(&cond.department, &ctx.department)
        && language
        && (cond.sentiment.is_empty() || ctx.sentiment.is_some_and(|s| cond.sentiment.contains(&s)))
}

/// "en" matches "en", "EN" and "en-GB".
fn language_matches(wanted: &str, actual: &str) -> bool {
    actual.eq_ignore_ascii_case(wanted)
        || actual.len() > wanted.len()
            && actual.as_bytes()[wanted.len()] == b'-'
            && actual[..wanted.len()].eq_ignore_ascii_case(wanted)
}

/// A literal or regex match, attributed to one rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub rule: u32,
    pub role: Role,
    pub start: usize,
    pub end: usize,
}

/// What a rule found, before its message is written.
#[derive(Default)]
struct Found {
    span: Range<usize>,
    level: Option<Level>,
    fix: Option<String>,
    vars: Vars,
}

#[derive(Default)]
struct Vars {
    matched: String,
    expected: String,
    limit: String,
    used: String,
    tier: String,
    amount: String,
    cap: String,
}

/// A detector and, for phones, the region assumed for national numbers.
type PiiKey = (Detector, Option<phonenumber::country::Id>);

/// Detector results computed at most once per part, whichever rules ask for them.
struct PartScan<'t> {
    text: &'t str,
    pii: Vec<(PiiKey, Vec<Range<usize>>)>,
    amounts: Option<Vec<Amount>>,
    links: Option<Vec<Link>>,
}

impl<'t> PartScan<'t> {
    fn pii(
        &mut self,
        detector: Detector,
        region: Option<phonenumber::country::Id>,
    ) -> &[Range<usize>] {
        let key = (detector, region);
        let i = match self.pii.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.pii
                    .push((key, detectors::find_pii(detector, self.text, region)));
                self.pii.len() - 1
            }
        };
        &self.pii[i].1
    }

    fn amounts(&mut self) -> &[Amount] {
        self.amounts
            .get_or_insert_with(|| detectors::find_amounts(self.text))
    }

    fn links(&mut self) -> &[Link] {
        self.links
            .get_or_insert_with(|| detectors::find_links(self.text))
    }
}

/// Every violation in one part, sorted by position.
pub(crate) fn check_part(
    compiled: &Compiled,
    app: &Applicable,
    ctx: &CheckContext,
    part: &DraftPart,
) -> Vec<Violation> {
    let text = part.text.as_str();
    let mut hits = Vec::new();
    if app.any_literals {
        scan_literals(compiled, app, text, &mut hits);
    }
    if app.any_regex {
        scan_regexes(compiled, app, text, &mut hits);
    }
    hits.sort_unstable_by_key(|h| (h.rule, h.start, h.end, h.role));
    // Case variants of one phrase can match the same text twice.
    hits.dedup_by(|a, b| (a.rule, a.role, a.start, a.end) == (b.rule, b.role, b.start, b.end));
    let vocabulary = rule_hits(&hits, VOCABULARY);
    let mut scan = PartScan {
        text,
        pii: Vec::new(),
        amounts: None,
        links: None,
    };
    let mut out = Vec::new();
    for &r in &app.rules {
        let rule = &compiled.rules[r as usize];
        let own = rule_hits(&hits, r);
        let found = evaluate(rule, own, &mut scan, ctx);
        let excused = |f: &Found| {
            !rule.kind.is_whole_text()
                && (covered(&f.span, vocabulary, |_| true)
                    || covered(&f.span, own, |h| h.role == Role::Exception))
        };
        out.extend(
            found
                .into_iter()
                .filter(|f| !excused(f))
                .map(|f| violation(rule, part.visibility, f)),
        );
    }
    out.sort_by(|a, b| (a.start, a.end, &a.rule).cmp(&(b.start, b.end, &b.rule)));
    out
}

fn rule_hits(hits: &[Hit], rule: u32) -> &[Hit] {
    let start = hits.partition_point(|h| h.rule < rule);
    let end = hits.partition_point(|h| h.rule <= rule);
    &hits[start..end]
}

fn covered(span: &Range<usize>, hits: &[Hit], pick: impl Fn(&Hit) -> bool) -> bool {
    hits.iter()
        .any(|h| pick(h) && h.start <= span.start && span.end <= h.end)
}

/// One pass of the automaton; overlapping, because one rule's phrase may sit inside another's.
fn scan_literals(compiled: &Compiled, app: &Applicable, text: &str, hits: &mut Vec<Hit>) {
    let lits = &compiled.literals;
    let Some(ac) = &lits.ac else { return };
    for m in ac.find_overlapping_iter(text) {
        let p = m.pattern().as_usize();
        let (start, end) = (m.start(), m.end());
        if !whole_word(text, start, end) {
            continue;
        }
        let exact = || text[start..end] == lits.patterns[p];
        for owner in &lits.owners[p] {
            if app.is_active(owner.rule) && (!owner.exact || exact()) {
                hits.push(Hit {
                    rule: owner.rule,
                    role: owner.role,
                    start,
                    end,
                });
            }
        }
    }
}

/// Whole words: a literal that starts (ends) with a word character must not be glued to another.
fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let m = &text[start..end];
    let glued_before = m.chars().next().is_some_and(is_word)
        && text[..start].chars().next_back().is_some_and(is_word);
    let glued_after = m.chars().next_back().is_some_and(is_word)
        && text[end..].chars().next().is_some_and(is_word);
    !glued_before && !glued_after
}

/// The set says which patterns match anywhere; only those are run again for spans.
fn scan_regexes(compiled: &Compiled, app: &Applicable, text: &str, hits: &mut Vec<Hit>) {
    let rx = &compiled.regexes;
    let Some(set) = &rx.set else { return };
    for p in set.matches(text).iter() {
        let owners: Vec<_> = rx.owners[p]
            .iter()
            .filter(|(r, _)| app.is_active(*r))
            .collect();
        if owners.is_empty() {
            continue;
        }
        for m in rx.each[p].find_iter(text).filter(|m| !m.is_empty()) {
            for &&(rule, role) in &owners {
                hits.push(Hit {
                    rule,
                    role,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

fn evaluate(rule: &Rule, own: &[Hit], scan: &mut PartScan<'_>, ctx: &CheckContext) -> Vec<Found> {
    let text = scan.text;
    let of_role = |role: Role| own.iter().filter(move |h| h.role == role);
    let simple = |h: &Hit, fix: &Option<String>| Found {
        span: h.start..h.end,
        fix: fix.clone(),
        vars: Vars {
            matched: text[h.start..h.end].to_string(),
            ..Vars::default()
        },
        ..Found::default()
    };
    match &rule.kind {
        Kind::Phrase { fix } => of_role(Role::Phrase).map(|h| simple(h, fix)).collect(),
        Kind::Pattern { fix } => of_role(Role::Pattern).map(|h| simple(h, fix)).collect(),
        Kind::Substitute { swaps } => own
            .iter()
            .filter_map(|h| substitute(text, h, swaps))
            .collect(),
        Kind::Pii {
            detector,
            region,
            keep_last,
        } => pii(scan, *detector, *region, *keep_last),
        Kind::AmountCap { window_words, caps } => amount_caps(scan, own, ctx, *window_words, caps),
        Kind::Length {
            counter,
            max,
            warn_at,
        } => length(text, *counter, *max, *warn_at),
        Kind::Links { allow } => links(scan, allow),
        Kind::Require {
            any_of,
            triggered,
            append,
        } => require(text, own, any_of, *triggered, append),
        Kind::Count { token, max } => count(text, token, *max),
    }
}

fn substitute(text: &str, h: &Hit, swaps: &[String]) -> Option<Found> {
    let Role::Swap(i) = h.role else { return None };
    let expected = swaps[i as usize].clone();
    Some(Found {
        span: h.start..h.end,
        fix: Some(expected.clone()),
        vars: Vars {
            matched: text[h.start..h.end].to_string(),
            expected,
            ..Vars::default()
        },
        ..Found::default()
    })
}

fn pii(
    scan: &mut PartScan<'_>,
    detector: Detector,
    region: Option<phonenumber::country::Id>,
    keep_last: Option<usize>,
) -> Vec<Found> {
    let text = scan.text;
    scan.pii(detector, region)
        .iter()
        .map(|span| {
            let value = &text[span.clone()];
            Found {
                span: span.clone(),
                fix: keep_last.map(|k| detectors::mask(value, k)),
                vars: Vars {
                    matched: detectors::redacted(detector, value),
                    ..Vars::default()
                },
                ..Found::default()
            }
        })
        .collect()
}

fn amount_caps(
    scan: &mut PartScan<'_>,
    own: &[Hit],
    ctx: &CheckContext,
    window: usize,
    caps: &[(String, Cap)],
) -> Vec<Found> {
    let Some(tier) = &ctx.tier else {
        return Vec::new();
    };
    let Some((tier_name, cap)) = caps.iter().find(|(t, _)| t.eq_ignore_ascii_case(tier)) else {
        return Vec::new();
    };
    let text = scan.text;
    let triggers: Vec<&Hit> = own.iter().filter(|h| h.role == Role::Trigger).collect();
    let mut out = Vec::new();
    for amount in scan.amounts() {
        let near = triggers
            .iter()
            .any(|t| words_between(text, &amount.span, t.start..t.end) <= window);
        let limit = if amount.percent {
            cap.percent
        } else {
            cap.amount
        };
        let Some(limit) = limit.filter(|l| near && amount.value > *l) else {
            continue;
        };
        let shown_cap = if amount.percent {
            format!("{limit}%")
        } else {
            limit.to_string()
        };
        out.push(Found {
            span: amount.span.clone(),
            vars: Vars {
                matched: text[amount.span.clone()].to_string(),
                amount: text[amount.span.clone()].to_string(),
                cap: shown_cap.clone(),
                limit: shown_cap,
                used: amount.value.to_string(),
                tier: tier_name.clone(),
                ..Vars::default()
            },
            ..Found::default()
        });
    }
    out
}

fn words_between(text: &str, a: &Range<usize>, b: Range<usize>) -> usize {
    let (from, to) = if a.end <= b.start {
        (a.end, b.start)
    } else if b.end <= a.start {
        (b.end, a.start)
    } else {
        return 0;
    };
    text[from..to].split_whitespace().count()
}

fn length(text: &str, counter: Counter, max: usize, warn_at: Option<usize>) -> Vec<Found> {
    if counter == Counter::XWeighted && counters::surely_fits_x(text, warn_at.unwrap_or(max)) {
        return Vec::new();
    }
    let over = |used: usize, at: Option<usize>, limit: usize, level: Option<Level>| {
        at.map(|at| Found {
            span: at..text.len(),
            level,
            vars: Vars {
                used: used.to_string(),
                limit: limit.to_string(),
                ..Vars::default()
            },
            ..Found::default()
        })
    };
    let measure = |limit: usize| -> (usize, Option<usize>) {
        match counter {
            Counter::XWeighted => {
                let x = counters::x_weighted_with_max(text, limit);
                (x.weighted_length, x.overflow_at)
            }
            Counter::Sms => (
                counters::sms_segments(text).segments,
                counters::sms_overflow(text, limit),
            ),
            Counter::Graphemes => counters::graphemes(text, limit),
        }
    };
    let (used, at) = measure(max);
    if used > max {
        return over(used, at, max, None).into_iter().collect();
    }
    match warn_at {
        Some(w) if used > w => {
            let (_, at) = measure(w);
            over(used, at, max, Some(Level::Warning))
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

fn links(scan: &mut PartScan<'_>, allow: &[String]) -> Vec<Found> {
    scan.links()
        .iter()
        .filter(|l| !detectors::host_allowed(&l.host, allow))
        .map(|l| Found {
            span: l.span.clone(),
            vars: Vars {
                matched: l.host.clone(),
                expected: allow.join(", "),
                ..Vars::default()
            },
            ..Found::default()
        })
        .collect()
}

/// A missing text concerns the whole part; the fix replaces it with itself plus the text.
fn require(
    text: &str,
    own: &[Hit],
    any_of: &[String],
    triggered: bool,
    append: &Option<String>,
) -> Vec<Found> {
    let fired = !triggered || own.iter().any(|h| h.role == Role::Trigger);
    if !fired || own.iter().any(|h| h.role == Role::AnyOf) {
        return Vec::new();
    }
    let fix = append.as_ref().map(|a| {
        let sep = if text.is_empty() || text.ends_with(char::is_whitespace) {
            ""
        } else {
            " "
        };
        format!("{text}{sep}{a}")
    });
    vec![Found {
        span: 0..text.len(),
        fix,
        vars: Vars {
            expected: any_of[0].clone(),
            ..Vars::default()
        },
        ..Found::default()
    }]
}

/// Each occurrence beyond `max` is marked, so the agent sees which ones to drop.
fn count(text: &str, token: &str, max: usize) -> Vec<Found> {
    let at: Vec<usize> = text.match_indices(token).map(|(i, _)| i).collect();
    if at.len() <= max {
        return Vec::new();
    }
    at[max..]
        .iter()
        .map(|&i| Found {
            span: i..i + token.len(),
            vars: Vars {
                matched: token.to_string(),
                used: at.len().to_string(),
                limit: max.to_string(),
                ..Vars::default()
            },
            ..Found::default()
        })
        .collect()
}

fn violation(rule: &Rule, part: Visibility, found: Found) -> Violation {
    let level = found.level.unwrap_or(rule.level);
    // Only `warn_at` sets a level of its own; the rule's message speaks of going over the limit.
    let message = if found.level.is_some() {
        format!(
            "Close to the limit: {} of {}.",
            found.vars.used, found.vars.limit
        )
    } else {
        fill(&rule.message, &found.vars)
    };
    Violation {
        rule: rule.id.clone(),
        level,
        message,
        part,
        start: found.span.start,
        end: found.span.end,
        fix: found.fix,
        overridable: rule.policy.allowed,
        override_policy: rule.policy.clone(),
    }
}

fn fill(template: &str, vars: &Vars) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    template
        .replace("{match}", &vars.matched)
        .replace("{expected}", &vars.expected)
        .replace("{limit}", &vars.limit)
        .replace("{used}", &vars.used)
        .replace("{tier}", &vars.tier)
        .replace("{amount}", &vars.amount)
        .replace("{cap}", &vars.cap)
}
