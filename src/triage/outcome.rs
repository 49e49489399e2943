//! The result of triaging a post, in a file of its own so that `model.rs`, which produces it,
//! does not import it from `triage/mod.rs`, which re-exports the model.

use crate::domain::{FeedbackKind, SentimentLabel, UrgencyCue};

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
