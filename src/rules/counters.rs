//! Length as each channel counts it: X's weighted length, SMS segments, grapheme clusters.
//!
//! Each counter returns the count and, when over a limit, the byte offset where the text stops
//! fitting, so that a violation can underline exactly the overflow.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// X's count of a post, per twitter-text's v3 configuration (URL = 23, CJK and emoji = 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct XCount {
    pub weighted_length: usize,
    /// What X would accept: within the limit, not empty, no invalid characters.
    pub valid: bool,
    /// Byte offset of the first character beyond the limit, when over it.
    pub overflow_at: Option<usize>,
}

/// Counts `text` the way X does, against X's own limit of 280.
pub fn x_weighted(text: &str) -> XCount {
    x_weighted_with_max(text, 280)
}

/// The `twitter-text` crate implements X's counting (URL recognition with the real TLD list,
/// emoji sequences, NFC) and ships the conformance data we test against; the limit is ours.
pub(crate) fn x_weighted_with_max(text: &str, max: usize) -> XCount {
    let mut config = twitter_text_config::config_v3().clone();
    config.max_weighted_tweet_length = i32::try_from(max).unwrap_or(i32::MAX);
    // NFC first, as X counts normalised text (and see `parser_safe` for why we do it ourselves).
    let normalized: String = unicode_normalization::UnicodeNormalization::nfc(text).collect();
    let safe = parser_safe(&normalized);
    let Some(parsed) = contained(|| twitter_text::parse(&safe, &config, true)) else {
        return x_weighted_fallback(text, max);
    };
    let weighted_length = usize::try_from(parsed.weighted_length).unwrap_or(0);
    let overflow_at = (weighted_length > max).then(|| {
        // The valid range is inclusive and in UTF-16 units of the NFC text; for text that is
        // not NFC the mapping is approximate, but always lands on a char boundary of ours.
        let end = usize::try_from(parsed.valid_text_range.end() + 1).unwrap_or(0);
        utf16_to_byte(text, end)
    });
    XCount {
        weighted_length,
        valid: parsed.is_valid,
        overflow_at,
    }
}

thread_local! {
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread runs a third-party call whose panics are caught and handled: a panic
/// hook (the console's, which restores the terminal) should stay quiet then.
pub fn panic_is_contained() -> bool {
    CONTAINED.with(|c| c.get())
}

/// Runs `f`, turning a panic into `None` (a check must never take the composer or a server
/// request down because a dependency choked on odd text).
fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    CONTAINED.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(false));
    result.ok()
}

/// X's weights without twitter-text, for the rare text it cannot parse: code points in X's
/// light ranges weigh 1, others 2, an emoji sequence 2; URLs are not recognised.
fn x_weighted_fallback(text: &str, max: usize) -> XCount {
    let mut weighted = 0;
    let mut overflow_at = None;
    for (i, g) in text.grapheme_indices(true) {
        let emoji = g.chars().count() > 1 && g.chars().any(|c| u32::from(c) >= 0x1F000);
        weighted += if emoji {
            2
        } else {
            g.chars().map(|c| if is_light(c) { 1 } else { 2 }).sum()
        };
        if weighted > max && overflow_at.is_none() {
            overflow_at = Some(i);
        }
    }
    XCount {
        weighted_length: weighted,
        valid: weighted > 0 && weighted <= max,
        overflow_at,
    }
}

/// X's v3 ranges of weight 1 (everything else weighs 2).
fn is_light(c: char) -> bool {
    matches!(u32::from(c), 0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037)
}

/// twitter-text 0.3 has byte-slicing bugs that panic on some text (found by fuzzing the server):
/// it normalises (NFC) and lowercases, then slices its input with offsets from the transformed
/// text ('ୟ' U+0B5F decomposes; 'Ⱥ' U+023A lowercases from two bytes to three), and it looks
/// two bytes back from an '@' for a legacy "RT" prefix, landing inside a preceding multi-byte
/// character. So the caller passes NFC text, and here (1) characters whose lowercase has another
/// length and (2) an '@' with a non-ASCII byte just before it are swapped for characters of the
/// same X weight and UTF-16 length that neither compose nor change case ('q', '一', '𝔸'). The
/// count is unchanged; only a mention after non-Latin text is no longer seen as one, which does
/// not change its weight. `contained` catches whatever remains.
fn parser_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unstable = |c: char| c.to_lowercase().map(char::len_utf8).sum::<usize>() != c.len_utf8();
    let risky_at = |i: usize, c: char| {
        matches!(c, '@' | '\u{ff20}')
            && text.as_bytes()[i.saturating_sub(3)..i]
                .iter()
                .any(|b| !b.is_ascii())
    };
    if !text
        .char_indices()
        .any(|(i, c)| unstable(c) || risky_at(i, c))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    text.char_indices()
        .map(
            |(i, c)| match (unstable(c) || risky_at(i, c), c.len_utf16(), is_light(c)) {
                (false, ..) => c,
                (true, 1, true) => 'q',
                (true, 1, false) => '\u{4e00}',
                (true, _, _) => '\u{1d538}',
            },
        )
        .collect::<String>()
        .into()
}

/// A bound that spares the full parse on every keystroke of a short post: no character weighs
/// more than its UTF-8 bytes (weight 2 starts at U+1100, three bytes), and only a URL (which needs
/// a dot) can weigh more than it is long, at most 23.
pub(crate) fn surely_fits_x(text: &str, max: usize) -> bool {
    let dots = text.bytes().filter(|&b| b == b'.').count();
    text.len() + 23 * dots <= max
}

#[cfg(test)]
mod case_tests {
    use super::*;

    #[test]
    fn letters_whose_lowercase_is_longer_do_not_panic_and_count_the_same() {
        // Found by the request-body fuzzer: this used to panic inside twitter-text.
        let text = "ȺC𑐈 ਲ਼<¥5%¥Ꜵ*A&6'y Ⅼk ".repeat(12);
        let count = x_weighted(&text);
        assert!(count.weighted_length > 280);
        assert!(text.is_char_boundary(count.overflow_at.unwrap()));
        assert_eq!(
            x_weighted("ȺȺ").weighted_length,
            x_weighted("aa").weighted_length
        );
        assert_eq!(x_weighted("İ").weighted_length, 1);
        let decomposing = "'𞲝Ά*aಇ¬𑿎Hh=𞥞*𛲗𰦣Mk\\𐖨ⁱ�ⴧୟ𝕂�𐳩ඏ#z𑂾&N6𞹤Dhg𑲭/ೊ𑊈Ѩ𐁓jOm/𝓂?!`𐺰ⷐ8".repeat(6);
        let count = x_weighted(&decomposing);
        assert!(decomposing.is_char_boundary(count.overflow_at.unwrap_or(0)));
        assert_eq!(
            x_weighted("Ⱥ\u{301}").weighted_length,
            x_weighted("q\u{301}").weighted_length
        );
        // A multi-byte character right before '@' (twitter-text's "RT@" check sliced into it).
        for text in ["直@acme", "𖿣@acme hello", "ì:@acme", "直RT:@acme"] {
            let count = x_weighted(text);
            assert!(count.weighted_length > 0 && count.valid, "{text}");
        }
        assert_eq!(x_weighted("直@acme").weighted_length, 7);
    }
}

fn utf16_to_byte(text: &str, units: usize) -> usize {
    let mut seen = 0;
    for (i, c) in text.char_indices() {
        if seen >= units {
            return i;
        }
        seen += c.len_utf16();
    }
    text.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsCount {
    pub encoding: SmsEncoding,
    /// GSM-7 septets (extension characters count 2) or UTF-16 code units.
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets of one character in GSM-7 (3GPP TS 23.038), or None if GSM-7 cannot carry it.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// One character outside GSM-7 switches the whole message to UCS-2.
fn sms_encoding(text: &str) -> SmsEncoding {
    if text.chars().all(|c| gsm7_septets(c).is_some()) {
        SmsEncoding::Gsm7
    } else {
        SmsEncoding::Ucs2
    }
}

fn sms_units(c: char, encoding: SmsEncoding) -> usize {
    match encoding {
        SmsEncoding::Gsm7 => gsm7_septets(c).unwrap_or(1),
        SmsEncoding::Ucs2 => c.len_utf16(),
    }
}

/// (single-segment capacity, per-segment capacity once concatenated): 160/153 or 70/67.
fn sms_capacity(encoding: SmsEncoding) -> (usize, usize) {
    match encoding {
        SmsEncoding::Gsm7 => (160, 153),
        SmsEncoding::Ucs2 => (70, 67),
    }
}

/// Segments an SMS takes: GSM-7 160 or 153 per part, UCS-2 70 or 67 per part.
pub fn sms_segments(text: &str) -> SmsCount {
    let encoding = sms_encoding(text);
    let units: usize = text.chars().map(|c| sms_units(c, encoding)).sum();
    let (single, multi) = sms_capacity(encoding);
    let segments = match units {
        0 => 0,
        u if u <= single => 1,
        u => u.div_ceil(multi),
    };
    SmsCount {
        encoding,
        units,
        segments,
    }
}

/// Byte offset of the first character that does not fit in `max_segments`.
pub(crate) fn sms_overflow(text: &str, max_segments: usize) -> Option<usize> {
    let encoding = sms_encoding(text);
    let (single, multi) = sms_capacity(encoding);
    let capacity = if max_segments <= 1 {
        single * max_segments
    } else {
        multi * max_segments
    };
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += sms_units(c, encoding);
        if used > capacity {
            return Some(i);
        }
    }
    None
}

/// (count, byte offset of the grapheme past `max`) in user-perceived characters.
pub(crate) fn graphemes(text: &str, max: usize) -> (usize, Option<usize>) {
    let mut overflow = None;
    let mut count = 0;
    for (i, _) in text.grapheme_indices(true) {
        if count == max {
            overflow = Some(i);
        }
        count += 1;
    }
    (count, overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// shared/ sits beside the repository (and beside the scratch crate's parent in development).
    fn conformance_file() -> PathBuf {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        [
            manifest.join("../shared"),
            manifest.join("../../shared"),
            PathBuf::from("/work/shared"),
        ]
        .into_iter()
        .map(|d| d.join("conformance/twitter-text-validate.yml"))
        .find(|p| p.exists())
        .expect("shared/conformance/twitter-text-validate.yml beside the repository")
    }

    #[derive(serde::Deserialize)]
    struct Case {
        description: String,
        text: String,
        expected: Expected,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Expected {
        weighted_length: usize,
        valid: bool,
    }

    #[test]
    fn x_counter_agrees_with_twitter_text_conformance() {
        let yaml = std::fs::read_to_string(conformance_file()).unwrap();
        let doc: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        let cases = doc["tests"]["WeightedTweetsWithDiscountedEmojiCounterTest"].clone();
        let cases: Vec<Case> = serde_norway::from_value(cases).unwrap();
        assert!(cases.len() >= 20, "the set has {} cases", cases.len());
        for case in &cases {
            let got = x_weighted(&case.text);
            assert_eq!(
                got.weighted_length, case.expected.weighted_length,
                "{}",
                case.description
            );
            assert_eq!(got.valid, case.expected.valid, "{}", case.description);
        }
    }

    #[test]
    fn the_quick_bound_never_claims_a_fit_that_is_not_one() {
        let yaml = std::fs::read_to_string(conformance_file()).unwrap();
        let doc: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        let mut texts = vec![
            "a.co".to_string(),
            "故人西辞".to_string(),
            "👨‍👩‍👧‍👦 x.io".to_string(),
        ];
        for set in [
            "WeightedTweetsCounterTest",
            "WeightedTweetsWithDiscountedEmojiCounterTest",
        ] {
            let cases: Vec<Case> = serde_norway::from_value(doc["tests"][set].clone()).unwrap();
            texts.extend(cases.into_iter().map(|c| c.text));
        }
        for text in &texts {
            let weight = x_weighted_with_max(text, 100_000).weighted_length;
            assert!(!surely_fits_x(text, weight.saturating_sub(1)), "{text}");
        }
    }

    #[test]
    fn x_overflow_is_a_char_boundary_after_the_limit() {
        let text = format!("{}😷😷", "a".repeat(279));
        let x = x_weighted(&text);
        assert_eq!(x.weighted_length, 283);
        assert_eq!(x.overflow_at, Some(279), "the first emoji does not fit");
        assert_eq!(
            x_weighted("Hi https://acme.com/a/very/long/path/that/counts/as/23").weighted_length,
            26
        );
        assert_eq!(x_weighted("故人").weighted_length, 4);
    }

    #[test]
    fn sms_gsm7_and_ucs2_segments() {
        let gsm = |n: usize| sms_segments(&"a".repeat(n));
        assert_eq!(
            (
                gsm(160).segments,
                gsm(161).segments,
                gsm(306).segments,
                gsm(307).segments
            ),
            (1, 2, 2, 3)
        );
        assert_eq!(gsm(10).encoding, SmsEncoding::Gsm7);
        // Extension characters take two septets.
        let ext = sms_segments(&format!("{}€", "a".repeat(158)));
        assert_eq!((ext.units, ext.segments), (160, 1));
        assert_eq!(sms_segments(&format!("{}€", "a".repeat(159))).segments, 2);
        // GSM-7 has é and Ä but not ç or emoji: UCS-2, 70 then 67.
        assert_eq!(sms_segments("Café Äpfel").encoding, SmsEncoding::Gsm7);
        let ucs = |n: usize| sms_segments(&format!("ç{}", "a".repeat(n - 1)));
        assert_eq!(
            (
                ucs(70).segments,
                ucs(71).segments,
                ucs(134).segments,
                ucs(135).segments
            ),
            (1, 2, 2, 3)
        );
        let emoji = sms_segments("😀");
        assert_eq!((emoji.encoding, emoji.units), (SmsEncoding::Ucs2, 2));
        assert_eq!(sms_segments("").segments, 0);
        assert_eq!(sms_overflow(&"a".repeat(200), 1), Some(160));
        assert_eq!(sms_overflow(&"a".repeat(200), 2), None);
    }

    #[test]
    fn graphemes_count_user_perceived_characters() {
        assert_eq!(graphemes("e\u{301}👨‍👩‍👧", 5), (2, None));
        assert_eq!(graphemes("abc", 2), (3, Some(2)));
    }
}
