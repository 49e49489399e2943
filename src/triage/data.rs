//! The labelled development set (`triage/data/airline.tsv`, see its README) and its
//! deterministic split: by a hash of the text, 60% train, 20% dev, 20% test.

use super::model::Example;
use crate::domain::SentimentLabel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Dev,
    Test,
}

fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The split a text belongs to: FNV-1a of the text, modulo 10.
pub fn split_of(text: &str) -> Split {
    match fnv1a(text.bytes()) % 10 {
        0..=5 => Split::Train,
        6 | 7 => Split::Dev,
        _ => Split::Test,
    }
}

/// The labelled set of the source tree (`triage/data/airline.tsv`), read and parsed: for the
/// training, evaluation and benchmark tools, which run from a checkout.
pub fn read_labelled_set() -> Result<Vec<(Split, Example)>, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/triage/data/airline.tsv");
    let source = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    parse_tsv(&source)
}

/// Parse the TSV (id, sentiment, negativereason, text) into examples with their split.
pub fn parse_tsv(source: &str) -> Result<Vec<(Split, Example)>, String> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.splitn(4, '\t').collect();
        if cols.len() != 4 {
            return Err(format!("line {}: expected 4 columns", n + 1));
        }
        let label: SentimentLabel = cols[1]
            .parse()
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        let complaint =
            label == SentimentLabel::Negative && !cols[2].is_empty() && cols[2] != "Can't Tell";
        let text = cols[3].to_string();
        out.push((
            split_of(&text),
            Example {
                text,
                label,
                complaint,
            },
        ));
    }
    Ok(out)
}

/// Examples in the order an organisation's agents correct them in the simulations: a fixed
/// shuffle (the file is grouped by airline), by a hash of the text salted apart from the split's.
pub fn correction_order(mut examples: Vec<Example>) -> Vec<Example> {
    examples.sort_by_cached_key(|e| fnv1a(b"corrections:".iter().copied().chain(e.text.bytes())));
    examples
}

/// The examples of one split.
pub fn only(all: &[(Split, Example)], split: Split) -> Vec<Example> {
    all.iter()
        .filter(|(s, _)| *s == split)
        .map(|(_, e)| e.clone())
        .collect()
}
