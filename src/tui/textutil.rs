//! Width-aware text helpers for the panes, over `crate::text`, and a last line of defence against
//! terminal control characters in untrusted text (the client sanitises at ingest, DESIGN.md §6;
//! the console cleans again what it stores, because a backend other than ours may not).

/// A single-line field, made safe for the terminal (`crate::text`, DESIGN.md §6).
pub fn sanitize(s: &str) -> String {
    crate::text::sanitize_inline(s)
}

/// Multi-line text (a post, a reply body), made safe for the terminal; newlines kept.
pub fn sanitize_multiline(s: &str) -> String {
    crate::text::sanitize(s)
}

pub use crate::text::{display_width, truncate_to_width};

/// How a handle is shown: `@name` on social networks (whether or not the network's handle
/// already has its `@`), as it is for addresses and numbers.
pub fn handle_label(network: crate::domain::Channel, handle: &str) -> String {
    use crate::domain::Channel::*;
    match network {
        Email | Sms | Phone | Whatsapp | InPerson | WebForm | Webchat => handle.to_string(),
        _ if handle.starts_with('@') => handle.to_string(),
        _ => format!("@{handle}"),
    }
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
        assert_eq!(sanitize("hi\u{1b}[31mred\u{7}"), "hired");
        assert_eq!(sanitize("a\u{202e}b\u{2066}c"), "abc");
        assert_eq!(sanitize("👩‍👩‍👧 ok 日本"), "👩‍👩‍👧 ok 日本");
        assert_eq!(sanitize("x\u{9b}31my"), "xy");
        assert_eq!(sanitize_multiline("a\nb\u{1b}"), "a\nb");
        assert_eq!(sanitize("a\nb"), "a b");
    }

    #[test]
    fn handles_get_one_at_sign_on_social_networks() {
        use crate::domain::Channel;
        assert_eq!(handle_label(Channel::X, "@ada"), "@ada");
        assert_eq!(handle_label(Channel::X, "ada"), "@ada");
        assert_eq!(
            handle_label(Channel::Email, "ada@example.com"),
            "ada@example.com"
        );
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
