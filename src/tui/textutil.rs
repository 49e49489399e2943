//! Width-aware text helpers for the panes, and a last line of defence against terminal control
//! characters in untrusted text (the client sanitises at ingest, DESIGN.md §6; the console cleans
//! again what it stores, because a backend other than ours may not).

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Remove C0/C1 controls (except newline and tab, which become spaces), bidi overrides and
/// isolates and other invisible format characters; keep emoji (and their ZWJ) and every script.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(is_unsafe) {
        return s.to_string();
    }
    s.chars()
        .filter_map(|c| match c {
            '\n' | '\t' | '\r' => Some(' '),
            c if is_unsafe(c) => None,
            c => Some(c),
        })
        .collect()
}

fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}'
        | '\u{2060}'..='\u{2064}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{061c}' | '\u{180e}'
    )
}

/// Like `sanitize`, but keeps newlines (for multi-line bodies shown as paragraphs).
pub fn sanitize_multiline(s: &str) -> String {
    s.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}

pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// The longest prefix of `s` (whole graphemes) that fits in `width` columns, with `…` when cut.
pub fn truncate_to_width(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for g in s.graphemes(true) {
        let gw = UnicodeWidthStr::width(g);
        if w + gw > width - 1 {
            break;
        }
        out.push_str(g);
        w += gw;
    }
    out.push('…');
    out
}

/// `s` truncated or padded with spaces to exactly `width` columns.
pub fn fit(s: &str, width: usize) -> String {
    let mut t = truncate_to_width(s, width);
    let w = display_width(&t);
    if w < width {
        t.extend(std::iter::repeat_n(' ', width - w));
    }
    t
}

/// `s` right-aligned in `width` columns (truncated if too wide).
pub fn fit_right(s: &str, width: usize) -> String {
    let t = truncate_to_width(s, width);
    let w = display_width(&t);
    format!("{}{}", " ".repeat(width.saturating_sub(w)), t)
}

/// One line for a list row: whitespace runs collapsed to single spaces.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_removed_emoji_kept() {
        assert_eq!(sanitize("hi\u{1b}[31mred\u{7}"), "hi[31mred");
        assert_eq!(sanitize("a\u{202e}b\u{2066}c"), "abc");
        assert_eq!(sanitize("👩‍👩‍👧 ok 日本"), "👩‍👩‍👧 ok 日本");
        assert_eq!(sanitize("x\u{9b}y"), "xy");
        assert_eq!(sanitize_multiline("a\nb\u{1b}"), "a\nb");
    }

    #[test]
    fn widths_and_truncation_respect_wide_characters() {
        assert_eq!(display_width("日本"), 4);
        assert_eq!(truncate_to_width("日本語テキスト", 5), "日本…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit_right("ab", 4), "  ab");
        assert_eq!(one_line("  a \n\n b  "), "a b");
    }
}
