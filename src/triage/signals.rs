//! The signals the model combines that are not learned: VADER's scores, the English check and
//! the kind of post from its cues. Here, not in `triage/mod.rs`, so that `model.rs` imports them
//! without importing the module that re-exports it.

use super::lexicon::{Cue, CueClass};
use crate::domain::{FeedbackKind, SentimentLabel};
use std::sync::OnceLock;

/// VADER's neg, neu, pos and compound scores.
pub fn vader_scores(text: &str) -> [f64; 4] {
    static ANALYZER: OnceLock<vader_sentiment::SentimentIntensityAnalyzer<'static>> =
        OnceLock::new();
    let analyzer = ANALYZER.get_or_init(vader_sentiment::SentimentIntensityAnalyzer::new);
    // Long texts are scored on their start: tone shows early, and VADER is quadratic-ish.
    let sample: String = text.chars().take(2000).collect();
    std::panic::catch_unwind(|| {
        let s = analyzer.polarity_scores(&sample);
        let g = |k: &str| s.get(k).copied().unwrap_or(0.0);
        [g("neg"), g("neu"), g("pos"), g("compound").clamp(-1.0, 1.0)]
    })
    .unwrap_or([0.0, 1.0, 0.0, 0.0])
}

/// English function words: a post with none of them among several words is not English.
const ENGLISH: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "to", "of", "in", "on", "at", "for", "with", "from",
    "is", "are", "was", "were", "be", "been", "it", "its", "it's", "this", "that", "i", "i'm",
    "my", "me", "you", "your", "we", "our", "they", "not", "no", "do", "don't", "did", "have",
    "has", "had", "can", "can't", "will", "why", "what", "how", "when", "where", "who", "so",
    "just", "again", "still", "thanks", "thank", "please", "help", "hi", "hello", "yes", "ok",
    "if", "there",
];

/// True when the text looks like English (or has too few words to tell).
pub fn looks_english(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if letters == 0 {
        return true;
    }
    let latin = text.chars().filter(|c| c.is_ascii_alphabetic()).count();
    if (latin as f64) < 0.6 * letters as f64 {
        return false;
    }
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| w.chars().any(|c| c.is_alphabetic()))
        .filter(|w| !w.starts_with('@'))
        .map(|w| w.to_lowercase())
        .collect();
    // Short posts ("worst kettle ever, awful") are too short to judge by function words.
    if words.len() < 6 {
        return true;
    }
    let hits = words
        .iter()
        .filter(|w| ENGLISH.contains(&w.as_str()))
        .count();
    hits * 10 >= words.len()
}

/// The kind of post, from the label and the cues found.
pub fn kind_of(text: &str, label: SentimentLabel, cues: &[Cue]) -> FeedbackKind {
    let has = |c: CueClass| cues.iter().any(|x| x.class == c);
    if has(CueClass::Tip) && !has(CueClass::FirstPersonProblem) {
        return FeedbackKind::Tip;
    }
    let question = text.contains('?') || has(CueClass::Question);
    match label {
        SentimentLabel::Negative => FeedbackKind::Complaint,
        SentimentLabel::Positive if !question => FeedbackKind::Praise,
        _ if has(CueClass::Complaint) || has(CueClass::Sarcasm) => FeedbackKind::Complaint,
        _ if question => FeedbackKind::Question,
        SentimentLabel::Positive => FeedbackKind::Praise,
        SentimentLabel::Neutral => FeedbackKind::Other,
    }
}
