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
mod outcome;
mod signals;

pub use lexicon::{detect_urgency, Cue, CueClass};
pub use model::{Example, Features, Model, ModelConfig, OrgModel, TrainReport};
pub use outcome::Triage;
pub use signals::{kind_of, looks_english, vader_scores};

use std::sync::OnceLock;

/// The shipped model file, produced by the training example.
pub const BUILTIN_MODEL: &str = include_str!("../../triage/model.json");

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

#[cfg(test)]
mod tests;
