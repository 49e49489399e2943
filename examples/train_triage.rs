//! Regenerates `triage/model.json` from `triage/data/airline.tsv`:
//!
//!     cargo run --release --example train_triage
//!
//! Trains on the train split only, chooses the hyper-parameters and the decision offsets on the
//! dev split (offsets: best dev accuracy with at most 5% of dev complaints scored positive), and
//! never looks at the test split (see `eval_triage`). Deterministic: the same file every run.

use earshot::triage::data::{only, parse_tsv, Split};
use earshot::triage::{Model, ModelConfig};

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let source =
        std::fs::read_to_string(format!("{root}/triage/data/airline.tsv")).expect("dataset");
    let all = parse_tsv(&source).expect("dataset parses");
    let train = only(&all, Split::Train);
    let dev = only(&all, Split::Dev);
    println!("train {} dev {} (test held out)", train.len(), dev.len());
    let mut best: Option<(f64, ModelConfig)> = None;
    for char_ngrams in [false, true] {
        for l2 in [1e-4f32, 1e-3, 1e-2] {
            for epochs in [6u32, 12, 20] {
                for learning_rate in [0.05f32, 0.1] {
                    for prior_scale in [0.5f32, 1.0, 2.0] {
                        let config = ModelConfig {
                            char_ngrams,
                            l2,
                            epochs,
                            learning_rate,
                            prior_scale,
                            ..ModelConfig::default()
                        };
                        let m = Model::train(config.clone(), &train, "");
                        let r = m.evaluate(&dev);
                        if best.as_ref().is_none_or(|(a, _)| r.accuracy > *a) {
                            println!(
                                "dev {:.3} f1 {:.3} cpos {:.3} {:?}",
                                r.accuracy, r.macro_f1, r.complaints_positive, config
                            );
                            best = Some((r.accuracy, config));
                        }
                    }
                }
            }
        }
    }
    let (_, mut config) = best.expect("a configuration");
    let base = Model::train(config.clone(), &train, "");
    let mut chosen = ([0.0f32; 3], base.evaluate(&dev));
    let mut found = chosen.1.complaints_positive <= 0.05;
    for neu in [-1.0f32, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0] {
        for pos in [-1.5f32, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5] {
            let mut m = base.clone();
            m.config.decision_offset = [0.0, neu, pos];
            let r = m.evaluate(&dev);
            let ok = r.complaints_positive <= 0.05;
            if (ok && (!found || r.accuracy > chosen.1.accuracy))
                || (!found && !ok && r.complaints_positive < chosen.1.complaints_positive)
            {
                found |= ok;
                chosen = ([0.0, neu, pos], r);
            }
        }
    }
    config.decision_offset = chosen.0;
    let model = Model::train(
        config,
        &train,
        "triage/data/airline.tsv train split (Twitter US Airline Sentiment, CC BY-NC-SA 4.0)",
    );
    let r = model.evaluate(&dev);
    println!(
        "chosen {:?}\ndev accuracy {:.3} macro-F1 {:.3} complaints scored positive {:.3}",
        model.config, r.accuracy, r.macro_f1, r.complaints_positive
    );
    std::fs::write(format!("{root}/triage/model.json"), model.to_json() + "\n")
        .expect("write model");
    println!("wrote triage/model.json ({} weights)", model.weights.len());
}
