//! Rule-engine benchmark: a 2 KB draft against rules/default.toml and against a generated stress
//! rulebook (1,000 phrases, 100 regexes); ASCII against emoji/accented text; compile time; and a
//! naive baseline (one regex per rule, run in a loop) in the same run. After criterion's report,
//! `percentiles` times 5,000 single checks per case and prints p50/p99, which criterion does not.
//!
//! Run: `cargo bench --bench rules` (see benches/README.md).

use criterion::{black_box, criterion_group, Criterion};
use earshot::domain::{Channel, SentimentLabel, Visibility};
use earshot::rules::{CheckContext, DraftPart, Rulebook, DEFAULT_RULEBOOK};
use regex::Regex;
use std::time::{Duration, Instant};

const ASCII_PARAGRAPH: &str = "Hi Sam, thanks for getting in touch about your order. I'm sorry the parcel arrived late \
and that the box was damaged. I have checked with our shipping team and the replacement left our warehouse this \
morning; it is expected on Thursday. Your refund of $20 for the delivery fee has been issued to your original \
payment method and should appear within five working days. You can follow the parcel at https://acme.help/track \
and reply here if anything else comes up. ";

const UNICODE_PARAGRAPH: &str = "Hi Zoë, thanks for getting in touch about your order 📦. I'm sorry the parcel arrived \
late — and that the box was damaged 😞. J'ai vérifié avec l'équipe d'expédition: le colis de remplacement est parti \
ce matin, livraison prévue jeudi 🚚. Your refund of €20 for the delivery fee has been issued; it should appear within \
five working days 💳. Sie können das Paket unter https://acme.help/track verfolgen. 有问题请随时回复 🙏 ";

/// About 2 KB of text, cut on a char boundary.
fn two_kb(paragraph: &str) -> String {
    let mut text = paragraph.repeat(2048 / paragraph.len() + 1);
    let mut cut = 2048;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text
}

/// Every condition of the default rulebook satisfied, so that the most rules apply.
fn busy_context() -> CheckContext {
    CheckContext {
        channel: Some(Channel::X),
        tier: Some("gold".into()),
        tags: vec!["press".into()],
        department: Some("finance".into()),
        language: Some("en".into()),
        sentiment: Some(SentimentLabel::Negative),
    }
}

/// Support on a forum: no X length rule, the common case in the composer.
fn forum_context() -> CheckContext {
    CheckContext {
        channel: Some(Channel::Forum),
        department: Some("support".into()),
        ..busy_context()
    }
}

const WORDS: &[&str] = &[
    "refund",
    "voucher",
    "delay",
    "parcel",
    "warranty",
    "invoice",
    "upgrade",
    "account",
    "premium",
    "courier",
    "replacement",
    "discount",
    "battery",
    "charger",
    "screen",
    "subscription",
    "billing",
    "outage",
    "password",
    "router",
];

/// 100 phrase rules of 10 phrases (1,000 phrases) and 100 pattern rules of one regex each.
fn stress_rulebook() -> String {
    let mut toml = String::from("[rulebook]\nid = \"stress\"\nversion = \"1\"\n");
    for r in 0..100 {
        let phrases: Vec<String> = (0..10)
            .map(|p| {
                format!(
                    "\"{} {}{}\"",
                    WORDS[(r + p) % WORDS.len()],
                    WORDS[(r * 7 + p) % WORDS.len()],
                    r * 10 + p
                )
            })
            .collect();
        toml.push_str(&format!(
            "[[rule]]\nid = \"P{r}\"\nkind = \"phrase\"\nlevel = \"warning\"\nphrases = [{}]\n",
            phrases.join(", ")
        ));
    }
    for r in 0..100 {
        let w = WORDS[r % WORDS.len()];
        let pattern = match r % 4 {
            0 => format!(r"(?i)\b{w}\s+(?:no\.?|number|#)\s*\d{{{}}}\b", 4 + r % 5),
            1 => format!(r"\b{w}-\w+-{r}\b"),
            2 => format!(r"(?i)\b(?:{w}|x{r})s?\s+will\s+be\s+\w+ed\b"),
            _ => format!(r"\b[A-Z]{{2}}{r}[0-9]{{3,}}\b"),
        };
        toml.push_str(&format!("[[rule]]\nid = \"R{r}\"\nkind = \"pattern\"\nlevel = \"warning\"\npatterns = ['{pattern}']\n"));
    }
    toml
}

/// The naive way: one regex per rule (phrases as an alternation), Unicode defaults, in a loop.
struct Naive(Vec<Regex>);

impl Naive {
    fn new() -> Self {
        let mut regexes = Vec::new();
        for r in 0..100 {
            let phrases: Vec<String> = (0..10)
                .map(|p| {
                    regex::escape(&format!(
                        "{} {}{}",
                        WORDS[(r + p) % WORDS.len()],
                        WORDS[(r * 7 + p) % WORDS.len()],
                        r * 10 + p
                    ))
                })
                .collect();
            regexes.push(Regex::new(&format!(r"(?i)\b(?:{})\b", phrases.join("|"))).unwrap());
        }
        let book = stress_rulebook();
        for line in book.lines().filter_map(|l| l.strip_prefix("patterns = ['")) {
            regexes.push(Regex::new(line.trim_end_matches("']")).unwrap());
        }
        Naive(regexes)
    }

    fn check(&self, text: &str) -> usize {
        self.0.iter().map(|r| r.find_iter(text).count()).sum()
    }
}

fn cases() -> Vec<(&'static str, Rulebook, CheckContext, String)> {
    let default = || Rulebook::from_toml_str(DEFAULT_RULEBOOK, "default.toml").unwrap();
    let stress = || Rulebook::from_toml_str(&stress_rulebook(), "stress.toml").unwrap();
    let (ascii, unicode) = (two_kb(ASCII_PARAGRAPH), two_kb(UNICODE_PARAGRAPH));
    vec![
        (
            "default/x-finance/ascii",
            default(),
            busy_context(),
            ascii.clone(),
        ),
        (
            "default/x-finance/unicode",
            default(),
            busy_context(),
            unicode.clone(),
        ),
        (
            "default/forum-support/ascii",
            default(),
            forum_context(),
            ascii.clone(),
        ),
        (
            "default/forum-support/unicode",
            default(),
            forum_context(),
            unicode.clone(),
        ),
        ("stress/ascii", stress(), CheckContext::default(), ascii),
        ("stress/unicode", stress(), CheckContext::default(), unicode),
    ]
}

fn draft(text: &str) -> Vec<DraftPart> {
    vec![DraftPart::new(Visibility::Public, text)]
}

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check 2KB");
    for (name, book, ctx, text) in cases() {
        let d = draft(&text);
        group.bench_function(name, |b| {
            b.iter(|| book.check(black_box(&d), black_box(&ctx)))
        });
    }
    let naive = Naive::new();
    for (name, text) in [
        ("naive/ascii", two_kb(ASCII_PARAGRAPH)),
        ("naive/unicode", two_kb(UNICODE_PARAGRAPH)),
    ] {
        group.bench_function(name, |b| b.iter(|| naive.check(black_box(&text))));
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let stress = stress_rulebook();
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    group.bench_function("stress (1000 phrases, 100 regexes)", |b| {
        b.iter(|| Rulebook::from_toml_str(black_box(&stress), "stress.toml").unwrap())
    });
    group.bench_function("default", |b| {
        b.iter(|| Rulebook::from_toml_str(black_box(DEFAULT_RULEBOOK), "d.toml").unwrap())
    });
    group.bench_function("naive stress (200 regexes)", |b| b.iter(Naive::new));
    group.finish();
}

/// p50 and p99 of single checks, which criterion's report does not give.
fn percentiles() {
    println!("\nper-check latency over 5000 single checks (after 200 warm-up checks):");
    for (name, book, ctx, text) in cases() {
        let d = draft(&text);
        let (p50, p99) = measure(|| {
            black_box(book.check(&d, &ctx));
        });
        println!("  {name:<32} p50 {:>9.1?}  p99 {:>9.1?}", p50, p99);
    }
    let naive = Naive::new();
    for (name, text) in [
        ("naive/ascii", two_kb(ASCII_PARAGRAPH)),
        ("naive/unicode", two_kb(UNICODE_PARAGRAPH)),
    ] {
        let (p50, p99) = measure(|| {
            black_box(naive.check(&text));
        });
        println!("  {name:<32} p50 {:>9.1?}  p99 {:>9.1?}", p50, p99);
    }
}

fn measure(mut f: impl FnMut()) -> (Duration, Duration) {
    (0..200).for_each(|_| f());
    let mut times: Vec<Duration> = (0..5000)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

criterion_group!(benches, check, compile);

fn main() {
    // The prose linters of benches/README.md read the very same drafts from these files.
    if let Ok(dir) = std::env::var("EARSHOT_BENCH_DRAFTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/ascii.txt"), two_kb(ASCII_PARAGRAPH)).unwrap();
        std::fs::write(format!("{dir}/unicode.txt"), two_kb(UNICODE_PARAGRAPH)).unwrap();
    }
    // `cargo test --benches` runs this binary in test mode: keep that quick.
    let testing = std::env::args().any(|a| a == "--test");
    benches();
    if !testing {
        percentiles();
    }
    Criterion::default().configure_from_args().final_summary();
}
