//! The care lexicon: phrases that matter in customer care and that VADER does not know, each in a
//! class with a prior weight per label (negative, neutral, positive). The model starts from the
//! priors and the training data moves them.

use crate::domain::UrgencyCue;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CueClass {
    /// A concrete service failure: "charged twice", "still waiting", "on hold", "lost".
    Complaint,
    /// Gratitude or praise that means it: "thank you so much", "kudos", "you rock".
    Praise,
    /// Sarcasm: "thanks for nothing", "great, another", "so much for".
    Sarcasm,
    /// A community helper's answer: "had the same problem", "worked for me".
    Tip,
    /// The writer's own problem, which a tip is not: "i was charged", "my order".
    FirstPersonProblem,
    /// A question form: "how do i", "can you", "is there".
    Question,
    /// Gratitude in a post that also complains: sarcasm or a polite complaint, not praise.
    GratitudeWithComplaint,
}

impl CueClass {
    pub fn name(self) -> &'static str {
        match self {
            CueClass::Complaint => "complaint",
            CueClass::Praise => "praise",
            CueClass::Sarcasm => "sarcasm",
            CueClass::Tip => "tip",
            CueClass::FirstPersonProblem => "own-problem",
            CueClass::Question => "question",
            CueClass::GratitudeWithComplaint => "thanks+complaint",
        }
    }

    /// Prior weights for (negative, neutral, positive).
    pub fn prior(self) -> [f32; 3] {
        match self {
            CueClass::Complaint => [1.0, -0.3, -0.8],
            CueClass::Praise => [-0.6, -0.2, 1.0],
            CueClass::Sarcasm => [1.6, -0.4, -1.6],
            CueClass::Tip => [-1.4, 1.2, 0.4],
            CueClass::FirstPersonProblem => [0.4, 0.0, -0.4],
            CueClass::Question => [-0.2, 0.5, -0.3],
            CueClass::GratitudeWithComplaint => [1.0, 0.0, -1.2],
        }
    }

    pub const ALL: [CueClass; 7] = [
        CueClass::Complaint,
        CueClass::Praise,
        CueClass::Sarcasm,
        CueClass::Tip,
        CueClass::FirstPersonProblem,
        CueClass::Question,
        CueClass::GratitudeWithComplaint,
    ];
}

/// One lexicon phrase found in a post.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub phrase: &'static str,
    pub class: CueClass,
}

use CueClass::*;

const PHRASES: &[(&str, CueClass)] = &[
    // Service failures.
    ("charged twice", Complaint),
    ("charged me twice", Complaint),
    ("double charged", Complaint),
    ("overcharged", Complaint),
    ("still waiting", Complaint),
    ("still no", Complaint),
    ("still not", Complaint),
    ("still haven't", Complaint),
    ("still hasn't", Complaint),
    ("still don't", Complaint),
    ("on hold", Complaint),
    ("hold for", Complaint),
    ("no response", Complaint),
    ("no reply", Complaint),
    ("no answer", Complaint),
    ("no one", Complaint),
    ("nobody", Complaint),
    ("never arrived", Complaint),
    ("hasn't arrived", Complaint),
    ("didn't arrive", Complaint),
    ("never received", Complaint),
    ("not received", Complaint),
    ("not working", Complaint),
    ("doesn't work", Complaint),
    ("does not work", Complaint),
    ("didn't work", Complaint),
    ("isn't working", Complaint),
    ("stopped working", Complaint),
    ("broken", Complaint),
    ("cancelled", Complaint),
    ("canceled", Complaint),
    ("lost", Complaint),
    ("missing", Complaint),
    ("delayed", Complaint),
    ("delay", Complaint),
    ("stuck", Complaint),
    ("stranded", Complaint),
    ("worst", Complaint),
    ("unacceptable", Complaint),
    ("ridiculous", Complaint),
    ("disappointed", Complaint),
    ("disappointing", Complaint),
    ("frustrating", Complaint),
    ("frustrated", Complaint),
    ("rude", Complaint),
    ("without notice", Complaint),
    ("hung up", Complaint),
    ("hangs up", Complaint),
    ("refund", Complaint),
    ("money back", Complaint),
    ("third time", Complaint),
    ("second time", Complaint),
    ("3rd time", Complaint),
    ("again?", Complaint),
    ("terrible", Complaint),
    ("horrible", Complaint),
    ("awful", Complaint),
    ("useless", Complaint),
    ("#fail", Complaint),
    ("fail", Complaint),
    ("dropped", Complaint),
    ("wrong", Complaint),
    ("locked out", Complaint),
    ("can't log in", Complaint),
    ("declined", Complaint),
    ("complaint", Complaint),
    ("waste of", Complaint),
    ("why?", Complaint),
    ("not acceptable", Complaint),
    ("not happy", Complaint),
    ("unhappy", Complaint),
    ("damaged", Complaint),
    ("faulty", Complaint),
    ("scam", Complaint),
    ("losing", Complaint),
    ("lost my", Complaint),
    ("where is my", Complaint),
    ("where's my", Complaint),
    ("won't load", Complaint),
    ("never again", Complaint),
    ("what is going on", Complaint),
    ("supposed to be", Complaint),
    // Praise that means it.
    ("thank you so much", Praise),
    ("thanks so much", Praise),
    ("great job", Praise),
    ("well done", Praise),
    ("kudos", Praise),
    ("you rock", Praise),
    ("guys rock", Praise),
    ("love", Praise),
    ("amazing", Praise),
    ("awesome", Praise),
    ("excellent", Praise),
    ("fantastic", Praise),
    ("appreciate", Praise),
    ("appreciated", Praise),
    ("great service", Praise),
    ("great customer service", Praise),
    ("so helpful", Praise),
    ("very helpful", Praise),
    ("super helpful", Praise),
    ("best", Praise),
    ("wonderful", Praise),
    // Sarcasm.
    ("thanks for nothing", Sarcasm),
    ("great, another", Sarcasm),
    ("great another", Sarcasm),
    ("oh great", Sarcasm),
    ("just great", Sarcasm),
    ("love how", Sarcasm),
    ("love that you", Sarcasm),
    ("so much for", Sarcasm),
    ("way to go", Sarcasm),
    ("way to suck", Sarcasm),
    ("thanks a lot", Sarcasm),
    ("#yay", Sarcasm),
    ("yay", Sarcasm),
    ("nice try", Sarcasm),
    ("really appreciate the great", Sarcasm),
    ("#sorrynotsorry", Sarcasm),
    // A helper's answer.
    ("had the same problem", Tip),
    ("had the same issue", Tip),
    ("same thing happened to me", Tip),
    ("worked for me", Tip),
    ("what worked for me", Tip),
    ("hold the power button", Tip),
    ("try holding", Tip),
    ("try restarting", Tip),
    ("try turning", Tip),
    ("you can try", Tip),
    ("fixed it by", Tip),
    ("solved it by", Tip),
    ("what fixed it", Tip),
    ("pro tip", Tip),
    ("tip:", Tip),
    ("that fixed it", Tip),
    ("fixed it here", Tip),
    ("you need the latest", Tip),
    ("go to settings", Tip),
    ("check the router", Tip),
    ("check that", Tip),
    // The writer's own problem.
    ("i was charged", FirstPersonProblem),
    ("i want a refund", FirstPersonProblem),
    ("my order", FirstPersonProblem),
    ("my account", FirstPersonProblem),
    ("please help", FirstPersonProblem),
    ("help me", FirstPersonProblem),
    ("i need help", FirstPersonProblem),
    // Questions.
    ("how do i", Question),
    ("how can i", Question),
    ("can you", Question),
    ("could you", Question),
    ("is there", Question),
    ("are there", Question),
    ("do you", Question),
    ("when will", Question),
    ("will you", Question),
];

const GRATITUDE: &[&str] = &["thanks", "thank you", "thx", "appreciate"];

const URGENCY: &[(&str, UrgencyCue)] = &[
    ("lawyer", UrgencyCue::Legal),
    ("attorney", UrgencyCue::Legal),
    ("solicitor", UrgencyCue::Legal),
    ("legal action", UrgencyCue::Legal),
    ("sue you", UrgencyCue::Legal),
    ("suing", UrgencyCue::Legal),
    ("small claims", UrgencyCue::Legal),
    ("court", UrgencyCue::Legal),
    ("ombudsman", UrgencyCue::Legal),
    ("trading standards", UrgencyCue::Legal),
    ("chargeback", UrgencyCue::Legal),
    ("report you to", UrgencyCue::Legal),
    ("cancel my account", UrgencyCue::Cancellation),
    ("cancel my subscription", UrgencyCue::Cancellation),
    ("cancel my membership", UrgencyCue::Cancellation),
    ("close my account", UrgencyCue::Cancellation),
    ("cancelling my", UrgencyCue::Cancellation),
    ("canceling my", UrgencyCue::Cancellation),
    ("switching to", UrgencyCue::Cancellation),
    ("taking my business", UrgencyCue::Cancellation),
    ("never fly", UrgencyCue::Cancellation),
    ("never again", UrgencyCue::Cancellation),
    ("#neveragain", UrgencyCue::Cancellation),
    ("last time i fly", UrgencyCue::Cancellation),
    ("won't fly", UrgencyCue::Cancellation),
    ("unsafe", UrgencyCue::Safety),
    ("not safe", UrgencyCue::Safety),
    ("dangerous", UrgencyCue::Safety),
    ("injured", UrgencyCue::Safety),
    ("injury", UrgencyCue::Safety),
    ("caught fire", UrgencyCue::Safety),
    ("on fire", UrgencyCue::Safety),
    ("smoke", UrgencyCue::Safety),
    ("sparks", UrgencyCue::Safety),
    ("electric shock", UrgencyCue::Safety),
    ("burned", UrgencyCue::Safety),
    ("choking", UrgencyCue::Safety),
    ("allergic reaction", UrgencyCue::Safety),
    ("gas leak", UrgencyCue::Safety),
    ("overheating", UrgencyCue::Safety),
    ("exploded", UrgencyCue::Safety),
    ("pressurization failure", UrgencyCue::Safety),
    ("third time", UrgencyCue::RepeatContact),
    ("3rd time", UrgencyCue::RepeatContact),
    ("second time", UrgencyCue::RepeatContact),
    ("2nd time", UrgencyCue::RepeatContact),
    ("fourth time", UrgencyCue::RepeatContact),
    ("4th time", UrgencyCue::RepeatContact),
    ("5th time", UrgencyCue::RepeatContact),
    ("multiple times", UrgencyCue::RepeatContact),
    ("several times", UrgencyCue::RepeatContact),
    ("called 3", UrgencyCue::RepeatContact),
    ("called three", UrgencyCue::RepeatContact),
    ("still waiting", UrgencyCue::RepeatContact),
    ("still haven't", UrgencyCue::RepeatContact),
    ("for days", UrgencyCue::RepeatContact),
    ("for weeks", UrgencyCue::RepeatContact),
    ("keep calling", UrgencyCue::RepeatContact),
    ("every time", UrgencyCue::RepeatContact),
    ("repeatedly", UrgencyCue::RepeatContact),
];

/// Lowercased, with typographic apostrophes made plain, so phrases match as written.
pub(crate) fn normalise(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '`' => '\'',
            '\u{2026}' => '.',
            _ => c,
        })
        .collect::<String>()
        .to_lowercase()
}

fn automaton(phrases: impl Iterator<Item = &'static str>) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build(phrases)
        .expect("the lexicon's phrases build an automaton")
}

/// The end of a phrase is a word boundary; phrases ending in punctuation carry their own.
fn at_boundaries(hay: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '\'';
    let phrase = &hay[start..end];
    let before_ok = hay[..start].chars().next_back().is_none_or(|c| !word(c))
        || phrase.starts_with(|c: char| !word(c));
    let after_ok =
        hay[end..].chars().next().is_none_or(|c| !word(c)) || phrase.ends_with(|c: char| !word(c));
    before_ok && after_ok
}

fn matches(ac: &AhoCorasick, hay: &str) -> Vec<usize> {
    let mut found: Vec<usize> = ac
        .find_overlapping_iter(hay)
        .filter(|m| at_boundaries(hay, m.start(), m.end()))
        .map(|m| m.pattern().as_usize())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// The lexicon cues in a normalised text.
pub fn find_cues(normalised: &str) -> Vec<Cue> {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    let ac = AC.get_or_init(|| automaton(PHRASES.iter().map(|(p, _)| *p)));
    let mut cues: Vec<Cue> = matches(ac, normalised)
        .into_iter()
        .map(|i| Cue {
            phrase: PHRASES[i].0,
            class: PHRASES[i].1,
        })
        .collect();
    let complains = cues.iter().any(|c| matches!(c.class, Complaint | Sarcasm));
    if complains && GRATITUDE.iter().any(|g| normalised.contains(g)) {
        cues.push(Cue {
            phrase: "thanks + complaint",
            class: GratitudeWithComplaint,
        });
    }
    cues
}

/// Urgency cues in a text, each once, in a fixed order.
pub fn detect_urgency(text: &str) -> Vec<UrgencyCue> {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    let ac = AC.get_or_init(|| automaton(URGENCY.iter().map(|(p, _)| *p)));
    let hay = normalise(text);
    let mut found: Vec<UrgencyCue> = matches(ac, &hay)
        .into_iter()
        .map(|i| URGENCY[i].1)
        .collect();
    found.sort();
    found.dedup();
    found
}
