//! The two engines of a compiled rulebook: one Aho-Corasick automaton for every literal and one
//! `RegexSet` (plus a `Regex` per pattern, for spans) for every regex, with their owners.

use super::error::RulebookError;
use super::ir::{LitOwner, Literals, Regexes, Role};
use super::parse::{SString, Source};
use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder, RegexSetBuilder};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// What compiling one rule needs besides the rule itself: where it is written, and the two
/// builders its literals and regexes go into, owned by its index.
pub(super) struct RuleCx<'a> {
    pub(super) src: Source<'a>,
    pub(super) index: u32,
    pub(super) literals: &'a mut LiteralBuilder,
    pub(super) regexes: &'a mut RegexBuilderSet,
}

impl RuleCx<'_> {
    pub(super) fn literal(&mut self, text: &str, role: Role, ignore_case: bool) {
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

    pub(super) fn regex(
        &mut self,
        pattern: &SString,
        role: Role,
        unicode: bool,
    ) -> Result<(), RulebookError> {
        let compiled = compile_regex(self.src, pattern, unicode)?;
        self.regexes.add(compiled, self.index, role);
        Ok(())
    }
}

/// Keeps a pathological pattern from eating memory on the server.
const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// Collects literals, deduplicated, each with the rules that own it.
#[derive(Default)]
pub(super) struct LiteralBuilder {
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    owners: Vec<Vec<LitOwner>>,
}

impl LiteralBuilder {
    pub(super) fn add(&mut self, text: &str, owner: LitOwner) {
        let next = self.patterns.len();
        let i = *self.index.entry(text.to_string()).or_insert(next);
        if i == next {
            self.patterns.push(text.to_string());
            self.owners.push(Vec::new());
        }
        self.owners[i].push(owner);
    }

    /// The automaton folds ASCII case only; for other letters the usual casings are added.
    pub(super) fn add_case_insensitive(&mut self, text: &str, owner: LitOwner) {
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
    pub(super) fn add_exact(&mut self, text: &str, owner: LitOwner) {
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

    pub(super) fn build(self) -> Literals {
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
pub(super) struct RegexBuilderSet {
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    each: Vec<Regex>,
    owners: Vec<Vec<(u32, Role)>>,
}

impl RegexBuilderSet {
    pub(super) fn add(&mut self, (pattern, regex): (String, Regex), rule: u32, role: Role) {
        let next = self.patterns.len();
        let i = *self.index.entry(pattern.clone()).or_insert(next);
        if i == next {
            self.patterns.push(pattern);
            self.each.push(regex);
            self.owners.push(Vec::new());
        }
        self.owners[i].push((rule, role));
    }

    pub(super) fn build(self) -> Regexes {
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
pub(super) fn compile_regex(
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
