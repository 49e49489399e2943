//! The linear model: features, scoring, SGD training and online learning, and its file format.

// The maths runs over the three classes by index, in several arrays at once.
#![allow(clippy::needless_range_loop)]

use super::lexicon::{detect_urgency, find_cues, normalise, Cue, CueClass};
use super::outcome::Triage;
use super::signals::{kind_of, looks_english, vader_scores};
use crate::domain::{FeedbackKind, SentimentLabel};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const LABELS: [SentimentLabel; 3] = [
    SentimentLabel::Negative,
    SentimentLabel::Neutral,
    SentimentLabel::Positive,
];

pub fn label_index(l: SentimentLabel) -> usize {
    match l {
        SentimentLabel::Negative => 0,
        SentimentLabel::Neutral => 1,
        SentimentLabel::Positive => 2,
    }
}

/// Hyper-parameters, saved with the weights so that scoring extracts the same features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Hashed feature space of 2^bits.
    pub bits: u32,
    pub char_ngrams: bool,
    pub learning_rate: f32,
    pub l2: f32,
    pub epochs: u32,
    /// Scale of the lexicon priors.
    pub prior_scale: f32,
    /// Added to the class scores at decision time, tuned on the dev split.
    pub decision_offset: [f32; 3],
    /// Learning rate of agents' corrections.
    pub online_rate: f32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            bits: 18,
            char_ngrams: false,
            learning_rate: 0.1,
            l2: 1e-3,
            epochs: 12,
            prior_scale: 1.0,
            decision_offset: [0.0; 3],
            online_rate: 0.05,
        }
    }
}

/// The features of one text: hashed indices with values, and their names (for the cues).
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub items: Vec<(u32, f32)>,
    pub names: Vec<String>,
    pub cues: Vec<Cue>,
    pub english: bool,
}

/// A labelled text.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub label: SentimentLabel,
    /// A negative that names a concrete problem (the dataset's reason is not "Can't Tell").
    pub complaint: bool,
}

fn fnv(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// English function words: weighty for the model, meaningless as a reason shown to an agent.
const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "i'm",
    "if", "in", "into", "is", "it", "it's", "its", "just", "me", "my", "of", "on", "or", "our",
    "out", "over", "she", "so", "some", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "to", "too", "up", "us", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
    "you're", "yours",
];

/// Whether a word or word pair (as the features name them) can be shown as a reason: no
/// placeholder ("<num>", "<url>": the word alone says it better), and at least one word that is
/// not a function word.
pub(crate) fn explains(words: &str) -> bool {
    !words.split(' ').any(|w| w.starts_with('<'))
        && words
            .split(' ')
            .any(|w| !(FUNCTION_WORDS.contains(&w) || w.len() < 2))
}

fn tokens(normalised: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in normalised.split_whitespace() {
        if raw.starts_with('@') {
            continue;
        }
        if raw.starts_with("http://") || raw.starts_with("https://") || raw.starts_with("www.") {
            out.push("<url>".to_string());
            continue;
        }
        for piece in raw.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
            let piece = piece.trim_matches('\'');
            if piece.is_empty() {
                continue;
            }
            if piece.chars().all(|c| c.is_ascii_digit()) {
                out.push("<num>".to_string());
            } else {
                out.push(piece.to_string());
            }
        }
        if raw.contains('?') {
            out.push("<?>".to_string());
        }
        if raw.contains('!') {
            out.push("<!>".to_string());
        }
    }
    out
}

/// Serialised model: sparse weights, rounded.
#[derive(Serialize, Deserialize)]
struct ModelFile {
    format: String,
    config: ModelConfig,
    trained_on: String,
    bias: [f32; 3],
    /// [index, negative, neutral, positive]
    weights: Vec<(u32, f32, f32, f32)>,
}

const FORMAT: &str = "earshot-triage-1";

#[derive(Debug, Clone)]
pub struct Model {
    pub config: ModelConfig,
    pub trained_on: String,
    pub bias: [f32; 3],
    pub weights: HashMap<u32, [f32; 3]>,
    priors: HashMap<u32, [f32; 3]>,
}

/// Figures of a model on a labelled split.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Share of complaints (negatives with a concrete reason) scored positive.
    pub complaints_positive: f64,
}

impl TrainReport {
    pub fn of(golds: &[SentimentLabel], preds: &[SentimentLabel], complaints: &[bool]) -> Self {
        let n = golds.len();
        let correct = golds.iter().zip(preds).filter(|(g, p)| g == p).count();
        let mut f1s = 0.0;
        for l in LABELS {
            let tp = golds
                .iter()
                .zip(preds)
                .filter(|(g, p)| **g == l && **p == l)
                .count() as f64;
            let fp = golds
                .iter()
                .zip(preds)
                .filter(|(g, p)| **g != l && **p == l)
                .count() as f64;
            let fneg = golds
                .iter()
                .zip(preds)
                .filter(|(g, p)| **g == l && **p != l)
                .count() as f64;
            let prec = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
            let rec = if tp + fneg > 0.0 {
                tp / (tp + fneg)
            } else {
                0.0
            };
            f1s += if prec + rec > 0.0 {
                2.0 * prec * rec / (prec + rec)
            } else {
                0.0
            };
        }
        let total_c = complaints.iter().filter(|c| **c).count();
        let pos_c = complaints
            .iter()
            .zip(preds)
            .filter(|(c, p)| **c && **p == SentimentLabel::Positive)
            .count();
        TrainReport {
            n,
            accuracy: if n > 0 {
                correct as f64 / n as f64
            } else {
                0.0
            },
            macro_f1: f1s / 3.0,
            complaints_positive: if total_c > 0 {
                pos_c as f64 / total_c as f64
            } else {
                0.0
            },
        }
    }
}

fn softmax(z: [f32; 3]) -> [f64; 3] {
    let m = z[0].max(z[1]).max(z[2]);
    let e = [
        ((z[0] - m) as f64).exp(),
        ((z[1] - m) as f64).exp(),
        ((z[2] - m) as f64).exp(),
    ];
    let s = e[0] + e[1] + e[2];
    [e[0] / s, e[1] / s, e[2] / s]
}

impl Model {
    /// A model with no training: the lexicon priors only.
    pub fn untrained(config: ModelConfig) -> Model {
        let mut m = Model {
            config,
            trained_on: String::new(),
            bias: [0.0; 3],
            weights: HashMap::new(),
            priors: HashMap::new(),
        };
        for class in CueClass::ALL {
            let idx = m.index(&format!("class:{}", class.name()));
            let p = class.prior();
            let s = m.config.prior_scale;
            m.priors.insert(idx, [p[0] * s, p[1] * s, p[2] * s]);
        }
        m.weights = m.priors.clone();
        m
    }

    fn index(&self, name: &str) -> u32 {
        fnv(name) & ((1u32 << self.config.bits) - 1)
    }

    pub fn from_json(source: &str) -> Result<Model, String> {
        let file: ModelFile = serde_json::from_str(source).map_err(|e| e.to_string())?;
        if file.format != FORMAT {
            return Err(format!("unknown model format '{}'", file.format));
        }
        if !(8..=24).contains(&file.config.bits) {
            return Err(format!("bits {} out of range", file.config.bits));
        }
        let mut m = Model::untrained(file.config);
        m.trained_on = file.trained_on;
        m.bias = file.bias;
        m.weights = file
            .weights
            .into_iter()
            .map(|(i, a, b, c)| (i, [a, b, c]))
            .collect();
        Ok(m)
    }

    pub fn to_json(&self) -> String {
        let r = |x: f32| (x * 10_000.0).round() / 10_000.0;
        let mut weights: Vec<(u32, f32, f32, f32)> = self
            .weights
            .iter()
            .map(|(i, w)| (*i, r(w[0]), r(w[1]), r(w[2])))
            .filter(|(_, a, b, c)| *a != 0.0 || *b != 0.0 || *c != 0.0)
            .collect();
        weights.sort_by_key(|w| w.0);
        let file = ModelFile {
            format: FORMAT.to_string(),
            config: self.config.clone(),
            trained_on: self.trained_on.clone(),
            bias: [r(self.bias[0]), r(self.bias[1]), r(self.bias[2])],
            weights,
        };
        serde_json::to_string(&file).expect("a model serialises")
    }

    /// The features of a text.
    pub fn features(&self, text: &str) -> Features {
        let norm = normalise(text);
        let english = looks_english(text);
        let mut f = Features {
            english,
            ..Features::default()
        };
        let push = |f: &mut Features, name: String, v: f32| {
            f.items.push((self.index(&name), v));
            f.names.push(name);
        };
        let toks = tokens(&norm);
        for t in &toks {
            push(&mut f, format!("w:{t}"), 1.0);
        }
        for pair in toks.windows(2) {
            push(&mut f, format!("b:{} {}", pair[0], pair[1]), 1.0);
        }
        if self.config.char_ngrams {
            for t in &toks {
                let cs: Vec<char> = format!("<{t}>").chars().collect();
                for w in cs.windows(3) {
                    let s: String = w.iter().collect();
                    push(&mut f, format!("c:{s}"), 0.3);
                }
            }
        }
        let v = vader_scores(text);
        push(&mut f, "vader:neg".to_string(), v[0] as f32);
        push(&mut f, "vader:pos".to_string(), v[2] as f32);
        push(&mut f, "vader:compound+".to_string(), v[3].max(0.0) as f32);
        push(
            &mut f,
            "vader:compound-".to_string(),
            (-v[3]).max(0.0) as f32,
        );
        let cues = find_cues(&norm);
        let mut classes: Vec<CueClass> = Vec::new();
        for c in &cues {
            push(&mut f, format!("cue:{}", c.phrase), 1.0);
            if !classes.contains(&c.class) {
                classes.push(c.class);
            }
        }
        for class in classes {
            push(&mut f, format!("class:{}", class.name()), 1.0);
        }
        f.cues = cues;
        f
    }

    fn weight(&self, i: u32) -> [f32; 3] {
        self.weights.get(&i).copied().unwrap_or([0.0; 3])
    }

    fn raw_scores(&self, f: &Features, delta: Option<&Delta>) -> [f32; 3] {
        let mut z = self.bias;
        if let Some(d) = delta {
            for k in 0..3 {
                z[k] += d.bias[k];
            }
        }
        for (i, v) in &f.items {
            let w = self.weight(*i);
            let dw = delta
                .and_then(|d| d.weights.get(i).copied())
                .unwrap_or([0.0; 3]);
            for k in 0..3 {
                z[k] += (w[k] + dw[k]) * v;
            }
        }
        z
    }

    /// Class probabilities, with the tuned decision offsets.
    pub fn probabilities(&self, f: &Features) -> [f64; 3] {
        self.probabilities_with(f, None)
    }

    fn probabilities_with(&self, f: &Features, delta: Option<&Delta>) -> [f64; 3] {
        let mut z = self.raw_scores(f, delta);
        for k in 0..3 {
            z[k] += self.config.decision_offset[k];
        }
        softmax(z)
    }

    pub fn predict(&self, f: &Features) -> SentimentLabel {
        decide(self.probabilities(f))
    }

    /// Triage of one text.
    pub fn classify(&self, text: &str) -> Triage {
        self.classify_with(text, None)
    }

    fn classify_with(&self, text: &str, delta: Option<&Delta>) -> Triage {
        let f = self.features(text);
        let urgency = detect_urgency(text);
        if !f.english {
            // Our lexicon and weights are English: say so rather than guess.
            return Triage {
                label: SentimentLabel::Neutral,
                confidence: 0.34,
                probs: [0.33, 0.34, 0.33],
                kind: FeedbackKind::Other,
                urgency,
                cues: vec!["not English: neutral, low confidence".to_string()],
            };
        }
        let probs = self.probabilities_with(&f, delta);
        let mut label = decide(probs);
        let mut kind = kind_of(text, label, &f.cues);
        let mut cues = self.deciding_cues(&f, label, delta);
        if kind == FeedbackKind::Tip && label == SentimentLabel::Negative {
            // A helper's answer names the problem it solves; it is not a complaint.
            label = SentimentLabel::Neutral;
            kind = FeedbackKind::Tip;
            cues.insert(0, "a helper's tip, not a complaint".to_string());
        }
        let confidence = probs[label_index(label)];
        Triage {
            label,
            confidence,
            probs,
            kind,
            urgency,
            cues,
        }
    }

    /// The features that pushed hardest towards `label` against the runner-up, as readable cues.
    fn deciding_cues(
        &self,
        f: &Features,
        label: SentimentLabel,
        delta: Option<&Delta>,
    ) -> Vec<String> {
        let k = label_index(label);
        let mut scored: Vec<(f32, &str)> = f
            .items
            .iter()
            .zip(&f.names)
            .map(|((i, v), name)| {
                let mut w = self.weight(*i);
                if let Some(dw) = delta.and_then(|d| d.weights.get(i)) {
                    for c in 0..3 {
                        w[c] += dw[c];
                    }
                }
                let other = (0..3)
                    .filter(|c| *c != k)
                    .map(|c| w[c])
                    .fold(f32::MIN, f32::max);
                ((w[k] - other) * v, name.as_str())
            })
            .filter(|(s, _)| *s > 0.05)
            .collect();
        // The care lexicon's phrases say most to an agent, so they come first; then words and
        // word pairs by weight. Function words ("the", "with") and placeholders ("<num>") carry
        // weight in the model but explain nothing to a person, so they are never shown.
        scored.sort_by(|a, b| {
            let lexicon = |n: &str| n.starts_with("cue:") || n.starts_with("class:");
            lexicon(b.1).cmp(&lexicon(a.1)).then(b.0.total_cmp(&a.0))
        });
        let mut out: Vec<String> = Vec::new();
        for (_, name) in scored {
            let pretty = if let Some(p) = name.strip_prefix("cue:") {
                format!("\"{p}\"")
            } else if let Some(c) = name.strip_prefix("class:") {
                format!("{c} cue")
            } else if let Some(w) = name.strip_prefix("w:").or_else(|| name.strip_prefix("b:")) {
                if !explains(w) {
                    continue;
                }
                w.to_string()
            } else if name.starts_with("vader:") {
                "VADER tone".to_string()
            } else {
                continue;
            };
            if !out.contains(&pretty) {
                out.push(pretty);
            }
            if out.len() == 4 {
                break;
            }
        }
        out
    }

    /// One SGD step of cross-entropy on `f` towards `label`, on the weights and bias themselves,
    /// with L2 towards the lexicon priors on the active features.
    pub fn sgd_step(&mut self, f: &Features, label: SentimentLabel, lr: f32) {
        let p = softmax(self.raw_scores(f, None));
        let y = label_index(label);
        let l2 = self.config.l2;
        for k in 0..3 {
            let g = p[k] as f32 - if k == y { 1.0 } else { 0.0 };
            self.bias[k] -= lr * g;
        }
        for (i, v) in &f.items {
            let prior = self.priors.get(i).copied().unwrap_or([0.0; 3]);
            let w = self.weights.entry(*i).or_insert(prior);
            for k in 0..3 {
                let g = p[k] as f32 - if k == y { 1.0 } else { 0.0 };
                w[k] -= lr * (g * v + l2 * (w[k] - prior[k]));
            }
        }
    }

    /// Train from the priors on `examples` (deterministic order for a given seed).
    pub fn train(config: ModelConfig, examples: &[Example], trained_on: &str) -> Model {
        let mut m = Model::untrained(config);
        m.trained_on = trained_on.to_string();
        let feats: Vec<Features> = examples.iter().map(|e| m.features(&e.text)).collect();
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for epoch in 0..m.config.epochs {
            // Fisher-Yates with xorshift: the same model every run.
            for i in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            let lr = m.config.learning_rate / (1.0 + epoch as f32 * 0.5);
            for &i in &order {
                m.sgd_step(&feats[i], examples[i].label, lr);
            }
        }
        m
    }

    /// Figures on a labelled split.
    pub fn evaluate(&self, examples: &[Example]) -> TrainReport {
        let preds: Vec<SentimentLabel> = examples
            .iter()
            .map(|e| self.classify(&e.text).label)
            .collect();
        let golds: Vec<SentimentLabel> = examples.iter().map(|e| e.label).collect();
        let complaints: Vec<bool> = examples.iter().map(|e| e.complaint).collect();
        TrainReport::of(&golds, &preds, &complaints)
    }
}

fn decide(p: [f64; 3]) -> SentimentLabel {
    let mut best = 0;
    for k in 1..3 {
        if p[k] > p[best] {
            best = k;
        }
    }
    LABELS[best]
}

/// What an organisation's corrections added to the built-in weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub bias: [f32; 3],
    pub weights: HashMap<u32, [f32; 3]>,
    /// Per feature and class, the sum of squared gradients so far (AdaGrad): a feature the
    /// corrections keep meeting takes ever smaller steps, a word new to the organisation a full
    /// one, so a few corrections teach a new word and thousands do not overturn the base.
    #[serde(default)]
    pub squares: HashMap<u32, [f32; 3]>,
}

/// An organisation's model: the built-in one plus what its agents' corrections taught it.
/// Each correction is scored before it is learned, so `accuracy()` is prequential: measured only
/// on corrections the model had not yet trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgModel {
    pub delta: Delta,
    pub corrections: u64,
    pub correct_before_learning: u64,
}

impl OrgModel {
    pub fn classify(&self, base: &Model, text: &str) -> Triage {
        if self.corrections == 0 {
            return base.classify(text);
        }
        base.classify_with(text, Some(&self.delta))
    }

    pub fn accuracy(&self) -> Option<f64> {
        (self.corrections > 0)
            .then(|| self.correct_before_learning as f64 / self.corrections as f64)
    }

    /// Learn one correction; returns what the model said before learning it.
    pub fn learn(&mut self, base: &Model, text: &str, label: SentimentLabel) -> SentimentLabel {
        let before = self.classify(base, text).label;
        self.corrections += 1;
        if before == label {
            self.correct_before_learning += 1;
        }
        let f = base.features(text);
        if !f.english {
            return before;
        }
        // The gradient of the scores themselves, as the base was trained: the decision offsets
        // are a choice made at decision time, and learning through them drifts the bias.
        let p = softmax(base.raw_scores(&f, Some(&self.delta)));
        let y = label_index(label);
        let lr = base.config.online_rate;
        for k in 0..3 {
            let g = p[k] as f32 - if k == y { 1.0 } else { 0.0 };
            self.delta.bias[k] -= lr * g * 0.1;
        }
        for (i, v) in &f.items {
            let w = self.delta.weights.entry(*i).or_insert([0.0; 3]);
            let sq = self.delta.squares.entry(*i).or_insert([0.0; 3]);
            for k in 0..3 {
                let g = (p[k] as f32 - if k == y { 1.0 } else { 0.0 }) * v;
                sq[k] += g * g;
                w[k] -= lr * g / (sq[k].sqrt() + 1e-6);
            }
        }
        before
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an org model serialises")
    }

    pub fn from_json(s: &str) -> Result<OrgModel, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }
}
