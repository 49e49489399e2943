//! The composer's per-channel length meter: X's weighted count (URL = 23, CJK and emoji = 2),
//! SMS segments (160/153 GSM-7, 70/67 UCS-2), graphemes elsewhere. X and SMS use the rule
//! engine's counters, so the meter agrees with what the server enforces.

use crate::domain::{Channel, Visibility};
use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    /// e.g. "x 42/280", "sms 1 seg (42/160)", "98 chars".
    pub label: String,
    pub over: bool,
}

/// X's weighted length (twitter-text v3, as the rule engine and the server count it).
pub fn x_weighted(text: &str) -> usize {
    crate::rules::x_weighted(text).weighted_length
}

/// (units used, segments, units per segment) of an SMS (GSM-7 160/153, UCS-2 70/67).
pub fn sms_segments(text: &str) -> (usize, usize, usize) {
    let c = crate::rules::sms_segments(text);
    let (single, multi) = match c.encoding {
        crate::rules::SmsEncoding::Gsm7 => (160, 153),
        crate::rules::SmsEncoding::Ucs2 => (70, 67),
    };
    (
        c.units,
        c.segments,
        if c.segments > 1 { multi } else { single },
    )
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
