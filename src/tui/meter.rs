//! The composer's per-channel length meter: X's weighted count (URL = 23, CJK and emoji = 2),
//! SMS segments (160/153 GSM-7, 70/67 UCS-2), graphemes elsewhere. The rule engine has the
//! authoritative counters (the server enforces them); this meter is what the agent sees while
//! typing.

use crate::domain::{Channel, Visibility};
use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    /// e.g. "x 42/280", "sms 1 seg (42/160)", "98 chars".
    pub label: String,
    pub over: bool,
}

/// X's weighted length (twitter-text v3 configuration, emoji counted as 2).
pub fn x_weighted(text: &str) -> usize {
    let mut total = 0;
    for token in text.split_inclusive(char::is_whitespace) {
        let word = token.trim_end_matches(char::is_whitespace);
        let trailing = &token[word.len()..];
        if is_url(word) {
            total += 23 + weigh(trailing);
        } else {
            total += weigh(token);
        }
    }
    total
}

fn is_url(w: &str) -> bool {
    let w = w.trim_start_matches(['(', '"', '\'']);
    (w.starts_with("https://") || w.starts_with("http://") || w.starts_with("www.")) && w.len() > 8
}

fn weigh(s: &str) -> usize {
    s.graphemes(true)
        .map(|g| {
            let c = g.chars().next().unwrap_or(' ');
            if is_emoji(c) {
                2
            } else {
                g.chars().map(|c| if light(c) { 1 } else { 2 }).sum()
            }
        })
        .sum()
}

fn light(c: char) -> bool {
    matches!(c as u32, 0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247)
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF)
}

const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXT: &str = "^{}\\[~]|€\u{c}";

/// (units used, segments, units per segment) of an SMS.
pub fn sms_segments(text: &str) -> (usize, usize, usize) {
    let gsm = text
        .chars()
        .all(|c| GSM7.contains(c) || GSM7_EXT.contains(c));
    let (units, single, multi) = if gsm {
        (
            text.chars()
                .map(|c| if GSM7_EXT.contains(c) { 2 } else { 1 })
                .sum(),
            160,
            153,
        )
    } else {
        (text.encode_utf16().count(), 70, 67)
    };
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    (units, segments, if segments > 1 { multi } else { single })
}

/// The limit of a reply on a channel and visibility, where the network sets one.
fn limit(channel: Channel, visibility: Visibility) -> Option<usize> {
    match (channel, visibility) {
        (Channel::Facebook, Visibility::Public) => Some(8000),
        (Channel::Instagram, Visibility::Public) => Some(2200),
        (Channel::Instagram, Visibility::Direct) => Some(1000),
        (Channel::Linkedin, Visibility::Public) => Some(1250),
        (Channel::Whatsapp, _) => Some(4096),
        (Channel::Review, _) => Some(4096),
        (Channel::X, Visibility::Direct) => Some(10000),
        _ => None,
    }
}

/// The meter for a part that goes out on `channel`.
pub fn meter(channel: Channel, visibility: Visibility, text: &str) -> Meter {
    match (channel, visibility) {
        (Channel::X, Visibility::Public) => {
            let n = x_weighted(text);
            Meter {
                label: format!("x {n}/280"),
                over: n > 280,
            }
        }
        (Channel::Sms, _) => {
            let (units, segs, per) = sms_segments(text);
            Meter {
                label: format!("sms {segs} seg ({units}/{per})"),
                over: segs > 6,
            }
        }
        _ => {
            let n = text.graphemes(true).count();
            match limit(channel, visibility) {
                Some(max) => Meter {
                    label: format!("{channel} {n}/{max}"),
                    over: n > max,
                },
                None => Meter {
                    label: format!("{n} chars"),
                    over: false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_counts_urls_cjk_and_emoji() {
        assert_eq!(x_weighted("hello"), 5);
        assert_eq!(
            x_weighted("see https://example.com/a/very/long/path/indeed ok"),
            4 + 23 + 3
        );
        assert_eq!(x_weighted("日本"), 4);
        assert_eq!(x_weighted("👍"), 2);
        assert_eq!(x_weighted("👩‍👩‍👧"), 2);
        assert!(meter(Channel::X, Visibility::Public, &"a".repeat(281)).over);
        assert!(!meter(Channel::X, Visibility::Public, &"a".repeat(280)).over);
    }

    #[test]
    fn sms_segments_follow_gsm7_and_ucs2() {
        assert_eq!(sms_segments(&"a".repeat(160)), (160, 1, 160));
        assert_eq!(sms_segments(&"a".repeat(161)), (161, 2, 153));
        assert_eq!(sms_segments("€"), (2, 1, 160));
        assert_eq!(sms_segments(&"é".repeat(10)), (10, 1, 160));
        assert_eq!(sms_segments(&"ł".repeat(71)), (71, 2, 67));
        assert_eq!(sms_segments(""), (0, 0, 160));
        assert_eq!(
            meter(Channel::Sms, Visibility::Direct, "hi").label,
            "sms 1 seg (2/160)"
        );
    }

    #[test]
    fn other_channels_count_graphemes() {
        assert_eq!(
            meter(Channel::Email, Visibility::Direct, "héllo").label,
            "5 chars"
        );
        assert_eq!(
            meter(Channel::Linkedin, Visibility::Public, "abc").label,
            "linkedin 3/1250"
        );
    }
}
