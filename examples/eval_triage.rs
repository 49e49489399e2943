//! Evaluates the shipped triage model on the held-out test split of `triage/data/airline.tsv`,
//! against VADER alone on the same split, and times scoring and learning:
//!
//!     cargo run --release --example eval_triage
//!
//! Then simulates an organisation whose agents correct items: corrections from the train split
//! are learned online (scored before each is learned: prequential), and the organisation's model
//! is measured on the test split.

use earshot::domain::SentimentLabel;
use earshot::triage::data::{only, parse_tsv, Split};
use earshot::triage::{builtin, vader_compound, OrgModel, TrainReport};
use std::time::Instant;

fn show(name: &str, r: &TrainReport) {
    println!(
        "{name:<28} n={:<4} accuracy {:.3}  macro-F1 {:.3}  complaints scored positive {:.1}%",
        r.n,
        r.accuracy,
        r.macro_f1,
        r.complaints_positive * 100.0
    );
}

fn p(sorted: &[u128], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0
}

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let source =
        std::fs::read_to_string(format!("{root}/triage/data/airline.tsv")).expect("dataset");
    let all = parse_tsv(&source).expect("dataset parses");
    let test = only(&all, Split::Test);
    let train = only(&all, Split::Train);
    let golds: Vec<SentimentLabel> = test.iter().map(|e| e.label).collect();
    let complaints: Vec<bool> = test.iter().map(|e| e.complaint).collect();
    let vader: Vec<SentimentLabel> = test
        .iter()
        .map(|e| SentimentLabel::from_score(vader_compound(&e.text)))
        .collect();
    let always_negative = vec![SentimentLabel::Negative; test.len()];
    println!(
        "test split: {} posts, {} complaints",
        test.len(),
        complaints.iter().filter(|c| **c).count()
    );
    show(
        "always negative",
        &TrainReport::of(&golds, &always_negative, &complaints),
    );
    show("VADER alone", &TrainReport::of(&golds, &vader, &complaints));
    let model = builtin();
    show("care model (shipped)", &model.evaluate(&test));

    let texts: Vec<&str> = all.iter().map(|(_, e)| e.text.as_str()).collect();
    let mut times = Vec::new();
    for _ in 0..5 {
        for t in &texts {
            let start = Instant::now();
            std::hint::black_box(model.classify(t));
            times.push(start.elapsed().as_micros());
        }
    }
    times.sort_unstable();
    println!(
        "scoring: {} calls, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        p(&times, 0.5),
        p(&times, 0.99),
        p(&times, 1.0)
    );

    let mut org = OrgModel::default();
    let mut learn = Vec::new();
    for e in &train {
        let start = Instant::now();
        org.learn(model, &e.text, e.label);
        learn.push(start.elapsed().as_micros());
    }
    learn.sort_unstable();
    println!(
        "learning a correction: {} corrections, p50 {:.3} ms, p99 {:.3} ms",
        learn.len(),
        p(&learn, 0.5),
        p(&learn, 0.99)
    );
    println!(
        "organisation model after {} corrections from the train split: prequential accuracy {:.3}",
        org.corrections,
        org.accuracy().unwrap_or(0.0)
    );
    let preds: Vec<SentimentLabel> = test
        .iter()
        .map(|e| org.classify(model, &e.text).label)
        .collect();
    show(
        "organisation model on test",
        &TrainReport::of(&golds, &preds, &complaints),
    );
}
