//! Triage of customer-care posts: tone (negative / neutral / positive) with a confidence and the
//! cues that decided it, plus the kind of post (complaint, question, praise, tip) and urgency cues
//! (legal threat, cancellation, safety, repeated contact).
//!
//! VADER (the `vader_sentiment` crate) was built for general social text; in customer care
//! "please", "help", "thanks" and "want" are not praise, sarcasm is common and the phrases that
//! matter ("charged twice", "still waiting", "on hold") are not in its lexicon. This module layers
//! a care-specific linear model on it: multinomial logistic regression over hashed word unigrams
//! and bigrams, character trigrams (optional), VADER's scores and a care lexicon (`lexicon.rs`).
//! The lexicon cues start from prior weights and the data moves them (L2 pulls towards the prior,
//! not towards zero), so a cue the training data never shows still counts.
//!
//! The shipped weights (`triage/model.json`) are produced by `cargo run --release --example
//! train_triage` from `triage/data/airline.tsv`, and embedded with `include_str!`. The same
//! `Model::learn` step trains offline and learns agents' corrections online (`OrgModel`).
//!
//! Imports only `domain` (DESIGN.md §2).

pub mod data;
mod lexicon;
pub mod model;

pub use lexicon::{detect_urgency, Cue, CueClass};
pub use model::{Example, Features, Model, ModelConfig, OrgModel, TrainReport};

use crate::domain::{FeedbackKind, SentimentLabel, UrgencyCue};
use std::sync::OnceLock;

/// The shipped model file, produced by the training example.
pub const BUILTIN_MODEL: &str = include_str!("../../triage/model.json");

/// What triage says about one post.
#[derive(Debug, Clone, PartialEq)]
pub struct Triage {
    pub label: SentimentLabel,
    /// The probability of `label`, 0..=1.
    pub confidence: f64,
    /// Probabilities of negative, neutral, positive.
    pub probs: [f64; 3],
    pub kind: FeedbackKind,
    pub urgency: Vec<UrgencyCue>,
    /// The cues that pushed towards `label`, strongest first.
    pub cues: Vec<String>,
}

impl Triage {
    /// A score in -1..=1 whose `SentimentLabel::from_score` is `label`, for the numeric
    /// sentiment column (roles and trends use it): the signed confidence.
    pub fn score(&self) -> f64 {
        let c = self.confidence.clamp(0.06, 1.0);
        match self.label {
            SentimentLabel::Negative => -c,
            SentimentLabel::Positive => c,
            SentimentLabel::Neutral => (self.probs[2] - self.probs[0]).clamp(-0.049, 0.049),
        }
    }
}

/// The built-in model, parsed once from the embedded file.
pub fn builtin() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        // The file is produced by our own training code and checked by a test; a broken one is
        // a build defect, so failing loudly at first use is right.
        Model::from_json(BUILTIN_MODEL).expect("triage/model.json is a valid model")
    })
}

/// Triage with the built-in model.
pub fn classify(text: &str) -> Triage {
    builtin().classify(text)
}

/// VADER's compound score in -1..=1; a panic inside it on odd input is scored neutral.
pub fn vader_compound(text: &str) -> f64 {
    vader_scores(text)[3]
}

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

#[cfg(test)]
mod tests;
