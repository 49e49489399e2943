//! The business-rule engine: rulebook loading, compilation and `check(draft, context)`.
//!
//! One engine serves three places (DESIGN.md §4): inline in the composer on every keystroke, on
//! the server at delivery, and in `earshot lint`. The format is shared/RULES.md. This module
//! imports only `crate::domain`: no network, storage or screen.
//!
//! - `parse`: strict TOML loading, every refusal located as `file:line:col`.
//! - `compile`: a rulebook is compiled once (header, conditions, override policies, rules) into
//!   the types of `ir`; `kinds` compiles each kind's fields; `matchers` builds the two engines
//!   (imports go compile -> kinds -> matchers -> ir, never back): every literal
//!   (phrases, substitute keys, exceptions, triggers, required texts, the accepted vocabulary) in
//!   one Aho-Corasick automaton, every regex in one `RegexSet` (plus one `Regex` per pattern, run
//!   only when the set says it matched, for spans). Regexes use ASCII word classes (`\b`, `\w`,
//!   `\d`, `\s`) unless the rule says `unicode = true`: Unicode `\b` defeats the regex crate's
//!   fast engines.
//! - `check`: the subset of rules applying to a context is resolved once and cached; each check
//!   scans the text once per engine and hands each rule its own hits.
//! - `overrides`: which errors an agent's overrides lift, under each rule's policy.
//! - `detectors`: validated PII, money amounts, links. `counters`: X, SMS, graphemes.
//!
//! Extensions to RULES.md, all optional: `unicode = true` on a pattern rule; `region = "US"` on a
//! phone detector (the region assumed for numbers written without `+`); `ignore_case` on a
//! substitute rule (default false there, so that "Acme gold" -> "Acme Gold" does not flag the
//! correct spelling); `fix = { action = "replace", text = "..." }` on phrase and pattern rules.
//! For a length rule with `counter = "sms"`, `max` and `warn_at` count segments. Amount caps
//! read amounts written with a currency sign or word, or a percent sign. Examples are checked
//! without the rule's conditions (an amount cap under each tier it lists). In a directory,
//! `[rulebook]` is in exactly one file, `[overrides]` and `[vocabulary]` in at most one.

mod check;
mod compile;
mod counters;
mod detectors;
mod draft;
mod error;
mod ir;
mod kinds;
mod matchers;
mod overrides;
mod parse;

#[cfg(test)]
mod tests;

pub use crate::domain::verdict::{Level, OverridePolicy, Refusal, RefusalReason, Violation};
pub use counters::{panic_is_contained, sms_segments, x_weighted, SmsCount, SmsEncoding, XCount};
pub use draft::{CheckContext, CheckResult, DraftPart};
pub use error::RulebookError;
pub use overrides::{AcceptedOverride, OverrideOutcome};

use crate::domain::{AgentRole, Override, Visibility};
use std::fmt;
use std::path::Path;

/// The demo organisation's rulebook, embedded so that the demo and the server run without files.
pub const DEFAULT_RULEBOOK: &str = include_str!("../../rules/default.toml");

/// A compiled rulebook: immutable, `Send + Sync`, cheap to share in an `Arc`.
pub struct Rulebook {
    id: String,
    version: String,
    source: String,
    compiled: ir::Compiled,
    cache: check::ContextCache,
    /// The sources, kept when the examples of phone rules were not verified yet
    /// ([`Rulebook::load_for_one_check`]).
    deferred: Option<Vec<(String, String)>>,
}

/// Which rules' examples a verification covers. Validating a phone number needs
/// libphonenumber's metadata, whose first use builds it (most of a one-shot process's start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Examples {
    All,
    NotPhone,
    OnlyPhone,
}

impl Examples {
    fn covers(self, kind: &ir::Kind) -> bool {
        let phone = matches!(
            kind,
            ir::Kind::Pii {
                detector: detectors::Detector::Phone,
                ..
            }
        );
        match self {
            Examples::All => true,
            Examples::NotPhone => !phone,
            Examples::OnlyPhone => phone,
        }
    }
}

impl fmt::Debug for Rulebook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rulebook")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("rules", &self.compiled.rules.len())
            .finish_non_exhaustive()
    }
}

/// The file, or a directory's `*.toml` files in name order, as (name, text) pairs.
fn read_sources(path: &Path) -> Result<Vec<(String, String)>, RulebookError> {
    let meta = std::fs::metadata(path).map_err(|e| RulebookError::io(path, &e))?;
    if meta.is_dir() {
        return read_dir_sources(path);
    }
    let text = std::fs::read_to_string(path).map_err(|e| RulebookError::io(path, &e))?;
    Ok(vec![(path.display().to_string(), text)])
}

impl Rulebook {
    /// Compiles one rulebook file's text; `file_name` is used in error locations.
    pub fn from_toml_str(source: &str, file_name: &str) -> Result<Rulebook, RulebookError> {
        Self::from_sources(&[(file_name.to_string(), source.to_string())])
    }

    /// Loads a file, or a directory whose `*.toml` files are merged in name order.
    ///
    /// In a directory, `[rulebook]` must appear in exactly one file and `[overrides]` and
    /// `[vocabulary]` in at most one, and rule ids must be unique across files. Those rules make
    /// the files' concatenation a valid rulebook again, which is what `source()` serves.
    pub fn load(path: &Path) -> Result<Rulebook, RulebookError> {
        let files = read_sources(path)?;
        Self::from_sources(&files)
    }

    /// [`load`](Self::load) for a process that checks one text and exits (`earshot lint`): the
    /// examples of phone rules are verified only by [`verify_for`](Self::verify_for), when the
    /// text could hold a phone number. Everything else is verified now.
    pub fn load_for_one_check(path: &Path) -> Result<Rulebook, RulebookError> {
        let files = read_sources(path)?;
        let mut rulebook = Self::compile_sources(&files)?;
        rulebook.verify_examples(&files, Examples::NotPhone)?;
        rulebook.deferred = Some(files);
        Ok(rulebook)
    }

    /// Before checking `text`: the deferred examples of phone rules are verified when `text`
    /// has a digit (only then may the phone detector validate a number). A no-op for a
    /// rulebook loaded any other way, whose examples were all verified.
    pub fn verify_for(&self, text: &str) -> Result<(), RulebookError> {
        match &self.deferred {
            Some(files) if text.bytes().any(|b| b.is_ascii_digit()) => {
                self.verify_examples(files, Examples::OnlyPhone)
            }
            _ => Ok(()),
        }
    }

    fn from_sources(files: &[(String, String)]) -> Result<Rulebook, RulebookError> {
        let rulebook = Self::compile_sources(files)?;
        rulebook.verify_examples(files, Examples::All)?;
        Ok(rulebook)
    }

    fn compile_sources(files: &[(String, String)]) -> Result<Rulebook, RulebookError> {
        let compiled = compile::compile(files)?;
        let source = concat_sources(files)?;
        Ok(Rulebook {
            id: compiled.id.clone(),
            version: compiled.version.clone(),
            source,
            compiled,
            cache: check::ContextCache::default(),
            deferred: None,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The TOML text this rulebook was compiled from; `from_toml_str` accepts it again.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The ids of the rules, in rulebook order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.compiled.rules.iter().map(|r| r.id.as_str())
    }

    /// Checks every part of a draft; violations are sorted by part order, then position.
    pub fn check(&self, draft: &[DraftPart], ctx: &CheckContext) -> CheckResult {
        let mut violations = Vec::new();
        for part in draft {
            let applicable = self.cache.resolve(&self.compiled, ctx, part.visibility);
            violations.extend(check::check_part(&self.compiled, &applicable, ctx, part));
        }
        let deliverable = !violations.iter().any(|v| v.level == Level::Error);
        CheckResult {
            rulebook_version: self.version.clone(),
            deliverable,
            violations,
        }
    }

    /// The override policy of a rule (`None` for a rule this rulebook does not have).
    pub fn override_policy(&self, rule: &str) -> Option<&OverridePolicy> {
        self.compiled
            .rules
            .iter()
            .find(|r| r.id == rule)
            .map(|r| &r.policy)
    }

    /// Whether one override is accepted under `policy` for an agent of `role`: the very test
    /// `check_overrides` applies to each override, so the console refuses what the server would.
    pub fn judge_override(
        policy: &OverridePolicy,
        o: &Override,
        role: AgentRole,
    ) -> Result<(), RefusalReason> {
        overrides::judge(o, policy, role).map(|_| ())
    }

    /// Which error-level violations stay un-overridden under each rule's policy, and why.
    pub fn check_overrides(
        &self,
        result: &CheckResult,
        overrides: &[Override],
        role: AgentRole,
    ) -> OverrideOutcome {
        overrides::evaluate(result, overrides, role)
    }
}

fn read_dir_sources(dir: &Path) -> Result<Vec<(String, String)>, RulebookError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RulebookError::io(dir, &e))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        let message = "no *.toml rulebook files in this directory".to_string();
        return Err(RulebookError {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message,
        });
    }
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| RulebookError::io(p, &e))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

/// A single file is served verbatim; several are concatenated, which is a valid rulebook as
/// long as no file writes top-level keys inline (they would join the previous file's last table):
/// the result is re-parsed to make sure it means the same rules.
fn concat_sources(files: &[(String, String)]) -> Result<String, RulebookError> {
    if let [(_, text)] = files {
        return Ok(text.clone());
    }
    let mut out = String::new();
    for (name, text) in files {
        let base = Path::new(name)
            .file_name()
            .map_or(name.clone(), |n| n.to_string_lossy().into_owned());
        out.push_str(&format!("# --- {base}\n"));
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    let expected: usize = files
        .iter()
        .map(|(name, text)| parse::parse_file(parse::Source { name, text }).map(|f| f.rule.len()))
        .sum::<Result<usize, _>>()?;
    let merged = parse::parse_file(parse::Source {
        name: "(merged)",
        text: &out,
    });
    match merged {
        Ok(file) if file.rule.len() == expected => Ok(out),
        _ => Err(RulebookError {
            file: files[0].0.clone(),
            line: 1,
            column: 1,
            message: "in a rulebook directory, write [rulebook], [overrides], [vocabulary] and [[rule]] as table headers, not inline top-level keys".into(),
        }),
    }
}

impl Rulebook {
    /// A bad example that does not fire, or a good one that fires, refuses the rulebook: the
    /// examples are the rule's own specification. Conditions are not applied; an amount cap is
    /// tried under each tier it lists (bad: fires under one; good: fires under none).
    fn verify_examples(
        &self,
        files: &[(String, String)],
        which: Examples,
    ) -> Result<(), RulebookError> {
        for (index, rule) in self.compiled.rules.iter().enumerate() {
            if rule.examples.is_empty() || !which.covers(&rule.kind) {
                continue;
            }
            let applicable = check::Applicable::single(&self.compiled, index as u32);
            let tiers: Vec<Option<String>> = match &rule.kind {
                ir::Kind::AmountCap { caps, .. } => {
                    caps.iter().map(|(t, _)| Some(t.clone())).collect()
                }
                _ => vec![None],
            };
            let src = parse::Source {
                name: &files[rule.file].0,
                text: &files[rule.file].1,
            };
            for example in &rule.examples {
                let part = DraftPart::new(Visibility::Public, example.text.clone());
                let fired = tiers.iter().find_map(|tier| {
                    let ctx = CheckContext {
                        tier: tier.clone(),
                        ..CheckContext::default()
                    };
                    check::check_part(&self.compiled, &applicable, &ctx, &part)
                        .into_iter()
                        .next()
                });
                match (example.bad, fired) {
                    (true, None) => {
                        let message = format!(
                            "rule `{}`: bad example does not fire: {:?}",
                            rule.id, example.text
                        );
                        return Err(src.error_at(example.offset, message));
                    }
                    (false, Some(v)) => {
                        let message = format!(
                            "rule `{}`: good example fires at bytes {}..{}: {}",
                            rule.id, v.start, v.end, v.message
                        );
                        return Err(src.error_at(example.offset, message));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
