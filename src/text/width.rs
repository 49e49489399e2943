//! Width-aware layout helpers: measure, truncate, pad and wrap by grapheme cluster, in terminal
//! cells, with unicode-width's rules for a cluster (as ratatui measures a cell's symbol, so a row
//! computed here is the row ratatui draws).

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

const ELLIPSIS: &str = "\u{2026}";

/// Cells one grapheme cluster takes. Control characters (newlines included) take none.
pub fn grapheme_width(g: &str) -> usize {
    match g.chars().next() {
        None => 0,
        Some(c) if c.is_control() => 0,
        Some(_) => g.width(),
    }
}

/// Cells `s` takes on one line (newlines count as zero: measure lines, not paragraphs).
pub fn display_width(s: &str) -> usize {
    if s.is_ascii() {
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    s.graphemes(true).map(grapheme_width).sum()
}

/// `s` cut to at most `width` cells, ending with `…` when something was cut. Never splits a
/// grapheme cluster (an emoji sequence, a letter with its marks).
pub fn truncate_to_width(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = grapheme_width(g);
        if used + w > room {
            break;
        }
        out.push_str(g);
        used += w;
    }
    let kept = trim_break_spaces(&out).len();
    out.truncate(kept);
    out.push_str(ELLIPSIS);
    out
}

/// `s` truncated to `width` cells (see [`truncate_to_width`]) and padded with spaces to exactly
/// `width` cells, for table columns.
pub fn pad_to_width(s: &str, width: usize) -> String {
    let mut out = truncate_to_width(s, width);
    let w = display_width(&out);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// Wraps `s` into lines of at most `width` cells.
///
/// Each `\n` starts a new line; an empty paragraph gives an empty line, so `wrap("", w)` is one
/// empty line. Lines break at whitespace, which is dropped at the break; a word longer than a
/// line (a URL, a run of CJK) is broken between grapheme clusters, filling the current line
/// first. A cluster wider than the whole line (an emoji at width 1) becomes `…`. Leading
/// whitespace of a paragraph is kept as indentation. `width == 0` gives no lines.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if width == 0 {
        return lines;
    }
    for paragraph in s.split('\n') {
        wrap_paragraph(
            paragraph.strip_suffix('\r').unwrap_or(paragraph),
            width,
            &mut lines,
        );
    }
    lines
}

/// Whitespace where a line may break (not the no-break spaces).
fn is_break_space(g: &str) -> bool {
    g.chars()
        .next()
        .is_some_and(|c| c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}'))
}

fn trim_break_spaces(s: &str) -> &str {
    s.trim_end_matches(|c: char| {
        c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}')
    })
}

/// Runs of graphemes that are all break-spaces or all not.
fn tokens(s: &str) -> impl Iterator<Item = (&str, bool)> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.graphemes(true).next()?;
        let space = is_break_space(first);
        let mut end = 0;
        for (i, g) in rest.grapheme_indices(true) {
            if is_break_space(g) != space {
                break;
            }
            end = i + g.len();
        }
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some((token, space))
    })
}

struct Line<'a> {
    lines: &'a mut Vec<String>,
    text: String,
    width: usize,
    /// This line continues a paragraph after a break: leading spaces are dropped.
    continuation: bool,
}

impl Line<'_> {
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.text);
        self.lines.push(trim_break_spaces(&text).to_string());
        self.width = 0;
        self.continuation = true;
    }
}

fn wrap_paragraph(p: &str, max: usize, lines: &mut Vec<String>) {
    let mut line = Line {
        lines,
        text: String::new(),
        width: 0,
        continuation: false,
    };
    for (token, space) in tokens(p) {
        let w = display_width(token);
        if space {
            if line.text.is_empty() && line.continuation {
                continue;
            }
            if line.width + w <= max {
                line.text.push_str(token);
                line.width += w;
            } else if line.text.is_empty() {
                // Indentation wider than the line: as much as fits.
                let n = max.min(w);
                line.text.extend(std::iter::repeat_n(' ', n));
                line.width = n;
            } else {
                line.flush();
            }
            continue;
        }
        if line.width + w <= max {
            line.text.push_str(token);
            line.width += w;
            continue;
        }
        if w <= max {
            // The word fits a line of its own.
            line.flush();
            line.text.push_str(token);
            line.width = w;
            continue;
        }
        // Longer than a line: break it between clusters, filling the current line first.
        if trim_break_spaces(&line.text).is_empty() {
            line.text.clear();
            line.width = 0;
        }
        for g in token.graphemes(true) {
            let (g, gw) = match grapheme_width(g) {
                gw if gw > max => (ELLIPSIS, 1),
                gw => (g, gw),
            };
            if line.width + gw > max {
                line.flush();
            }
            line.text.push_str(g);
            line.width += gw;
        }
    }
    let text = std::mem::take(&mut line.text);
    line.lines.push(trim_break_spaces(&text).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn widths_follow_cells() {
        assert_eq!(display_width("hello"), 5);
        assert_eq!(display_width("日本"), 4);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(display_width("👨\u{200D}👩\u{200D}👧\u{200D}👦"), 2);
        assert_eq!(display_width("🇫🇷"), 2);
        assert_eq!(display_width("a\nb"), 2);
        assert_eq!(display_width("ｶﾞ"), 2);
        assert_eq!(display_width(""), 0);
    }

    #[test]
    fn truncation_keeps_clusters_and_marks_the_cut() {
        assert_eq!(truncate_to_width("hello", 5), "hello");
        assert_eq!(truncate_to_width("hello world", 8), "hello w…");
        assert_eq!(truncate_to_width("日本語テキスト", 7), "日本語…");
        assert_eq!(truncate_to_width("日本語テキスト", 6), "日本…");
        assert_eq!(
            truncate_to_width("👨\u{200D}👩\u{200D}👧 family", 4),
            "👨\u{200D}👩\u{200D}👧…"
        );
        assert_eq!(truncate_to_width("abc", 0), "");
        assert_eq!(truncate_to_width("abc", 1), "…");
        assert_eq!(pad_to_width("ab", 4), "ab  ");
        assert_eq!(pad_to_width("日本語", 5), "日本…");
        assert_eq!(display_width(&pad_to_width("日本語", 4)), 4);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_keeps_paragraphs() {
        assert_eq!(
            wrap("the quick brown fox", 10),
            vec!["the quick", "brown fox"]
        );
        assert_eq!(wrap("one\n\ntwo", 10), vec!["one", "", "two"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("  indented text", 10), vec!["  indented", "text"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(
            wrap("see https://example.com/x", 10),
            vec!["see https:", "//example.", "com/x"]
        );
        assert_eq!(
            wrap("日本語のテキスト", 6),
            vec!["日本語", "のテキ", "スト"]
        );
        assert_eq!(wrap("a 👍 b", 1), vec!["a", "…", "b"]);
        assert!(wrap("abc", 0).is_empty());
        assert_eq!(wrap("crlf\r\nline", 10), vec!["crlf", "line"]);
        assert_eq!(wrap("hello,   world", 6), vec!["hello,", "world"]);
    }

    fn texty() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "a",
            "word",
            "longerwordhere",
            " ",
            "  ",
            "\n",
            "日",
            "本",
            "👍",
            "👨\u{200D}👩\u{200D}👧",
            "e\u{301}",
            "\u{A0}",
            "ｶﾞ",
            "\t",
            ",",
            "🇫🇷",
        ]);
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn wrapped_lines_never_exceed_the_width(s in texty(), width in 1usize..30) {
            let lines = wrap(&s, width);
            prop_assert!(lines.len() >= s.split('\n').count());
            for line in &lines {
                prop_assert!(display_width(line) <= width, "{:?} at {} -> {:?}", s, width, lines);
                prop_assert!(!line.contains('\n'));
            }
            if width >= 2 {
                // Nothing but whitespace is lost.
                let strip = |t: &str| t.chars().filter(|c| !c.is_whitespace() || *c == '\u{A0}').collect::<String>();
                prop_assert_eq!(strip(&lines.concat()), strip(&s));
            }
        }

        #[test]
        fn truncation_never_exceeds_the_width(s in texty(), width in 0usize..30) {
            let t = truncate_to_width(&s, width);
            prop_assert!(display_width(&t) <= width);
            prop_assert!(s.starts_with(t.trim_end_matches(ELLIPSIS)));
            prop_assert_eq!(display_width(&pad_to_width(&s, width)), width);
        }

        #[test]
        fn wrapping_any_string_does_not_panic(s in any::<String>(), width in 0usize..12) {
            for line in wrap(&s, width) {
                prop_assert!(display_width(&line) <= width);
            }
        }
    }
}
