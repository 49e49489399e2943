use super::*;
use crate::domain::{FeedbackKind as K, SentimentLabel as L, UrgencyCue as U};

#[test]
fn the_shipped_model_is_a_trained_one() {
    let m = builtin();
    assert!(m.trained_on.contains("airline.tsv"), "{}", m.trained_on);
    assert!(m.weights.len() > 1000, "only {} weights", m.weights.len());
    // It round-trips through its own file format.
    let again = Model::from_json(&m.to_json()).unwrap();
    assert_eq!(again.weights.len(), m.weights.len());
    assert!(Model::from_json("{}").is_err());
    assert!(Model::from_json(&BUILTIN_MODEL.replace("earshot-triage-1", "other")).is_err());
}

#[test]
fn complaints_that_fool_vader_are_negative() {
    for text in [
        "I was charged twice for order AC-123456. I want a refund for the duplicate payment please.",
        "The interest rate on my savings account dropped without notice. Why?",
        "Still waiting on the refund I was promised. Third time asking.",
        "On hold for an hour, please help",
    ] {
        let t = classify(text);
        assert_eq!(t.label, L::Negative, "{text}: {t:?}");
        assert_eq!(t.kind, K::Complaint, "{text}");
        assert!(!t.cues.is_empty(), "{text}: no cues");
    }
    // VADER alone calls the first of them positive: the reason this module exists.
    assert!(vader_compound("I was charged twice for order AC-123456. I want a refund for the duplicate payment please.") > 0.05);
}

#[test]
fn the_deciding_cues_are_words_a_person_can_read() {
    for text in [
        "The interest rate on my savings account dropped without notice. Why?",
        "I was charged twice for order AC-123456. I want a refund for the duplicate payment please.",
        "Shout out to the support team, they fixed my issue in 5 minutes. Amazing service!",
        "Which branch is open on Sunday with the longest hours?",
    ] {
        let t = classify(text);
        for cue in &t.cues {
            let words: Vec<&str> = cue.trim_matches('"').split(' ').collect();
            assert!(
                cue.contains("cue") || cue.contains("VADER") || words.iter().any(|w| model::explains(w)),
                "{text}: cue {cue:?} explains nothing ({:?})",
                t.cues
            );
            assert!(!cue.contains('<'), "{text}: placeholder shown: {:?}", t.cues);
        }
    }
    assert!(!model::explains("the"));
    assert!(!model::explains("with the"));
    assert!(model::explains("charged twice"));
    assert!(!model::explains("<num>"));
}

#[test]
fn sarcasm_is_not_praise() {
    for text in [
        "Thanks for nothing, four hours on the phone",
        "Great, another delay. Love how you never tell us anything",
        "@acme thanks for losing my luggage",
    ] {
        let t = classify(text);
        assert_eq!(t.label, L::Negative, "{text}: {t:?}");
    }
}

#[test]
fn a_helpers_tip_is_not_a_complaint() {
    let t = classify(
        "Had the same problem with my Acme Kettle Pro: hold the power button for 10 seconds, it resets the pairing. Worked for me.",
    );
    assert_eq!(t.kind, K::Tip, "{t:?}");
    assert_ne!(t.label, L::Negative, "{t:?}");
    // Someone describing their own problem is not a tip, even with the same words.
    let t = classify("I was charged twice, had the same problem last month, please help");
    assert_ne!(t.kind, K::Tip, "{t:?}");
}

#[test]
fn praise_is_positive() {
    let t = classify(
        "Shout out to the support team, they fixed my issue in 5 minutes. Amazing service!",
    );
    assert_eq!(t.label, L::Positive, "{t:?}");
    assert_eq!(t.kind, K::Praise);
    assert!(t.score() > 0.05);
}

#[test]
fn other_languages_fall_back_to_neutral_with_low_confidence() {
    for text in [
        "Mi pedido no ha llegado y nadie contesta el teléfono desde hace una semana",
        "Meine Bestellung ist immer noch nicht da und niemand antwortet",
        "注文した商品がまだ届きません。どうなっていますか",
    ] {
        let t = classify(text);
        assert_eq!(t.label, L::Neutral, "{text}");
        assert!(t.confidence < 0.4, "{text}: {}", t.confidence);
    }
    assert!(looks_english("My order has not arrived and nobody answers"));
    assert!(looks_english("ok"));
    assert!(looks_english("worst kettle ever, awful"));
}

#[test]
fn urgency_cues_are_found() {
    assert_eq!(detect_urgency("My lawyer will be in touch"), vec![U::Legal]);
    assert_eq!(
        detect_urgency("Third time I write. Cancel my account."),
        vec![U::Cancellation, U::RepeatContact]
    );
    assert_eq!(detect_urgency("The charger caught fire!"), vec![U::Safety]);
    assert!(detect_urgency("Where is my parcel?").is_empty());
    // Whole words only: "courtesy" is not a court.
    assert!(detect_urgency("Thanks for the courtesy call").is_empty());
}

#[test]
fn the_score_agrees_with_the_label() {
    for text in ["I love it!", "Where is my order?", "Worst service ever", ""] {
        let t = classify(text);
        assert_eq!(
            crate::domain::SentimentLabel::from_score(t.score()),
            t.label,
            "{text}"
        );
    }
}

#[test]
fn corrections_teach_the_organisation_model() {
    let base = builtin();
    let mut org = OrgModel::default();
    // This organisation's customers say "zorp" of a delightful experience.
    let text = "zorp zorp";
    let before = org.classify(base, text).label;
    assert_ne!(before, L::Positive);
    for _ in 0..20 {
        org.learn(base, "zorp zorp with the blender", L::Positive);
    }
    assert_eq!(org.corrections, 20);
    let acc = org.accuracy().unwrap();
    assert!(acc < 1.0 && acc > 0.5, "prequential accuracy {acc}");
    assert_eq!(
        org.classify(base, text).label,
        L::Positive,
        "was {before:?}"
    );
    let round = OrgModel::from_json(&org.to_json()).unwrap();
    assert_eq!(round, org);
    assert!(OrgModel::default().accuracy().is_none());
}

#[test]
fn the_dataset_splits_deterministically() {
    let all = data::read_labelled_set().unwrap();
    assert!(all.len() > 500);
    let test = data::only(&all, data::Split::Test).len();
    let dev = data::only(&all, data::Split::Dev).len();
    assert!(
        test > all.len() / 8 && dev > all.len() / 8,
        "test {test} dev {dev}"
    );
    assert_eq!(data::split_of("same text"), data::split_of("same text"));
    assert!(data::parse_tsv("h\nbad line").is_err());
}

#[test]
fn one_correction_raises_the_corrected_class() {
    // The update is w -= lr * (p - y) * x: the corrected class's probability goes up.
    let base = builtin();
    for label in [L::Negative, L::Neutral, L::Positive] {
        let mut org = OrgModel::default();
        let text = "zorp zorp with the blender";
        let k = crate::triage::model::label_index(label);
        let p0 = org.classify(base, text).probs[k];
        org.learn(base, text, label);
        let p1 = org.classify(base, text).probs[k];
        assert!(p1 > p0, "{label:?}: {p0} -> {p1}");
    }
}
