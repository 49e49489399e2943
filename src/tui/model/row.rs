//! One item of the stream as the console keeps it: the feedback, cleaned once, and what the filter searches.

use crate::domain::Feedback;

/// An item of the stream and its lower-cased search text.
#[derive(Debug, Clone)]
pub struct Row {
    pub fb: Feedback,
    pub(crate) hay: String,
    /// Which ASCII letters and digits occur in `hay` (see `char_set`): a row lacking one of
    /// the filter's characters is skipped without searching its text.
    pub(super) chars: u64,
    pub seen: bool,
}

/// A 64-bit set of the ASCII letters and digits in `s` (bit 0-25 a-z, 26-35 0-9). With 100,000
/// rows, filtering is mostly skipping rows that cannot match: one AND each instead of a search.
pub(crate) fn char_set(s: &str) -> u64 {
    s.bytes().fold(0, |set, b| match b {
        b'a'..=b'z' => set | 1 << (b - b'a'),
        b'0'..=b'9' => set | 1 << (26 + b - b'0'),
        _ => set,
    })
}

impl Row {
    pub(super) fn new(fb: Feedback) -> Row {
        let hay = haystack(&fb);
        Row {
            fb,
            chars: char_set(&hay),
            hay,
            seen: false,
        }
    }
}

pub(crate) fn haystack(fb: &Feedback) -> String {
    let mut h = String::with_capacity(fb.text.len() + 64);
    for part in [
        fb.author.handle.as_str(),
        fb.author.display_name.as_str(),
        fb.channel.as_str(),
        fb.department.as_str(),
        fb.assignee.as_deref().unwrap_or(""),
        fb.status.as_str(),
        fb.text.as_str(),
    ] {
        h.push_str(&part.to_lowercase());
        h.push('\u{1}');
    }
    h
}
