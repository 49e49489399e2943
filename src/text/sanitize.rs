//! The sanitiser: strings in, display-safe strings out.
//!
//! Two passes and a bound:
//!
//! 1. A scanner removes C0 and C1 controls and whole escape sequences (CSI, OSC including OSC 8
//!    hyperlinks and OSC 52 clipboard writes, DCS, SOS, PM, APC, and the short `ESC x` forms),
//!    whether introduced by ESC or by the C1 characters U+009B, U+009D, U+0090... It maps line
//!    breaks (`\r\n`, `\r`, VT, FF, NEL, U+2028, U+2029) to `\n` and a tab to spaces, drops bidi
//!    embeddings, overrides, isolates and marks and other invisible format characters (zero
//!    width space, word joiner, BOM, soft hyphen, Hangul fillers, tags outside emoji flag
//!    sequences, noncharacters...), keeps at most one variation selector after a base character
//!    (so variation selectors cannot smuggle hidden data), and caps runs of zero-width
//!    characters such as combining marks at [`MAX_COMBINING_RUN`] ("Zalgo" text cannot paint
//!    over neighbouring lines).
//! 2. Joiners (ZWJ U+200D, ZWNJ U+200C) are kept only where they join something: a ZWJ between
//!    an emoji and a pictograph (family emoji, rainbow flag, skin-toned professions stay one
//!    grapheme), or either joiner between two letters of a script that uses them for shaping
//!    (Arabic, Persian, Indic, Khmer...). Anywhere else a joiner is invisible and goes.
//!
//! The result is bounded: text longer than the limit is cut on a grapheme boundary and ends with
//! [`TRUNCATION_MARKER`], the whole within the limit.
//!
//! `sanitize(sanitize(s)) == sanitize(s)` for every `s` (checked by property tests below).

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthChar;

/// Longest multi-line text kept, in bytes (the marker included).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Longest single-line field kept (names, handles, addresses, tags...), in bytes.
pub const MAX_INLINE_BYTES: usize = 4 * 1024;
/// Appended to text cut at the limit.
pub const TRUNCATION_MARKER: &str = " \u{2026}[truncated]";
/// Most zero-width characters (combining marks, variation selectors...) kept in a row.
pub const MAX_COMBINING_RUN: usize = 16;

/// Spaces a tab becomes in multi-line text.
const TAB: &str = "    ";
/// Longest run of tag characters accepted in an emoji tag sequence (a subdivision flag).
const MAX_TAG_RUN: usize = 32;

const ZWJ: char = '\u{200D}';
const ZWNJ: char = '\u{200C}';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Newlines kept, a tab becomes four spaces.
    Multiline,
    /// One line: newlines and tabs become a single space.
    Inline,
}

/// Sanitises multi-line text (a post, a message body, a summary), bounded at [`MAX_TEXT_BYTES`].
pub fn sanitize(s: &str) -> String {
    sanitize_with(s, Mode::Multiline, MAX_TEXT_BYTES)
}

/// Sanitises a single-line field (a name, a handle, an address, a tag): line breaks and tabs
/// become spaces; bounded at [`MAX_INLINE_BYTES`].
pub fn sanitize_inline(s: &str) -> String {
    sanitize_with(s, Mode::Inline, MAX_INLINE_BYTES)
}

/// Multi-line sanitising with another bound (in bytes, the marker included).
pub fn sanitize_with_limit(s: &str, max_bytes: usize) -> String {
    sanitize_with(s, Mode::Multiline, max_bytes)
}

fn sanitize_with(s: &str, mode: Mode, max_bytes: usize) -> String {
    if s.len() <= max_bytes && is_plain(s, mode) {
        return s.to_string();
    }
    let scanned = scan(s, mode);
    if scanned.len() <= max_bytes {
        return resolve_joiners(scanned);
    }
    let room = max_bytes.saturating_sub(TRUNCATION_MARKER.len());
    let cut = grapheme_floor(&scanned, room);
    let mut out = resolve_joiners(scanned[..cut].to_string());
    if TRUNCATION_MARKER.len() <= max_bytes {
        out.push_str(TRUNCATION_MARKER);
    }
    out
}

/// Printable ASCII (and `\n` in multi-line mode) needs no work.
fn is_plain(s: &str, mode: Mode) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) || (b == b'\n' && mode == Mode::Multiline))
}

/// The largest grapheme boundary at or below `limit` bytes.
fn grapheme_floor(s: &str, limit: usize) -> usize {
    let mut cut = 0;
    for (i, g) in s.grapheme_indices(true) {
        if i + g.len() > limit {
            break;
        }
        cut = i + g.len();
    }
    cut
}

/// True for a character that [`sanitize`] never lets through: C0 controls other than `\n`, DEL,
/// C1 controls, bidi controls, and the invisible format characters it removes. (Joiners, tags
/// and variation selectors depend on their neighbours and are not covered here.)
pub fn is_forbidden(c: char) -> bool {
    (is_control(c) && c != '\n') || is_bidi_control(c) || is_removed_format(c)
}

fn is_control(c: char) -> bool {
    c <= '\u{1F}' || ('\u{7F}'..='\u{9F}').contains(&c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible format characters (mostly `Default_Ignorable_Code_Point`) that carry no meaning
/// in a terminal and are used to hide or spoof text, plus noncharacters and stray tags.
/// Joiners and variation selectors are handled separately.
fn is_removed_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{115F}' | '\u{1160}'   // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels
            | '\u{180E}'                // Mongolian vowel separator
            | '\u{200B}'                // zero width space
            | '\u{2028}' | '\u{2029}'   // (mapped to newlines before this is asked)
            | '\u{2060}'..='\u{2065}'   // word joiner, invisible operators
            | '\u{206A}'..='\u{206F}'   // deprecated format characters
            | '\u{3164}'                // Hangul filler
            | '\u{FEFF}'                // BOM, zero width no-break space
            | '\u{FFA0}'                // halfwidth Hangul filler
            | '\u{FFF0}'..='\u{FFFB}'   // unassigned specials, interlinear annotation
            | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
            | '\u{E0000}'..='\u{E001F}' // tag block outside the tag characters
            | '\u{E0080}'..='\u{E00FF}'
            | '\u{E01F0}'..='\u{E0FFF}'
    ) || is_noncharacter(c)
}

fn is_noncharacter(c: char) -> bool {
    let u = c as u32;
    (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE
}

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007F}').contains(&c)
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}' | '\u{180F}')
}

fn is_joiner(c: char) -> bool {
    c == ZWJ || c == ZWNJ
}

/// The output of the first pass, with the state its rules need.
struct Out {
    s: String,
    mode: Mode,
    /// Zero-width characters pushed since the last character with a width.
    zero_width_run: usize,
    last: Option<char>,
}

impl Out {
    fn newline(&mut self) {
        match self.mode {
            Mode::Multiline => self.s.push('\n'),
            Mode::Inline => self.s.push(' '),
        }
        self.zero_width_run = 0;
        self.last = Some(if self.mode == Mode::Multiline {
            '\n'
        } else {
            ' '
        });
    }

    fn tab(&mut self) {
        match self.mode {
            Mode::Multiline => self.s.push_str(TAB),
            Mode::Inline => self.s.push(' '),
        }
        self.zero_width_run = 0;
        self.last = Some(' ');
    }

    fn push(&mut self, c: char) {
        if is_joiner(c) {
            // Transparent to the zero-width run, so that removing a joiner in the second pass
            // cannot change what this pass decided.
            self.s.push(c);
            self.last = Some(c);
            return;
        }
        if c.width() == Some(0) {
            if self.zero_width_run >= MAX_COMBINING_RUN {
                return;
            }
            self.zero_width_run += 1;
        } else {
            self.zero_width_run = 0;
        }
        self.s.push(c);
        self.last = Some(c);
    }

    /// A variation selector only right after a base character, and only one.
    fn push_variation_selector(&mut self, c: char) {
        match self.last {
            Some(base) if base != '\n' && !is_variation_selector(base) && !is_joiner(base) => {
                self.push(c)
            }
            _ => {}
        }
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Pass one: controls, escape sequences, line breaks, bidi and format characters.
fn scan(s: &str, mode: Mode) -> String {
    let mut out = Out {
        s: String::with_capacity(s.len().min(MAX_TEXT_BYTES * 2)),
        mode,
        zero_width_run: 0,
        last: None,
    };
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.newline(),
            '\r' => {
                if it.peek() == Some(&'\n') {
                    it.next();
                }
                out.newline();
            }
            '\t' => out.tab(),
            '\u{1B}' => skip_escape(&mut it),
            '\u{9B}' => skip_csi_body(&mut it),
            '\u{90}' | '\u{98}' | '\u{9D}' | '\u{9E}' | '\u{9F}' => skip_string_body(&mut it),
            '\u{1F3F4}' => {
                out.push(c);
                copy_tag_sequence(&mut it, &mut out);
            }
            c if is_control(c) || is_bidi_control(c) || is_removed_format(c) || is_tag(c) => {}
            c if is_variation_selector(c) => out.push_variation_selector(c),
            c => out.push(c),
        }
    }
    out.s
}

/// After ESC: the whole sequence goes, whatever its kind.
fn skip_escape(it: &mut Chars<'_>) {
    match it.peek().copied() {
        Some('[') => {
            it.next();
            skip_csi_body(it);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            it.next();
            skip_string_body(it);
        }
        // nF: intermediates, then a final byte (ESC ( B, ESC # 8...).
        Some('\u{20}'..='\u{2F}') => {
            while matches!(it.peek(), Some('\u{20}'..='\u{2F}')) {
                it.next();
            }
            if matches!(it.peek(), Some('\u{30}'..='\u{7E}')) {
                it.next();
            }
        }
        // Fp, Fe, Fs: ESC 7, ESC c (full reset), ESC D, ESC =...
        Some('\u{30}'..='\u{7E}') => {
            it.next();
        }
        // A lone ESC: only the ESC goes.
        _ => {}
    }
}

/// After CSI (ESC [ or U+009B): parameter and intermediate bytes up to a final byte. A character
/// that fits none of these ends the sequence and is read as text again.
fn skip_csi_body(it: &mut Chars<'_>) {
    while matches!(it.peek(), Some('\u{20}'..='\u{3F}')) {
        it.next();
    }
    if matches!(it.peek(), Some('\u{40}'..='\u{7E}')) {
        it.next();
    }
}

/// After OSC, DCS, SOS, PM or APC: everything up to the string terminator (BEL, ESC \ or
/// U+009C). Another ESC ends the string and starts a new sequence. An unterminated string ends
/// at the end of its line, so that a stray introducer cannot swallow the rest of a post.
fn skip_string_body(it: &mut Chars<'_>) {
    while let Some(&c) = it.peek() {
        match c {
            '\u{07}' | '\u{9C}' => {
                it.next();
                return;
            }
            '\u{1B}' => {
                let mut ahead = it.clone();
                ahead.next();
                if ahead.peek() == Some(&'\\') {
                    it.next();
                    it.next();
                }
                return;
            }
            '\n' | '\r' => return,
            _ => {
                it.next();
            }
        }
    }
}

/// After U+1F3F4 (black flag): a tag sequence (subdivision flags such as England's) is kept
/// whole; tags anywhere else are dropped.
fn copy_tag_sequence(it: &mut Chars<'_>, out: &mut Out) {
    let mut ahead = it.clone();
    let mut n = 0;
    while n <= MAX_TAG_RUN {
        match ahead.next() {
            Some('\u{E0020}'..='\u{E007E}') => n += 1,
            Some('\u{E007F}') if n > 0 => {
                for _ in 0..=n {
                    let tag = it.next().expect("looked ahead");
                    out.s.push(tag);
                }
                out.zero_width_run = 0;
                out.last = Some('\u{E007F}');
                return;
            }
            _ => return,
        }
    }
}

/// Pass two: joiners stay only between characters they join.
fn resolve_joiners(s: String) -> String {
    if !s.contains([ZWJ, ZWNJ]) {
        return s;
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if is_joiner(c) {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            if keep_joiner(c, prev, next) {
                out.push(c);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn keep_joiner(joiner: char, prev: Option<char>, next: Option<char>) -> bool {
    let (Some(prev), Some(next)) = (prev, next) else {
        return false;
    };
    if joiner == ZWJ && is_emoji_zwj_left(prev) && is_extended_pictographic(next) {
        return true;
    }
    is_joining_script(prev) && is_joining_script(next)
}

/// What may stand before the ZWJ of an emoji ZWJ sequence: a pictograph, its emoji
/// presentation selector, or a skin tone modifier.
fn is_emoji_zwj_left(c: char) -> bool {
    c == '\u{FE0F}' || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c) || is_extended_pictographic(c)
}

/// Scripts in which ZWJ and ZWNJ change how letters join or form conjuncts.
fn is_joining_script(c: char) -> bool {
    matches!(
        c,
        '\u{0590}'..='\u{05FF}'       // Hebrew
            | '\u{0600}'..='\u{08FF}' // Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic...
            | '\u{0900}'..='\u{0DFF}' // Devanagari .. Sinhala
            | '\u{0F00}'..='\u{0FFF}' // Tibetan
            | '\u{1000}'..='\u{109F}' // Myanmar
            | '\u{1780}'..='\u{18AF}' // Khmer, Mongolian
            | '\u{1A00}'..='\u{1A1F}' // Buginese
            | '\u{1B00}'..='\u{1BFF}' // Balinese, Sundanese, Batak
            | '\u{2D30}'..='\u{2D7F}' // Tifinagh
            | '\u{A800}'..='\u{A8FF}' // Syloti Nagri .. Devanagari extended
            | '\u{A980}'..='\u{AAFF}' // Javanese, Myanmar extended, Cham...
            | '\u{ABC0}'..='\u{ABFF}' // Meetei Mayek
            | '\u{FB1D}'..='\u{FDFF}' // Hebrew and Arabic presentation forms
            | '\u{FE70}'..='\u{FEFE}' // Arabic presentation forms B
            | '\u{10C00}'..='\u{10C4F}' // Old Turkic
            | '\u{11000}'..='\u{11FFF}' // Brahmi and the other Brahmic scripts
    )
}

/// `Extended_Pictographic` (emoji-data.txt), as ranges.
fn is_extended_pictographic(c: char) -> bool {
    matches!(
        c,
        '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
            | '\u{2194}'..='\u{2199}' | '\u{21A9}'..='\u{21AA}' | '\u{231A}'..='\u{231B}'
            | '\u{2328}' | '\u{2388}' | '\u{23CF}' | '\u{23E9}'..='\u{23F3}'
            | '\u{23F8}'..='\u{23FA}' | '\u{24C2}' | '\u{25AA}'..='\u{25AB}' | '\u{25B6}'
            | '\u{25C0}' | '\u{25FB}'..='\u{25FE}' | '\u{2600}'..='\u{2605}'
            | '\u{2607}'..='\u{2612}' | '\u{2614}'..='\u{2685}' | '\u{2690}'..='\u{2705}'
            | '\u{2708}'..='\u{2712}' | '\u{2714}' | '\u{2716}' | '\u{271D}' | '\u{2721}'
            | '\u{2728}' | '\u{2733}'..='\u{2734}' | '\u{2744}' | '\u{2747}' | '\u{274C}'
            | '\u{274E}' | '\u{2753}'..='\u{2755}' | '\u{2757}' | '\u{2763}'..='\u{2767}'
            | '\u{2795}'..='\u{2797}' | '\u{27A1}' | '\u{27B0}' | '\u{27BF}'
            | '\u{2934}'..='\u{2935}' | '\u{2B05}'..='\u{2B07}' | '\u{2B1B}'..='\u{2B1C}'
            | '\u{2B50}' | '\u{2B55}' | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
            | '\u{1F000}'..='\u{1F0FF}' | '\u{1F10D}'..='\u{1F10F}' | '\u{1F12F}'
            | '\u{1F16C}'..='\u{1F171}' | '\u{1F17E}'..='\u{1F17F}' | '\u{1F18E}'
            | '\u{1F191}'..='\u{1F19A}' | '\u{1F1AD}'..='\u{1F1E5}' | '\u{1F201}'..='\u{1F20F}'
            | '\u{1F21A}' | '\u{1F22F}' | '\u{1F232}'..='\u{1F23A}' | '\u{1F23C}'..='\u{1F23F}'
            | '\u{1F249}'..='\u{1F3FA}' | '\u{1F400}'..='\u{1F53D}' | '\u{1F546}'..='\u{1F64F}'
            | '\u{1F680}'..='\u{1F6FF}' | '\u{1F774}'..='\u{1F77F}' | '\u{1F7D5}'..='\u{1F7FF}'
            | '\u{1F80C}'..='\u{1F80F}' | '\u{1F848}'..='\u{1F84F}' | '\u{1F85A}'..='\u{1F85F}'
            | '\u{1F888}'..='\u{1F88F}' | '\u{1F8AE}'..='\u{1F8FF}' | '\u{1F90C}'..='\u{1F93A}'
            | '\u{1F93C}'..='\u{1F945}' | '\u{1F947}'..='\u{1FAFF}' | '\u{1FC00}'..='\u{1FFFD}'
    )
}

/// Object keys whose string values are single-line fields: [`sanitize_json`] sanitises them
/// with [`sanitize_inline`] (so that a display name cannot break a row), every other string
/// with [`sanitize`]. A key ending in `_id` counts as `id`.
pub const INLINE_KEYS: &[&str] = &[
    "id",
    "handle",
    "display_name",
    "first_name",
    "last_name",
    "name",
    "agent_name",
    "author",
    "address",
    "tier",
    "tags",
    "emails",
    "phones",
    "url",
    "status_reason",
    "reference",
    "currency",
    "title",
    "type",
    "department",
    "departments",
    "assignee",
    "pointer",
    "rule",
    "language",
    "channel",
    "network",
    "status",
    "state",
    "visibility",
];

fn is_inline_key(key: &str) -> bool {
    key.ends_with("_id") || INLINE_KEYS.contains(&key)
}

/// Sanitises every string of a JSON value in place, object keys included, recursively (event
/// payloads, problem details). Strings under the keys of [`INLINE_KEYS`] (or inside arrays under
/// them) are single-line fields.
pub fn sanitize_json(v: &mut serde_json::Value) {
    sanitize_json_under(v, false);
}

fn sanitize_json_under(v: &mut serde_json::Value, inline: bool) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            let clean = if inline {
                sanitize_inline(s)
            } else {
                sanitize(s)
            };
            if clean != *s {
                *s = clean;
            }
        }
        Value::Array(items) => {
            for item in items {
                sanitize_json_under(item, inline);
            }
        }
        Value::Object(map) => {
            if map.keys().all(|k| sanitize_inline(k) == *k) {
                for (k, item) in map.iter_mut() {
                    sanitize_json_under(item, is_inline_key(k));
                }
            } else {
                let old = std::mem::take(map);
                for (k, mut item) in old {
                    let k = sanitize_inline(&k);
                    sanitize_json_under(&mut item, is_inline_key(&k));
                    map.insert(k, item);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graphemes(s: &str) -> Vec<&str> {
        s.graphemes(true).collect()
    }

    #[test]
    fn plain_text_is_untouched() {
        for s in [
            "",
            "hello",
            "Ünïcödé façade",
            "日本語のテキスト",
            "مرحبا بالعالم",
            "שלום",
            "नमस्ते दुनिया",
            "a\nb",
        ] {
            assert_eq!(sanitize(s), s);
        }
    }

    #[test]
    fn c0_controls_go_but_lines_and_tabs_stay_readable() {
        assert_eq!(sanitize("a\u{0}b\u{7}c\u{8}d\u{7F}e"), "abcde");
        assert_eq!(
            sanitize("one\r\ntwo\rthree\u{0B}four\u{0C}five"),
            "one\ntwo\nthree\nfour\nfive"
        );
        assert_eq!(sanitize("a\tb"), "a    b");
        assert_eq!(sanitize_inline("a\tb\nc\r\nd"), "a b c d");
    }

    #[test]
    fn escape_sequences_go_whole() {
        // Screen clear, cursor home, colours.
        assert_eq!(sanitize("\u{1B}[2J\u{1B}[H\u{1B}[31mred\u{1B}[0m"), "red");
        // Window title set, terminated by BEL and by ST.
        assert_eq!(sanitize("a\u{1B}]0;pwned\u{7}b"), "ab");
        assert_eq!(sanitize("a\u{1B}]2;pwned\u{1B}\\b"), "ab");
        // OSC 8 hyperlink: the visible text stays, the link goes.
        assert_eq!(
            sanitize("\u{1B}]8;;https://evil.example/\u{1B}\\click me\u{1B}]8;;\u{1B}\\"),
            "click me"
        );
        // OSC 52 clipboard write.
        assert_eq!(sanitize("x\u{1B}]52;c;cm0gLXJmIH4K\u{7}y"), "xy");
        // DCS, APC, PM, SOS.
        assert_eq!(sanitize("a\u{1B}Pq#0;2;0;0;0#0~~\u{1B}\\b"), "ab");
        assert_eq!(sanitize("a\u{1B}_Gf=100;AAAA\u{1B}\\b"), "ab");
        assert_eq!(sanitize("a\u{1B}^pm\u{1B}\\b\u{1B}Xsos\u{1B}\\c"), "abc");
        // Short forms: full reset, save cursor, charset.
        assert_eq!(sanitize("a\u{1B}cb\u{1B}7c\u{1B}(Bd\u{1B}#8e"), "abcde");
        // Private-mode CSI (alternate screen, bracketed paste off).
        assert_eq!(sanitize("\u{1B}[?1049h\u{1B}[?2004lok"), "ok");
        // A lone ESC at the end, and ESC before a non-ASCII char.
        assert_eq!(sanitize("end\u{1B}"), "end");
        assert_eq!(sanitize("\u{1B}é"), "é");
    }

    #[test]
    fn c1_controls_including_their_utf8_form_go() {
        // U+009B is CSI in its C1 form; encoded as UTF-8 it is C2 9B.
        assert_eq!("\u{9B}".as_bytes(), &[0xC2, 0x9B]);
        assert_eq!(sanitize("a\u{9B}31mb"), "ab");
        assert_eq!(sanitize("a\u{9D}0;title\u{9C}b"), "ab");
        assert_eq!(sanitize("a\u{90}dcs\u{9C}b"), "ab");
        assert_eq!(sanitize("a\u{84}b\u{8D}c\u{9C}d"), "abcd");
        assert_eq!(sanitize("a\u{85}b"), "a\nb");
    }

    #[test]
    fn unterminated_strings_end_at_the_end_of_their_line() {
        assert_eq!(
            sanitize("\u{1B}]0;title\nrest of the post"),
            "\nrest of the post"
        );
        assert_eq!(sanitize("before\u{1B}]0;never ends"), "before");
        // Two OSCs with no terminator between them: the second ESC starts a new sequence.
        assert_eq!(sanitize("\u{1B}]0;one\u{1B}]0;two\u{7}after"), "after");
    }

    #[test]
    fn bidi_controls_go() {
        // Trojan Source: "access level" check reordered with RLO/LRI/PDI.
        let trojan =
            "if access_level != \"user\u{202E} \u{2066}// Check if admin\u{2069} \u{2066}\" {";
        let clean = sanitize(trojan);
        assert_eq!(clean, "if access_level != \"user // Check if admin \" {");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            assert_eq!(sanitize(&format!("a{c}b")), "ab", "{:?}", c);
        }
    }

    #[test]
    fn invisible_format_characters_go() {
        for c in [
            '\u{200B}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{180E}',
            '\u{3164}',
            '\u{115F}',
            '\u{FFA0}',
            '\u{2062}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{FFFE}',
            '\u{FDD0}',
        ] {
            assert_eq!(sanitize(&format!("pay{c}pal")), "paypal", "{:?}", c);
        }
        assert_eq!(sanitize("a\u{2028}b\u{2029}c"), "a\nb\nc");
    }

    #[test]
    fn emoji_sequences_survive_as_one_grapheme() {
        for e in [
            "👨\u{200D}👩\u{200D}👧\u{200D}👦", // family
            "🏳\u{FE0F}\u{200D}🌈",              // rainbow flag
            "👩🏽\u{200D}💻",                     // technologist, skin tone
            "❤\u{FE0F}\u{200D}🔥",              // heart on fire
            "🧑\u{200D}🤝\u{200D}🧑",           // people holding hands
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", // England
            "🇫🇷",
            "1\u{FE0F}\u{20E3}", // keycap
            "👍🏿",
        ] {
            let s = format!("hi {e} there");
            assert_eq!(sanitize(&s), s);
            assert_eq!(graphemes(&sanitize(e)).len(), 1, "{e}");
        }
    }

    #[test]
    fn a_joiner_between_non_emoji_goes() {
        assert_eq!(sanitize("pay\u{200D}pal"), "paypal");
        assert_eq!(sanitize("\u{200D}👍"), "👍");
        assert_eq!(sanitize("👍\u{200D}"), "👍");
        assert_eq!(sanitize("👍\u{200D}\u{200D}👍"), "👍👍");
        assert_eq!(sanitize("a\u{200C}b"), "ab");
    }

    #[test]
    fn joiners_in_scripts_that_need_them_stay() {
        // Persian: ZWNJ between "mi" and the verb.
        let persian = "می\u{200C}خواهم";
        assert_eq!(sanitize(persian), persian);
        // Devanagari: explicit half form with ZWJ.
        let hindi = "क्\u{200D}ष";
        assert_eq!(sanitize(hindi), hindi);
        // Malayalam chillu.
        let malayalam = "ന്\u{200D}";
        assert_eq!(sanitize(malayalam), "ന്");
    }

    #[test]
    fn combining_marks_stay_but_zalgo_is_capped() {
        let s = "e\u{301}, n\u{303}, Tiếng Việt";
        assert_eq!(sanitize(s), s);
        let zalgo = format!("z{}a", "\u{336}".repeat(200));
        let clean = sanitize(&zalgo);
        assert_eq!(
            clean.chars().filter(|&c| c == '\u{336}').count(),
            MAX_COMBINING_RUN
        );
        assert!(clean.starts_with('z') && clean.ends_with('a'));
    }

    #[test]
    fn variation_selectors_cannot_smuggle_data() {
        // Emoji presentation stays.
        assert_eq!(sanitize("☺\u{FE0F}"), "☺\u{FE0F}");
        // Bytes hidden as a run of variation selectors after one emoji.
        let smuggled = format!("😀{}", "\u{E0101}\u{E0142}\u{FE01}\u{E0155}".repeat(10));
        assert_eq!(sanitize(&smuggled), "😀\u{E0101}");
        assert_eq!(sanitize("\u{FE0F}start"), "start");
    }

    #[test]
    fn long_text_is_cut_on_a_grapheme_boundary_with_a_marker() {
        let post = "👨\u{200D}👩\u{200D}👧 ".repeat(10_000); // ~190 KB
        let clean = sanitize(&post);
        assert!(clean.len() <= MAX_TEXT_BYTES);
        assert!(clean.ends_with(TRUNCATION_MARKER));
        let body = clean.strip_suffix(TRUNCATION_MARKER).unwrap();
        assert!(body
            .graphemes(true)
            .all(|g| g == "👨\u{200D}👩\u{200D}👧" || g == " "));
        assert_eq!(sanitize(&clean), clean);
        let inline = sanitize_inline(&"x".repeat(10_000));
        assert_eq!(inline.len(), MAX_INLINE_BYTES);
        assert!(inline.ends_with(TRUNCATION_MARKER));
        // A bound smaller than the marker keeps nothing rather than overflow.
        assert_eq!(sanitize_with_limit(&"\u{7}abcdef".repeat(2), 3), "");
    }

    #[test]
    fn a_hostile_corpus_comes_out_as_text() {
        let corpus = [
            "\u{1B}[2J\u{1B}[3J\u{1B}[HYour account is closed",
            "\u{1B}]0;rm -rf ~\u{7}title",
            "\u{1B}]8;;file:///etc/passwd\u{7}innocent\u{1B}]8;;\u{7}",
            "\u{1B}]52;c;ZWNobyBwd25lZA==\u{7}copy",
            "\u{9B}6n\u{9B}?1049h",
            "\u{1B}P+q544e\u{1B}\\",
            "\u{1B}[5m\u{1B}[8mhidden",
            "ok\u{202E}gnp.exe",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
        ];
        for s in corpus {
            let clean = sanitize(s);
            assert!(!clean.chars().any(is_forbidden), "{s:?} -> {clean:?}");
            assert!(!clean.contains('\u{1B}'));
            assert!(
                !clean.contains("]0;") && !clean.contains("]52;") && !clean.contains("]8;"),
                "{clean:?}"
            );
        }
    }

    #[test]
    fn json_strings_and_keys_are_sanitised_with_their_field_kind() {
        let mut v = serde_json::json!({
            "text": "line one\nline two\u{1B}[2J",
            "author": {"display_name": "Evil\nName\u{202E}", "handle": "@x"},
            "emails": ["a@b.c\u{7}", "d\n@e.f"],
            "ke\u{1B}[1my": [1, true, null, {"body": "\u{9B}0m ok"}],
        });
        sanitize_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "text": "line one\nline two",
                "author": {"display_name": "Evil Name", "handle": "@x"},
                "emails": ["a@b.c", "d @e.f"],
                "key": [1, true, null, {"body": " ok"}],
            })
        );
    }

    /// Strings rich in the characters the sanitiser cares about.
    fn hostile_string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            any::<char>().prop_map(String::from),
            prop::sample::select(vec![
                "\u{1B}",
                "[",
                "]",
                "\\",
                "P",
                "_",
                "^",
                "X",
                "0;",
                "8;;",
                "52;c;",
                "\u{7}",
                "\u{9B}",
                "\u{9C}",
                "\u{9D}",
                "\u{90}",
                "\u{85}",
                "\r",
                "\n",
                "\t",
                "\u{202E}",
                "\u{2066}",
                "\u{2069}",
                "\u{200B}",
                "\u{200C}",
                "\u{200D}",
                "\u{FE0F}",
                "\u{FE0E}",
                "\u{E0101}",
                "\u{1F3F4}",
                "\u{E0067}",
                "\u{E007F}",
                "\u{301}",
                "\u{336}",
                "👨",
                "👩",
                "🏽",
                "क",
                "्",
                "ष",
                "م",
                "a",
                " ",
                "日",
                "\u{2028}",
                "\u{FEFF}",
                "\u{1160}",
                "\u{FF9E}",
            ])
            .prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..64).prop_map(|v| v.concat())
    }

    fn check_clean(out: &str) -> Result<(), TestCaseError> {
        let chars: Vec<char> = out.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            prop_assert!(!is_forbidden(c), "forbidden {:?} in {:?}", c, out);
            if is_joiner(c) {
                let prev = i.checked_sub(1).map(|j| chars[j]);
                prop_assert!(
                    keep_joiner(c, prev, chars.get(i + 1).copied()),
                    "stray joiner in {:?}",
                    out
                );
            }
            if is_tag(c) {
                prop_assert!(out.contains('\u{1F3F4}'), "stray tag in {:?}", out);
            }
            if is_variation_selector(c) {
                prop_assert!(
                    i > 0 && !is_variation_selector(chars[i - 1]) && !is_joiner(chars[i - 1])
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn sanitize_is_clean_and_idempotent(s in hostile_string()) {
            let once = sanitize(&s);
            check_clean(&once)?;
            prop_assert_eq!(sanitize(&once), once.clone());
            let inline = sanitize_inline(&s);
            check_clean(&inline)?;
            prop_assert!(!inline.contains('\n'));
            prop_assert_eq!(sanitize_inline(&inline), inline);
        }

        #[test]
        fn sanitize_never_panics_on_any_string(s in any::<String>()) {
            let once = sanitize(&s);
            check_clean(&once)?;
            prop_assert_eq!(sanitize(&once), once);
        }

        #[test]
        fn bounded_sanitize_respects_its_bound(s in hostile_string(), limit in 0usize..200) {
            let out = sanitize_with_limit(&s, limit);
            prop_assert!(out.len() <= limit);
            prop_assert_eq!(sanitize_with_limit(&out, limit), out.clone());
            check_clean(&out)?;
        }
    }
}
