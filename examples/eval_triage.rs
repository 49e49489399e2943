//! Evaluates the shipped triage model on the held-out test split of `triage/data/airline.tsv`,
//! against VADER alone on the same split, and times scoring and learning:
//!
//!     cargo run --release --example eval_triage
//!
//! Then simulates an organisation whose agents correct items: up to 5,000 corrections
//! (`EARSHOT_EVAL_CORRECTIONS`) of train and dev posts are learned online (each scored before it
//! is learned: prequential), with agents who label every item or who fix only the model's
//! mistakes, and the organisation's model is measured on the test split every 1,000 corrections.
//! Last, the size of the stored model and what (de)serialising it costs.

use earshot::domain::SentimentLabel;
use earshot::triage::data::{correction_order, only, read_labelled_set, Split};
use earshot::triage::{builtin, vader_compound, Example, OrgModel, TrainReport};
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

/// The built-in model (`triage/model.json`) was trained on the train split of rows 1 to 2,864
/// (triage/data/README.md); later rows are new to it whatever their split.
const BUILTIN_ROWS: usize = 2_864;

/// Which items of the stream the agents correct.
#[derive(Clone, Copy, PartialEq)]
enum Agents {
    /// Every item they handle (a correction may confirm the label).
    LabelEvery,
    /// Only the items the model got wrong.
    FixMistakes,
}

/// Goes through `pool` in order, learning up to `target` corrections (which items become
/// corrections: `agents`), printing the test figures every 1,000 corrections and at the end:
/// the organisation's model and the sorted learning times (µs).
fn simulate(
    name: &str,
    pool: Vec<Example>,
    agents: Agents,
    target: usize,
    test: &[Example],
) -> (OrgModel, Vec<u128>) {
    let model = builtin();
    let golds: Vec<SentimentLabel> = test.iter().map(|e| e.label).collect();
    let complaints: Vec<bool> = test.iter().map(|e| e.complaint).collect();
    println!("{name}: {} items", pool.len());
    let mut org = OrgModel::default();
    let mut learn = Vec::new();
    let report = |org: &OrgModel, done: usize| {
        let preds: Vec<SentimentLabel> = test
            .iter()
            .map(|e| org.classify(model, &e.text).label)
            .collect();
        show(
            &format!("  after {done} corrections"),
            &TrainReport::of(&golds, &preds, &complaints),
        );
    };
    for e in &pool {
        if learn.len() == target {
            break;
        }
        if agents == Agents::FixMistakes && org.classify(model, &e.text).label == e.label {
            continue;
        }
        let start = Instant::now();
        org.learn(model, &e.text, e.label);
        learn.push(start.elapsed().as_micros());
        if learn.len() % 1000 == 0 {
            report(&org, learn.len());
        }
    }
    if learn.len() % 1000 != 0 {
        report(&org, learn.len());
    }
    if learn.len() < target {
        println!(
            "  the items ran out at {} corrections, short of {target}",
            learn.len()
        );
    }
    if agents == Agents::LabelEvery {
        println!(
            "  prequential accuracy on the corrections {:.3} (each scored before it was learned)",
            org.accuracy().unwrap_or(0.0)
        );
    }
    learn.sort_unstable();
    (org, learn)
}

fn main() {
    let all = read_labelled_set().expect("the labelled set");
    let test = only(&all, Split::Test);
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

    // An organisation whose agents correct items: rows of train and dev (never test) in a fixed
    // shuffled order, each learned online after being scored (prequential); the organisation's
    // model is measured on test as it learns. Three ways: agents labelling every post the
    // built-in model never saw (the headline), fixing only its mistakes in the same posts, and
    // labelling any train or dev post.
    let target: usize = std::env::var("EARSHOT_EVAL_CORRECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    // Rows the built-in model never saw: after its rows, and not the same text as one of them
    // (short tweets recur).
    let trained: std::collections::HashSet<&str> = all[..BUILTIN_ROWS.min(all.len())]
        .iter()
        .map(|(_, e)| e.text.as_str())
        .collect();
    let unseen: Vec<Example> = all[BUILTIN_ROWS.min(all.len())..]
        .iter()
        .filter(|(s, e)| *s != Split::Test && !trained.contains(e.text.as_str()))
        .map(|(_, e)| e.clone())
        .collect();
    let any: Vec<Example> = all
        .iter()
        .filter(|(s, _)| *s != Split::Test)
        .map(|(_, e)| e.clone())
        .collect();
    let unseen = correction_order(unseen);
    let (org, learn) = simulate(
        "agents label every item, posts the built-in model never saw",
        unseen.clone(),
        Agents::LabelEvery,
        target,
        &test,
    );
    simulate(
        "agents fix only the model's mistakes, the same posts",
        unseen,
        Agents::FixMistakes,
        target,
        &test,
    );
    simulate(
        "agents label every item, any train or dev post",
        correction_order(any),
        Agents::LabelEvery,
        target,
        &test,
    );
    println!(
        "learning a correction: {} corrections, p50 {:.3} ms, p99 {:.3} ms",
        learn.len(),
        p(&learn, 0.5),
        p(&learn, 0.99)
    );
    let mut times = Vec::new();
    for _ in 0..5 {
        for t in &texts {
            let start = Instant::now();
            std::hint::black_box(org.classify(model, t));
            times.push(start.elapsed().as_micros());
        }
    }
    times.sort_unstable();
    println!(
        "scoring with the organisation's model: {} calls, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        p(&times, 0.5),
        p(&times, 0.99),
        p(&times, 1.0)
    );
    // The server stores the whole model (src/server/triage.rs, in the background, a batch of
    // corrections at a time), and other instances parse it when it changes: what that costs at
    // this size.
    let start = Instant::now();
    let json = org.to_json();
    let to_json = start.elapsed();
    let start = Instant::now();
    let parsed = OrgModel::from_json(&json).expect("the model parses back");
    let from_json = start.elapsed();
    assert_eq!(parsed.corrections, org.corrections);
    println!(
        "the stored model: {} bytes, {} features; serialised in {:.1} ms, parsed in {:.1} ms",
        json.len(),
        org.delta.weights.len(),
        to_json.as_secs_f64() * 1000.0,
        from_json.as_secs_f64() * 1000.0
    );
}
