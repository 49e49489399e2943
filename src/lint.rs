//! `earshot lint`: checks one text against a rulebook the way a compiler checks a file, so that
//! teams can lint canned replies in their own CI (shared/RULES.md).
//!
//! Exit status: 0 deliverable (warnings allowed), 1 not deliverable, 2 usage or rulebook error.

use crate::domain::{Channel, Visibility};
use crate::rules::{
    CheckContext, CheckResult, DraftPart, Level, Rulebook, RulebookError, Violation,
};
use annotate_snippets::{AnnotationKind, Group, Renderer, Snippet};
use clap::{Args, ValueEnum};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct LintArgs {
    /// Rulebook: a .toml file, or a directory whose *.toml files are merged
    #[arg(long, value_name = "PATH")]
    pub rules: PathBuf,
    /// Channel the reply goes to (x, facebook, instagram, linkedin, forum, review, whatsapp, sms,
    /// email, webchat, phone, in_person, web_form)
    #[arg(long, value_name = "C")]
    pub channel: Option<Channel>,
    /// Whether the text is a public or a direct reply
    #[arg(long, value_name = "public|direct", default_value = "public")]
    pub visibility: Visibility,
    /// The customer's tier
    #[arg(long, value_name = "T")]
    pub tier: Option<String>,
    /// The customer's tags, comma-separated
    #[arg(long, value_name = "a,b", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// The department answering
    #[arg(long, value_name = "D")]
    pub department: Option<String>,
    /// The reply's language (en, en-GB...)
    #[arg(long, value_name = "L")]
    pub language: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The text to check; standard input when absent or `-`
    #[arg(value_name = "FILE|-")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Runs `earshot lint` on the process's standard streams; returns the exit status.
pub fn run(args: &LintArgs) -> i32 {
    use std::io::IsTerminal;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let colours = Colours {
        out: renderer_for(stdout.is_terminal()),
        err: renderer_for(stderr.is_terminal()),
    };
    run_with(
        args,
        &mut stdin.lock(),
        &mut stdout.lock(),
        &mut stderr.lock(),
        &colours,
    )
}

/// How diagnostics are drawn on each stream.
pub struct Colours {
    pub out: Renderer,
    pub err: Renderer,
}

impl Colours {
    pub fn plain() -> Colours {
        Colours {
            out: Renderer::plain(),
            err: Renderer::plain(),
        }
    }
}

/// `run` with the streams passed in, for tests.
pub fn run_with(
    args: &LintArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    colours: &Colours,
) -> i32 {
    // Phone rules' examples are verified only for a text with a digit: on any other text the
    // phone detector never runs, and its metadata would be most of the start-up.
    let book = match Rulebook::load_for_one_check(&args.rules) {
        Ok(book) => book,
        Err(e) => {
            let _ = write!(err, "{}", render_rulebook_error(&e, &colours.err));
            return 2;
        }
    };
    let text = match read_input(args.file.as_deref(), stdin) {
        Ok(text) => text,
        Err(message) => {
            let _ = writeln!(err, "earshot lint: {message}");
            return 2;
        }
    };
    if let Err(e) = book.verify_for(&text) {
        let _ = write!(err, "{}", render_rulebook_error(&e, &colours.err));
        return 2;
    }
    let result = book.check(
        &[DraftPart::new(args.visibility, text.clone())],
        &context(args),
    );
    let rendered = match args.format {
        Format::Text => render_text(&result, &text, &colours.out),
        Format::Json => render_json(&result),
    };
    if out
        .write_all(rendered.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return 2;
    }
    if result.deliverable {
        0
    } else {
        1
    }
}

fn context(args: &LintArgs) -> CheckContext {
    CheckContext {
        channel: args.channel,
        tier: args.tier.clone(),
        tags: args
            .tags
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        department: args.department.clone(),
        language: args.language.clone(),
        sentiment: None,
    }
}

fn read_input(file: Option<&Path>, stdin: &mut dyn Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    match file {
        Some(path) if path != Path::new("-") => {
            bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        _ => {
            stdin
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
        }
    }
    String::from_utf8(bytes).map_err(|_| "the text is not valid UTF-8".to_string())
}

/// The JSON shape of RULES.md, exactly, in its field order: no more fields than it names.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    rulebook_version: &'a str,
    deliverable: bool,
    violations: Vec<JsonViolation<'a>>,
}

#[derive(serde::Serialize)]
struct JsonViolation<'a> {
    rule: &'a str,
    level: Level,
    message: &'a str,
    part: Visibility,
    start: usize,
    end: usize,
    fix: Option<&'a str>,
}

pub fn render_json(result: &CheckResult) -> String {
    let violations = result
        .violations
        .iter()
        .map(|v| JsonViolation {
            rule: &v.rule,
            level: v.level,
            message: &v.message,
            part: v.part,
            start: v.start,
            end: v.end,
            fix: v.fix.as_deref(),
        })
        .collect();
    let report = JsonReport {
        rulebook_version: &result.rulebook_version,
        deliverable: result.deliverable,
        violations,
    };
    let json = serde_json::to_string(&report).expect("plain data serialises");
    format!("{json}\n")
}

/// `line:col level rule message`, the offending line and a caret underline, then a summary.
pub fn render_text(result: &CheckResult, text: &str, renderer: &Renderer) -> String {
    let mut out = String::new();
    for v in &result.violations {
        out.push_str(&render_violation(v, text, renderer));
    }
    let count = |level: Level| {
        result
            .violations
            .iter()
            .filter(|v| v.level == level)
            .count()
    };
    let verdict = if result.deliverable {
        "deliverable"
    } else {
        "not deliverable"
    };
    out.push_str(&format!(
        "{} error(s), {} warning(s), {} info; {verdict} (rulebook version {})\n",
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info),
        result.rulebook_version
    ));
    out
}

fn render_violation(v: &Violation, text: &str, renderer: &Renderer) -> String {
    let (line_no, line_start) = line_of(text, v.start);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].trim_end_matches('\r');
    let col = text[line_start..v.start].chars().count() + 1;
    let mut out = format!("{line_no}:{col} {} {} {}\n", v.level, v.rule, v.message);
    // The line as shown (control characters replaced), and the span within it.
    let underline_end = v.end.min(line_start + line.len()).max(v.start);
    let before = printable(&line[..v.start - line_start]);
    let marked = printable(&text[v.start..underline_end]);
    let shown = printable(line);
    let span = before.len()..before.len() + marked.len();
    let mut group = Group::with_level(level_of(v.level)).element(
        Snippet::source(shown.as_str())
            .line_start(line_no)
            .annotation(AnnotationKind::Primary.span(span)),
    );
    let fix = v
        .fix
        .as_deref()
        .map(|f| format!("fix: {}", printable(&shorten(f, 120))));
    if let Some(fix) = &fix {
        group = group.element(
            annotate_snippets::Level::HELP
                .no_name()
                .message(fix.as_str()),
        );
    }
    out.push_str(&renderer.render(&[group]));
    out.push_str("\n\n");
    out
}

fn level_of(level: Level) -> annotate_snippets::Level<'static> {
    match level {
        Level::Error => annotate_snippets::Level::ERROR,
        Level::Warning => annotate_snippets::Level::WARNING,
        Level::Info => annotate_snippets::Level::INFO,
    }
}

/// 1-based line number and byte start of the line holding `offset`.
fn line_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    (
        before.matches('\n').count() + 1,
        before.rfind('\n').map_or(0, |i| i + 1),
    )
}

/// Control and bidi-override characters would drive the terminal: shown as U+FFFD instead.
fn printable(s: &str) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    s.chars()
        .map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c })
        .collect()
}

fn shorten(s: &str, max_chars: usize) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() <= max_chars {
        return one_line;
    }
    let head: String = one_line.chars().take(max_chars).collect();
    format!("{head}…")
}

/// `error: file:line:col: message`, then the offending line of the rulebook with a caret.
pub fn render_rulebook_error(e: &RulebookError, renderer: &Renderer) -> String {
    let mut out = format!("error: {e}\n");
    let source = std::fs::read_to_string(&e.file).ok();
    if let Some(line) = source
        .as_deref()
        .and_then(|s| s.lines().nth(e.line.wrapping_sub(1)))
    {
        let shown = printable(line);
        let start: usize = shown
            .chars()
            .take(e.column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        let end = shown[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8());
        let group = Group::with_level(annotate_snippets::Level::ERROR).element(
            Snippet::source(shown.as_str())
                .line_start(e.line)
                .annotation(AnnotationKind::Primary.span(start..end)),
        );
        out.push_str(&renderer.render(&[group]));
        out.push('\n');
    }
    out
}

/// Colours for a terminal that takes them; plain text (the same characters) otherwise.
pub fn renderer_for(terminal: bool) -> Renderer {
    if terminal && std::env::var_os("NO_COLOR").is_none() {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        lint: LintArgs,
    }

    fn rules_path() -> String {
        concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml").to_string()
    }

    fn lint(args: &[&str], stdin: &str) -> (i32, String, String) {
        let cli = Cli::try_parse_from(std::iter::once("lint").chain(args.iter().copied())).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with(
            &cli.lint,
            &mut stdin.as_bytes(),
            &mut out,
            &mut err,
            &Colours::plain(),
        );
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    fn default_rules() -> String {
        // The scratch crate and the main crate both find the rulebook beside the sources.
        let p = rules_path();
        if Path::new(&p).exists() {
            p
        } else {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../main/rules/default.toml").to_string()
        }
    }

    #[test]
    fn clean_text_exits_zero() {
        let r = default_rules();
        let (code, out, _) = lint(&["--rules", &r, "-"], "Thanks, we're on it.");
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("0 error(s)") && out.contains("deliverable"));
    }

    #[test]
    fn warnings_only_exit_zero_errors_exit_one() {
        let r = default_rules();
        assert_eq!(lint(&["--rules", &r], "Check your e-mail.").0, 0);
        let (code, out, _) = lint(
            &["--rules", &r, "--tier", "standard"],
            "Hello.\nWe refunded $90.",
        );
        assert_eq!(code, 1);
        assert!(
            out.starts_with("2:13 error REFUND-CAP $90 is above"),
            "{out}"
        );
        assert!(
            out.contains("2 | We refunded $90.\n  |             ^^^\n"),
            "{out}"
        );
    }

    #[test]
    fn json_output_has_exactly_the_documented_shape() {
        let r = default_rules();
        let (code, out, _) = lint(
            &[
                "--rules",
                &r,
                "--format",
                "json",
                "--channel",
                "x",
                "--tags",
                "a,b",
                "--department",
                "finance",
            ],
            "These are guaranteed returns!! Past performance is no guarantee of future results.",
        );
        assert_eq!(code, 1);
        assert!(out.starts_with("{\"rulebook_version\":\"2026.11.24-1\",\"deliverable\":false,\"violations\":[{\"rule\":"), "{out}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["deliverable", "rulebook_version", "violations"]);
        assert_eq!(doc["deliverable"], false);
        let v = &doc["violations"][0];
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            vec!["end", "fix", "level", "message", "part", "rule", "start"]
        );
        assert_eq!(
            (v["rule"].as_str(), v["start"].as_u64(), v["end"].as_u64()),
            (Some("FIN-PROMISSORY"), Some(10), Some(28))
        );
        assert_eq!(v["part"], "public");
        assert_eq!(v["level"], "error");
    }

    #[test]
    fn broken_rulebook_exits_two_with_location() {
        let dir = std::env::temp_dir().join(format!("earshot-lint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[rulebook]\nid = \"x\"\nversion = \"1\"\n[[rule]]\nid = \"A\"\nkind = \"pattern\"\npatterns = ['a(?=b)']\nlevel = \"error\"\n").unwrap();
        let (code, _, err) = lint(&["--rules", path.to_str().unwrap()], "text");
        assert_eq!(code, 2);
        assert!(err.contains("bad.toml:7:15: lookaround"), "{err}");
        assert!(
            err.contains("7 | patterns = ['a(?=b)']\n  |               ^"),
            "{err}"
        );
        let (code, _, err) = lint(&["--rules", "/nonexistent/rules.toml"], "text");
        assert_eq!(code, 2);
        assert!(err.contains("cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_input_file_exits_two() {
        let r = default_rules();
        let (code, _, err) = lint(&["--rules", &r, "/nonexistent/draft.txt"], "");
        assert_eq!(code, 2);
        assert!(err.contains("cannot read /nonexistent/draft.txt"), "{err}");
    }

    #[test]
    fn bad_flag_values_are_usage_errors() {
        assert!(Cli::try_parse_from(["lint", "--rules", "r", "--channel", "fax"]).is_err());
        assert!(Cli::try_parse_from(["lint", "--rules", "r", "--visibility", "secret"]).is_err());
        assert!(Cli::try_parse_from(["lint", "--rules", "r", "--format", "xml"]).is_err());
        assert_eq!(
            Cli::try_parse_from(["lint", "--rules", "r", "--channel", "fax"])
                .err()
                .unwrap()
                .exit_code(),
            2
        );
    }

    #[test]
    fn carets_align_under_wide_characters() {
        let r = default_rules();
        let (_, out, _) = lint(
            &["--rules", &r, "--department", "shipping"],
            "投资 It will arrive tomorrow.",
        );
        assert!(
            out.contains("1 | 投资 It will arrive tomorrow.\n  |         ^^^^^^^^^^^^^^^^^^^^\n"),
            "{out}"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal_and_carets_still_align() {
        let r = default_rules();
        let (_, out, _) = lint(
            &["--rules", &r, "--tier", "standard"],
            "\u{1b}[2J\u{7}We refunded $90.",
        );
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(
            out.contains("1 | \u{FFFD}[2J\u{FFFD}We refunded $90.\n  |                  ^^^\n"),
            "{out}"
        );
    }

    #[test]
    fn colours_only_for_a_terminal() {
        let r = default_rules();
        let book = Rulebook::load(Path::new(&r)).unwrap();
        let text = "We refunded $90.";
        let result = book.check(
            &[DraftPart::new(Visibility::Public, text.to_string())],
            &CheckContext {
                tier: Some("standard".into()),
                ..Default::default()
            },
        );
        let plain = render_text(&result, text, &renderer_for(false));
        let styled = render_text(&result, text, &Renderer::styled());
        assert!(!plain.contains('\u{1b}') && styled.contains('\u{1b}'));
        let strip = |s: &str| {
            let mut out = String::new();
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c == '\u{1b}' {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        };
        assert_eq!(strip(&styled), plain, "the same text without colours");
    }
}
