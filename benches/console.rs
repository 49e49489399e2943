//! Console benchmark (issue 3, "Benchmark"): the real `update` and `panes::render`, fed the way
//! the app feeds them, over a deterministic stream of 100,000 feedback items, with 1,000 items as
//! the baseline in the same run.
//!
//! 1. Handling plus rendering per keystroke: `update(Msg::Key)` and a full `Terminal::draw` into
//!    ratatui's `TestBackend` at 80x24 and 120x40, for three key scripts (stream navigation,
//!    `/` filter typing, composer typing). Criterion's report, then our own p50/p99 per key.
//! 2. Bytes written per keystroke: the same model drawn by a `ratatui::Terminal` over a
//!    `LeanBackend` (the app's own) writing into a counted buffer (ratatui diffs frames, so this is what
//!    reaches the wire); idle ticks checked against the app's dirty flag.
//! 3. Time to first frame of `earshot demo` on an existing demo database: the release binary in a
//!    pseudo-terminal, N runs after a warm-up run that creates the database.
//!
//! Run: `cargo bench --bench console` (see benches/README.md). `EARSHOT_BENCH_RUNS=N` sets the
//! number of `earshot demo` runs (default 15); `EARSHOT_BENCH_SKIP_PTY=1` skips step 3.

use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use criterion::Criterion;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use earshot::domain::api::{FeedbackDetail, Me, Page};
use earshot::domain::{
    Agent, AgentRole, Channel, Consents, Customer, CustomerRole, DeliveryStatus, Department,
    Direction, Feedback, FeedbackStatus, HistoryEntry, HistoryKind, Identity, Message, Money,
    Preferences, Priority, SentimentLabel, Transaction, TransactionKind, Visibility,
};
use earshot::tui::effect::Effect;
use earshot::tui::keymap::{KeyPress, Keymap};
use earshot::tui::lint::CompiledRules;
use earshot::tui::model::Model;
use earshot::tui::theme::{ColorDepth, Theme};
use earshot::tui::update::{self, Msg};
use earshot::tui::wire::LeanBackend;
use earshot::tui::{canned, panes};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

// The pty tests' harness; a bench cannot import tests/common as a crate.
#[path = "../tests/common/pty.rs"]
mod pty;

const BIG: usize = 100_000;
const BASE: usize = 1_000;
const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

// ---------------------------------------------------------------------------------------------
// Deterministic data

/// SplitMix64: a fixed seed gives the same 100,000 items on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The clock of every model: on a minute boundary, so that 59 one-second ticks stay in it.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap()
}

const FIRST: &[&str] = &[
    "Ada", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Greta", "Hiro", "Inès", "Jonas", "Kemal",
    "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma", "Yuki",
    "Zoë", "Wen",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Moreau",
    "Okafor",
    "Schmidt",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Nguyen",
    "Haddad",
    "Johansson",
    "García",
    "Rossi",
    "Müller",
    "Dubois",
    "Novak",
    "Ivanova",
    "Byrne",
    "Costa",
];
const OPENERS: &[&str] = &[
    "",
    "Hi, ",
    "Hello team, ",
    "@acme ",
    "Seriously? ",
    "Quick question: ",
    "Third time asking. ",
    "Thanks for the quick help! ",
];
const BODIES: &[&str] = &[
    "my order #A{n} still hasn't arrived, it's been two weeks. Really disappointed.",
    "love the new app update, the dark mode is fantastic!",
    "how do I change the delivery address on my subscription?",
    "refund please. The blender broke after one use.",
    "support answered in 5 minutes, great service 👍",
    "日本からの注文は可能ですか？送料はいくらですか。",
    "I was charged twice for invoice INV-{n}. Please fix this today.",
    "the tracking link for parcel {n} shows 'delivered' but nothing is here.",
    "can I upgrade to premium without losing my saved lists?",
    "your courier left the box in the rain, the screen is cracked.",
    "the password reset email never arrives, checked spam too.",
    "router keeps dropping wifi since the firmware update last night.",
    "is the battery replacement covered by the warranty? Bought it in March.",
    "j'ai reçu le mauvais article, commande {n}. Comment faire un échange ?",
    "best customer service I've had all year, thank you Sam!",
    "why is the discount code SPRING{n} not working at checkout?",
];
const CLOSERS: &[&str] = &[
    "",
    "",
    " Please advise.",
    " #fail",
    " Any update?",
    " 🙏",
    " Will not order again if this isn't sorted.",
    " Cheers.",
];
const DEPARTMENTS: &[&str] = &["support", "billing", "shipping", "sales", "tech"];
const CHANNELS: &[Channel] = &[
    Channel::X,
    Channel::X,
    Channel::X,
    Channel::Facebook,
    Channel::Facebook,
    Channel::Instagram,
    Channel::Instagram,
    Channel::Email,
    Channel::Email,
    Channel::Email,
    Channel::Review,
    Channel::Forum,
    Channel::Whatsapp,
    Channel::Sms,
    Channel::Webchat,
    Channel::Linkedin,
    Channel::Phone,
    Channel::WebForm,
];
/// Distinct authors; an author writes about 5 items of 100,000.
const AUTHORS: usize = 20_000;

fn identity(a: usize, network: Channel) -> Identity {
    let first = FIRST[a % FIRST.len()];
    let last = LAST[(a / FIRST.len()) % LAST.len()];
    Identity {
        id: format!("idn_{a}_{}", network.as_str()),
        network,
        handle: match network {
            Channel::Email => format!("{}.{}{a}@mail.example", first.to_lowercase(), a % 97),
            Channel::Sms | Channel::Whatsapp | Channel::Phone => {
                format!("+44 7700 9{:05}", a % 100_000)
            }
            _ => format!(
                "{}_{}{}",
                first.to_lowercase(),
                last.to_lowercase(),
                a % 1000
            ),
        },
        display_name: format!("{first} {last}"),
        verified: a % 11 == 0,
        // Four authors in five are linked to a CRM customer.
        customer_id: (a % 5 != 4).then(|| format!("cus_{a}")),
    }
}

/// `n` items in arrival order (oldest first), one every 7 seconds up to `t0`; the newest is an
/// X post by a linked customer, so the composer opens with a public and a direct part.
fn feedback_items(n: usize) -> Vec<Feedback> {
    let mut rng = Rng(0x5EED_0003);
    (0..n)
        .map(|i| {
            let newest = i + 1 == n;
            let channel = if newest {
                Channel::X
            } else {
                *rng.pick(CHANNELS)
            };
            let a = if newest { 0 } else { rng.below(AUTHORS) };
            let author = identity(a, channel);
            let num = 1000 + rng.below(9000);
            let text = format!(
                "{}{}{}",
                rng.pick(OPENERS),
                rng.pick(BODIES).replace("{n}", &num.to_string()),
                rng.pick(CLOSERS)
            );
            let sentiment = (rng.unit() * 2.0 - 1.0) * 0.9 - 0.05;
            let received_at = t0() - CDuration::seconds(7 * (n - i) as i64);
            Feedback {
                id: format!("fb_{i:06}"),
                channel,
                origin: channel.origin(),
                customer_id: author.customer_id.clone(),
                author,
                text,
                thread_id: format!("th_{i}"),
                url: channel
                    .has_public_thread()
                    .then(|| format!("https://{}.example/p/{i}", channel.as_str())),
                received_at,
                sentiment,
                sentiment_label: SentimentLabel::from_score(sentiment),
                sentiment_confidence: 0.8,
                kind: earshot::domain::FeedbackKind::Other,
                urgency: vec![],
                cues: vec![],
                corrected: false,
                department: rng.pick(DEPARTMENTS).to_string(),
                assignee: match rng.below(20) {
                    0..=9 => None,
                    10..=12 => Some("agt_me".into()),
                    13..=15 => Some("agt_bo".into()),
                    16..=17 => Some("agt_kim".into()),
                    _ => Some("agt_lu".into()),
                },
                status: *rng.pick(&[
                    FeedbackStatus::New,
                    FeedbackStatus::New,
                    FeedbackStatus::Open,
                    FeedbackStatus::Pending,
                    FeedbackStatus::Answered,
                    FeedbackStatus::Resolved,
                ]),
                priority: *rng.pick(&[
                    Priority::Low,
                    Priority::Normal,
                    Priority::Normal,
                    Priority::Normal,
                    Priority::High,
                    Priority::Urgent,
                ]),
                sla_due_at: received_at + CDuration::minutes(30 + 30 * rng.below(8) as i64),
                version: 1,
                unassigned_reason: None,
                thread_messages: 1,
                author_roles: vec![],
            }
        })
        .collect()
}

fn customer(id: &str) -> Customer {
    let a: usize = id.trim_start_matches("cus_").parse().unwrap_or(0);
    let money = |s: &str| Money {
        amount: s.parse().unwrap(),
        currency: "EUR".into(),
    };
    Customer {
        id: id.into(),
        external_id: None,
        first_name: FIRST[a % FIRST.len()].into(),
        last_name: LAST[(a / FIRST.len()) % LAST.len()].into(),
        emails: vec![format!("customer{a}@mail.example")],
        phones: vec![format!("+44 7700 9{:05}", a % 100_000)],
        tier: ["bronze", "silver", "gold", "platinum"][a % 4].into(),
        lifetime_value: money(&format!("{}.{:02}", 100 + a * 37 % 9000, a % 100)),
        preferences: Preferences {
            language: ["en", "fr", "de", "ja"][a % 4].into(),
            preferred_channel: Channel::Email,
            consents: Consents {
                email: true,
                sms: a % 2 == 0,
                whatsapp: a % 3 == 0,
                social_dm: true,
            },
        },
        tags: vec!["newsletter".into(), format!("cohort-{}", a % 12)],
        roles: [
            vec![CustomerRole::PowerUser],
            vec![CustomerRole::Detractor],
            vec![CustomerRole::Advocate, CustomerRole::Helper],
            vec![],
        ][a % 4]
            .clone(),
        identities: vec![
            identity(a, Channel::X),
            identity(a, Channel::Instagram),
            identity(a, Channel::Email),
        ],
        sentiment_trend: (0..12)
            .map(|k| ((a + k * 7) % 21) as f64 / 10.0 - 1.0)
            .collect(),
        created_at: t0() - CDuration::days(30 + (a % 900) as i64),
    }
}

fn transactions(id: &str) -> Vec<Transaction> {
    (0..6)
        .map(|k| Transaction {
            id: format!("trx_{id}_{k}"),
            customer_id: id.into(),
            kind: [
                TransactionKind::Order,
                TransactionKind::Order,
                TransactionKind::Refund,
                TransactionKind::Subscription,
            ][k % 4],
            reference: format!("A{}", 1200 + k),
            description: ["Blender Pro 3000", "Mug set", "Damaged mug", "Premium plan"][k % 4]
                .into(),
            amount: Money {
                amount: ["89.90", "24.00", "-12.00", "9.99"][k % 4].parse().unwrap(),
                currency: "EUR".into(),
            },
            occurred_at: t0() - CDuration::days(5 + 20 * k as i64),
        })
        .collect()
}

fn history(id: &str) -> Vec<HistoryEntry> {
    (0..8)
        .map(|k| HistoryEntry {
            at: t0() - CDuration::days(2 + 9 * k as i64),
            kind: if k % 2 == 0 {
                HistoryKind::Feedback
            } else {
                HistoryKind::Reply
            },
            channel: [Channel::X, Channel::Email, Channel::Instagram][k % 3],
            summary: format!(
                "{} ({id})",
                ["Asked about delivery", "Sent tracking link"][k % 2]
            ),
            feedback_id: Some(format!("fb_old_{k}")),
            sentiment: (k % 2 == 0).then_some(-0.3 + 0.1 * k as f64),
        })
        .collect()
}

/// The item's post, then a public thread of others joining and agents answering, some of it
/// long enough to wrap (what the conversation view draws).
fn thread_of(fb: &Feedback) -> Vec<Message> {
    let mut thread = vec![post_of(fb)];
    for k in 0..8 {
        let outbound = k % 3 == 1;
        thread.push(Message {
            id: format!("msg_{}_{k}", fb.id),
            direction: if outbound { Direction::Outbound } else { Direction::Inbound },
            address: if outbound { fb.author.handle.clone() } else { format!("other_{k}") },
            author: if outbound { "Bo Lindqvist".into() } else { format!("Other {k}") },
            body: format!(
                "Reply {k} on the thread: {} Same here since last week, and nobody answered the two emails I sent about it.",
                fb.text
            ),
            delivery_status: if outbound { DeliveryStatus::Delivered } else { DeliveryStatus::Received },
            feedback_id: Some(format!("{}_{k}", fb.id)),
            created_at: fb.received_at + CDuration::minutes(k as i64 + 1),
            ..post_of(fb)
        });
    }
    thread
}

fn post_of(fb: &Feedback) -> Message {
    Message {
        id: format!("msg_{}", fb.id),
        thread_id: fb.thread_id.clone(),
        feedback_id: Some(fb.id.clone()),
        direction: Direction::Inbound,
        visibility: Visibility::Public,
        channel: fb.channel,
        address: fb.author.handle.clone(),
        author: fb.author.display_name.clone(),
        body: fb.text.clone(),
        delivery_status: DeliveryStatus::Received,
        status_reason: None,
        reply_id: None,
        created_at: fb.received_at,
    }
}

fn agent(id: &str, name: &str, dept: &str) -> Agent {
    Agent {
        id: id.into(),
        name: name.into(),
        role: AgentRole::Agent,
        departments: vec![dept.into()],
        availability: Default::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// The model, built the way the app builds it

/// Answer the effects a backend would answer (customer, history, transactions, thread, timers),
/// feeding the results to `update` as the app's loop does. Everything else is dropped.
fn serve(m: &mut Model, fx: Vec<Effect>) {
    let mut queue = fx;
    let mut rounds = 0;
    while !queue.is_empty() && rounds < 8 {
        rounds += 1;
        let mut next = Vec::new();
        for f in std::mem::take(&mut queue) {
            let msg = match f {
                Effect::LoadCustomer(id) => Msg::Customer {
                    result: Ok(customer(&id)),
                    id,
                },
                Effect::LoadHistory(id) => Msg::History {
                    result: Ok(Page {
                        items: history(&id),
                        next_cursor: None,
                    }),
                    id,
                },
                Effect::LoadTransactions(id) => Msg::Transactions {
                    result: Ok(Page {
                        items: transactions(&id),
                        next_cursor: None,
                    }),
                    id,
                },
                Effect::LoadThread(id) => {
                    let Some(fb) = m.stream.get(&id).map(|r| r.fb.clone()) else {
                        continue;
                    };
                    Msg::Thread {
                        result: Ok(FeedbackDetail {
                            thread: thread_of(&fb),
                            feedback: fb,
                            authors: vec![],
                            participants: vec![],
                        }),
                        id,
                    }
                }
                Effect::Wake { wake, .. } => Msg::Wake(wake),
                _ => continue,
            };
            next.extend(update::update(m, msg));
        }
        queue = next;
    }
}

/// `n` items loaded, signed in, connected, rules compiled, customer of the selection loaded:
/// `app::run` + `update::init` + the answers of its effects.
fn scene(items: &[Feedback], w: u16, h: u16) -> Model {
    let (keymap, _) = Keymap::load(None, None);
    let (canned, _) = canned::load(None);
    let mut m = Model::new(
        t0(),
        keymap,
        Theme::builtin("default", ColorDepth::TrueColor),
        "benchseed".into(),
    );
    m.canned = canned;
    m.size = (w, h);
    let fx = update::init(&mut m);
    let mut pending = Vec::new();
    let mut generation = 1;
    for f in fx {
        match f {
            Effect::LoadFeedback { generation: g, .. } => generation = g,
            other => pending.push(other),
        }
    }
    let mut fx = update::update(
        &mut m,
        Msg::Me(Ok(Me {
            agent: agent("agt_me", "Sam Agent", "support"),
            // What the server gives an agent's token: without `reply` the console is read-only
            // and the composer never opens.
            scopes: AgentRole::Agent.scopes(),
        })),
    );
    fx.extend(update::update(
        &mut m,
        Msg::Agents(Ok(vec![
            agent("agt_me", "Sam Agent", "support"),
            agent("agt_bo", "Bo Lindqvist", "billing"),
            agent("agt_kim", "Kim Park", "shipping"),
            agent("agt_lu", "Lu Chen", "tech"),
        ])),
    ));
    fx.extend(update::update(
        &mut m,
        Msg::Departments(Ok(DEPARTMENTS
            .iter()
            .map(|d| Department {
                id: d.to_string(),
                name: d.to_string(),
            })
            .collect())),
    ));
    // The first connection asks for the queue again: the page answers that latest request.
    for f in update::update(&mut m, Msg::Stream(earshot::client::StreamItem::Connected)) {
        match f {
            Effect::LoadFeedback { generation: g, .. } => generation = g,
            other => fx.push(other),
        }
    }
    fx.extend(update::update(
        &mut m,
        Msg::FeedbackPage {
            generation,
            result: Ok(Page {
                items: items.to_vec(),
                next_cursor: None,
            }),
        },
    ));
    let rules = CompiledRules::compile(&earshot::client::RulebookSource {
        id: "default".into(),
        version: "1".into(),
        source: earshot::rules::DEFAULT_RULEBOOK.into(),
    })
    .expect("default rulebook compiles");
    fx.extend(update::update(&mut m, Msg::Rules(Ok(Arc::new(rules)))));
    serve(&mut m, fx);
    assert_eq!(m.stream.total(), items.len());
    assert_eq!(m.stream.selected_pos(), Some(0));
    m
}

// ---------------------------------------------------------------------------------------------
// Key scripts: each returns the model to where it started, so they can be cycled.

fn key(s: &str) -> KeyEvent {
    let k = KeyPress::parse(s).unwrap();
    KeyEvent::new(k.code, k.mods)
}

fn text_keys(s: &str) -> Vec<KeyEvent> {
    s.chars()
        .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
        .collect()
}

fn keys(spec: &str) -> Vec<KeyEvent> {
    spec.split(' ').map(key).collect()
}

const REPLY: &str =
    "Hi {first_name}, sorry about the delay with order A1234. A replacement ships today; I'll DM you the tracking link.";

struct Script {
    name: &'static str,
    keys: Vec<KeyEvent>,
}

fn scripts() -> Vec<Script> {
    let mut nav = Vec::new();
    nav.extend(std::iter::repeat_n(key("j"), 20));
    nav.extend(std::iter::repeat_n(key("k"), 5));
    nav.extend(std::iter::repeat_n(key("pagedown"), 5));
    nav.extend(std::iter::repeat_n(key("pageup"), 2));
    nav.extend(keys("G g g j j j k k k"));

    let mut filter = keys("/");
    filter.extend(text_keys("refund"));
    filter.extend(std::iter::repeat_n(key("backspace"), 6));
    // The filter left the selection on a match: back to the newest.
    filter.extend(keys("esc g g"));

    let mut composer = keys("r");
    composer.extend(text_keys(REPLY));
    composer.extend(std::iter::repeat_n(key("backspace"), REPLY.chars().count()));
    composer.extend(keys("esc"));

    // The conversation view open over the stream: scroll, page, zoom, reply from it, back.
    let mut conversation = keys("ret");
    conversation.extend(std::iter::repeat_n(key("j"), 10));
    conversation.extend(std::iter::repeat_n(key("k"), 5));
    conversation.extend(keys("pagedown pagedown pageup G g g z j k z r"));
    conversation.extend(text_keys("Thanks"));
    conversation.extend(std::iter::repeat_n(key("backspace"), 6));
    conversation.extend(keys("esc esc"));

    vec![
        Script {
            name: "stream j/k/pgdn/G/gg",
            keys: nav,
        },
        Script {
            name: "conversation view",
            keys: conversation,
        },
        Script {
            name: "filter / typing",
            keys: filter,
        },
        Script {
            name: "composer typing",
            keys: composer,
        },
    ]
}

/// One keystroke as the app handles it: `update`, then a full frame. Returns the time of each,
/// then (untimed) answers the effects as the backend would, and draws their frame.
/// What one keystroke cost: its `update`, its frame, and (for a filter on a long stream) the
/// slices the loop runs after it until the view is final, with that last frame.
struct KeyCost {
    handled: Duration,
    drawn: Duration,
    /// Zero when the key left no filter work.
    settled: Duration,
    /// The longest single slice (what delays a key typed meanwhile).
    longest_slice: Duration,
}

fn keystroke(m: &mut Model, term: &mut Terminal<TestBackend>, ev: KeyEvent) -> KeyCost {
    let t = Instant::now();
    let fx = update::update(m, Msg::Key(ev));
    let handled = t.elapsed();
    let t = Instant::now();
    term.draw(|f| panes::render(f, m)).unwrap();
    let drawn = t.elapsed();
    m.dirty = false;
    // As `app::run` does when no key waits: the filter's remaining slices, then a frame.
    let (mut settled, mut longest_slice) = (Duration::ZERO, Duration::ZERO);
    let mut fx = fx;
    while m.stream.filtering() {
        let t = Instant::now();
        fx.extend(update::update(m, Msg::ContinueFilter));
        let slice = t.elapsed();
        settled += slice;
        longest_slice = longest_slice.max(slice);
        if !m.stream.filtering() {
            let t = Instant::now();
            term.draw(|f| panes::render(f, m)).unwrap();
            settled += t.elapsed();
            m.dirty = false;
        }
    }
    if !fx.is_empty() {
        serve(m, fx);
        if m.dirty {
            term.draw(|f| panes::render(f, m)).unwrap();
            m.dirty = false;
        }
    }
    KeyCost {
        handled,
        drawn,
        settled,
        longest_slice,
    }
}

fn check_back_at_start(m: &Model, script: &str) {
    assert!(
        m.overlay.is_none()
            && m.stream.filter().is_empty()
            && m.stream.selected_pos() == Some(0)
            && m.pending_keys.is_empty()
            && m.focus == earshot::tui::model::Focus::Stream,
        "script {script} did not return to its start: overlay {:?}, filter {:?}, selected {:?}, pending keys {}, focus {:?}, status {:?}",
        m.overlay.as_ref().map(|_| "open"),
        m.stream.filter(),
        m.stream.selected_pos(),
        m.pending_keys.len(),
        m.focus,
        m.status
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Criterion

fn per_keystroke(c: &mut Criterion) {
    let big = feedback_items(BIG);
    let base = feedback_items(BASE);
    let mut group = c.benchmark_group("keystroke (update + full render)");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (w, h) in SIZES {
        for (n, items) in [(BASE, &base), (BIG, &big)] {
            let mut m = scene(items, w, h);
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| panes::render(f, &m)).unwrap();
            for s in scripts() {
                let mut i = 0;
                group.bench_function(format!("{w}x{h}/{n} items/{}", s.name), |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            // Everything the key costs, the filter's later slices included.
                            let k = keystroke(&mut m, &mut term, s.keys[i]);
                            total += k.handled + k.drawn + k.settled;
                            i += 1;
                            if i == s.keys.len() {
                                i = 0;
                                check_back_at_start(&m, s.name);
                            }
                        }
                        total
                    })
                });
                // Finish the cycle so the next script starts from the start.
                while i != 0 {
                    keystroke(&mut m, &mut term, s.keys[i]);
                    i = (i + 1) % s.keys.len();
                }
                check_back_at_start(&m, s.name);
            }
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 1b. Our own percentiles per keystroke, 100k against 1k in the same run

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

struct Samples {
    total: Vec<Duration>,
    update: Vec<Duration>,
    render: Vec<Duration>,
    /// The slowest key and its time.
    worst: (Duration, String),
    /// `update` times of each key of the script, by position.
    by_key: Vec<Vec<Duration>>,
    /// Key to final view: the key, its frame, the filter's later slices and their frame.
    settled: Vec<Duration>,
    longest_slice: Duration,
}

fn sample(items: &[Feedback], w: u16, h: u16, script: &Script, samples: usize) -> Samples {
    let mut m = scene(items, w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| panes::render(f, &m)).unwrap();
    // One warm-up cycle.
    for ev in &script.keys {
        keystroke(&mut m, &mut term, *ev);
    }
    let cycles = samples.div_ceil(script.keys.len()).max(2);
    let mut s = Samples {
        total: Vec::new(),
        update: Vec::new(),
        render: Vec::new(),
        worst: (Duration::ZERO, String::new()),
        by_key: vec![Vec::new(); script.keys.len()],
        settled: Vec::new(),
        longest_slice: Duration::ZERO,
    };
    for _ in 0..cycles {
        for (k, ev) in script.keys.iter().enumerate() {
            let cost = keystroke(&mut m, &mut term, *ev);
            let (u, d) = (cost.handled, cost.drawn);
            s.settled.push(u + d + cost.settled);
            s.longest_slice = s.longest_slice.max(cost.longest_slice);
            s.by_key[k].push(u);
            s.total.push(u + d);
            s.update.push(u);
            s.render.push(d);
            if u + d > s.worst.0 {
                s.worst = (u + d, format!("{:?}", ev.code));
            }
        }
        check_back_at_start(&m, script.name);
    }
    s.total.sort();
    s.update.sort();
    s.render.sort();
    s.settled.sort();
    s
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn percentiles(quick: bool) {
    let big = feedback_items(BIG);
    let base = feedback_items(BASE);
    let samples = if quick { 50 } else { 2000 };
    println!(
        "\nper-keystroke latency, update + full render into TestBackend (about {samples} keys per row, after one warm-up cycle):"
    );
    println!(
        "  {:<8} {:<22} {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} | {:>6} {:>6} | slowest key at 100k",
        "size", "script", "items", "p50", "p99", "upd p50", "draw p50", "1k p50", "1k p99", "x p50", "x p99"
    );
    let mut filter_detail = None;
    for (w, h) in SIZES {
        for script in scripts() {
            let b = sample(&base, w, h, &script, samples);
            let s = sample(&big, w, h, &script, samples);
            let (p50, p99) = (pct(&s.total, 0.5), pct(&s.total, 0.99));
            let (b50, b99) = (pct(&b.total, 0.5), pct(&b.total, 0.99));
            println!(
                "  {:<8} {:<22} {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} | {:>5.2}x {:>5.2}x | {} {}",
                format!("{w}x{h}"),
                script.name,
                BIG,
                us(p50),
                us(p99),
                us(pct(&s.update, 0.5)),
                us(pct(&s.render, 0.5)),
                us(b50),
                us(b99),
                p50.as_secs_f64() / b50.as_secs_f64(),
                p99.as_secs_f64() / b99.as_secs_f64(),
                s.worst.1,
                us(s.worst.0),
            );
            if script.name.starts_with("filter") {
                println!(
                    "  {:<8} {:<22} {:>9} | key to final view p50 {} p99 {} (1k: {} / {}); longest slice {}",
                    format!("{w}x{h}"),
                    "  filter, settled",
                    BIG,
                    us(pct(&s.settled, 0.5)),
                    us(pct(&s.settled, 0.99)),
                    us(pct(&b.settled, 0.5)),
                    us(pct(&b.settled, 0.99)),
                    us(s.longest_slice),
                );
            }
            if script.name.starts_with("filter") && (w, h) == SIZES[0] {
                filter_detail = Some((script.keys.clone(), s.by_key));
            }
        }
    }
    // The filter is the one script whose handling grows with the stream: each key's `update`.
    if let Some((keys, by_key)) = filter_detail {
        println!("  filter script at {BIG} items, 80x24, median `update` time of each key:");
        let cells: Vec<String> = keys
            .iter()
            .zip(by_key)
            .map(|(ev, mut t)| {
                t.sort();
                let name = match ev.code {
                    KeyCode::Char(c) => c.to_string(),
                    KeyCode::Backspace => "⌫".into(),
                    KeyCode::Esc => "esc".into(),
                    other => format!("{other:?}"),
                };
                format!("{name} {}", us(pct(&t, 0.5)))
            })
            .collect();
        println!("    {}", cells.join(", "));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Bytes on the wire

/// What the terminal receives: a `Write` that keeps every byte, shared with the bench.
#[derive(Clone, Default)]
struct Wire(Rc<RefCell<Vec<u8>>>);

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Wire {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

/// The backend the app draws with (src/tui/terminal.rs).
type WireTerm = Terminal<LeanBackend<Wire>>;

/// Draw as the app's loop does: only when the model is dirty. Returns the bytes written.
fn frame(m: &mut Model, term: &mut WireTerm, wire: &Wire) -> usize {
    let before = wire.len();
    if m.dirty {
        term.draw(|f| panes::render(f, m)).unwrap();
        m.dirty = false;
    }
    wire.len() - before
}

/// A keystroke's frame, then the frame(s) of the backend's answers (profile, thread).
fn key_bytes(m: &mut Model, term: &mut WireTerm, wire: &Wire, ev: KeyEvent) -> (usize, usize) {
    let fx = update::update(m, Msg::Key(ev));
    let key = frame(m, term, wire);
    serve(m, fx);
    let after = frame(m, term, wire);
    (key, after)
}

fn median(mut v: Vec<usize>) -> usize {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn stats(v: &[usize]) -> String {
    if v.is_empty() {
        return "—".into();
    }
    format!(
        "median {:>5}, min {:>5}, max {:>5} (n={})",
        median(v.to_vec()),
        v.iter().min().unwrap(),
        v.iter().max().unwrap(),
        v.len()
    )
}

fn bytes_on_the_wire() {
    let big = feedback_items(BIG);
    println!("\nbytes written to the terminal (ratatui Terminal over the app's LeanBackend, counted), {BIG} items:");
    for (w, h) in SIZES {
        let mut m = scene(&big, w, h);
        let wire = Wire::default();
        let mut term = Terminal::with_options(
            LeanBackend::new(wire.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .unwrap();
        let first = frame(&mut m, &mut term, &wire);

        // One step down the stream: within the page, and when the list scrolls by a row.
        let (mut inside, mut scrolled, mut answers) = (vec![], vec![], vec![]);
        for _ in 0..30 {
            let top = m.stream.top_pos();
            let (k, a) = key_bytes(&mut m, &mut term, &wire, key("j"));
            if m.stream.top_pos() == top {
                inside.push(k);
            } else {
                scrolled.push(k);
            }
            answers.push(a);
        }
        // Back to the newest item, then one keystroke at a time in the composer.
        key_bytes(&mut m, &mut term, &wire, key("g"));
        key_bytes(&mut m, &mut term, &wire, key("g"));
        let (open, _) = key_bytes(&mut m, &mut term, &wire, key("r"));
        let mut typed = vec![];
        for ev in text_keys(REPLY) {
            typed.push(key_bytes(&mut m, &mut term, &wire, ev).0);
        }
        let mut erased = vec![];
        for _ in 0..10 {
            erased.push(key_bytes(&mut m, &mut term, &wire, key("backspace")).0);
        }
        let typed_one = {
            let before = wire.len();
            key_bytes(&mut m, &mut term, &wire, key("x"));
            let sent = String::from_utf8_lossy(&wire.0.borrow()[before..]).to_string();
            key_bytes(&mut m, &mut term, &wire, key("backspace"));
            sent
        };
        // The same with the conversation view open over the stream (Enter, then reply).
        for k in ["esc", "ret"] {
            key_bytes(&mut m, &mut term, &wire, key(k));
        }
        key_bytes(&mut m, &mut term, &wire, key("r"));
        let mut typed_conversation = vec![];
        for ev in text_keys(REPLY) {
            typed_conversation.push(key_bytes(&mut m, &mut term, &wire, ev).0);
        }
        for _ in 0..REPLY.chars().count() {
            key_bytes(&mut m, &mut term, &wire, key("backspace"));
        }
        for k in ["esc", "esc"] {
            key_bytes(&mut m, &mut term, &wire, key(k));
        }

        // Idle: one tick that settles what is pending (status expiry, debounced draft save),
        // then a tick a second for the rest of the minute, as `app::spawn_tick` sends them.
        let fx = update::update(&mut m, Msg::Tick(t0() + CDuration::seconds(10)));
        serve(&mut m, fx);
        frame(&mut m, &mut term, &wire);
        let idle_start = wire.len();
        let mut dirty_ticks = 0;
        for s in 11..60 {
            let fx = update::update(&mut m, Msg::Tick(t0() + CDuration::seconds(s)));
            serve(&mut m, fx);
            if m.dirty {
                dirty_ticks += 1;
            }
            frame(&mut m, &mut term, &wire);
        }
        let idle = wire.len() - idle_start;
        // The clock's minute turns: ages and SLA timers are redrawn (once a minute).
        let _ = update::update(&mut m, Msg::Tick(t0() + CDuration::seconds(60)));
        let minute = frame(&mut m, &mut term, &wire);
        // A redraw forced with nothing changed since the last frame: only ratatui's style reset
        // and hide-cursor sequences (the app never does this: it draws only when dirty).
        let before = wire.len();
        term.draw(|f| panes::render(f, &m)).unwrap();
        let forced = wire.0.borrow()[before..].to_vec();

        // What was sent draws the same screen: replay it through a terminal emulator.
        let mut vt = vt100::Parser::new(h, w, 0);
        vt.process(&wire.0.borrow());
        let screen = vt.screen().contents();
        assert!(screen.contains("Stream ·"), "replayed screen:\n{screen}");

        println!("  {w}x{h}: first full frame {first} B");
        println!(
            "    one step down (j), list does not scroll: {}",
            stats(&inside)
        );
        println!(
            "    one step down (j), list scrolls a row:   {}",
            stats(&scrolled)
        );
        println!(
            "    then the profile/thread answers' frame:  {}",
            stats(&answers)
        );
        println!("    open composer (r): {open} B");
        println!("    composer keystroke (typing):    {}", stats(&typed));
        println!("    composer keystroke (backspace): {}", stats(&erased));
        println!("    one typed character, as sent: {typed_one:?}");
        println!(
            "    composer keystroke, conversation view open: {}",
            stats(&typed_conversation)
        );
        match vim_bytes(w, h) {
            Some((plain, ruler)) => {
                let ours = median(typed.clone());
                println!(
                    "    vim in insert mode, same size (bound): {plain} B plain, {ruler} B with `ruler` (median per key); ours / vim = {:.2}x plain, {:.2}x with ruler",
                    ours as f64 / plain as f64,
                    ours as f64 / ruler as f64
                );
            }
            None => println!("    vim not found or not measurable here: no bound in this run"),
        }
        println!(
            "    idle, 49 ticks within a minute: {idle} B written, {dirty_ticks} ticks set the dirty flag (the loop draws only when it is set)"
        );
        println!(
            "    a redraw forced with no change since the last frame: {} B {:?}",
            forced.len(),
            String::from_utf8_lossy(&forced)
        );
        println!("    the clock's minute turning (ages, SLA redrawn): {minute} B");
    }
}

/// vim's bytes per key typed in insert mode, in a pseudo-terminal of `w`x`h` (median over a
/// sentence), without and with its `ruler` (a column counter, like our meter): the bound the
/// composer is held to (issue 15: within 3x). `None` without a vim.
fn vim_bytes(w: u16, h: u16) -> Option<(usize, usize)> {
    let plain = vim_run(w, h, &[])?;
    let ruler = vim_run(w, h, &["-c", "set ruler"])?;
    Some((plain, ruler))
}

fn vim_run(w: u16, h: u16, extra: &[&str]) -> Option<usize> {
    let mut cmd = portable_pty::CommandBuilder::new("vim");
    cmd.args(["-u", "NONE", "-N", "-n"]);
    cmd.args(extra);
    cmd.env("TERM", "xterm-256color");
    let mut term = pty::Pty::spawn(cmd, h, w).ok()?;
    // Bytes until the terminal has been quiet for `quiet`.
    let settle = |rx: &std::sync::mpsc::Receiver<pty::Chunk>, quiet: Duration| -> usize {
        let mut n = 0;
        while let Ok(chunk) = rx.recv_timeout(quiet) {
            n += chunk.bytes.len();
        }
        n
    };
    settle(&term.rx, Duration::from_millis(800));
    term.write(b"i").ok()?;
    settle(&term.rx, Duration::from_millis(200));
    let mut sizes = Vec::new();
    for b in REPLY.bytes().filter(u8::is_ascii_graphic).take(60) {
        term.write(&[b]).ok()?;
        sizes.push(settle(&term.rx, Duration::from_millis(80)));
    }
    let _ = term.write(b"\x1b:q!\r");
    std::thread::sleep(Duration::from_millis(200));
    let _ = term.child.kill();
    let _ = term.child.wait();
    let m = median(sizes);
    (m > 0).then_some(m)
}

// ---------------------------------------------------------------------------------------------
// 3. Time to first frame of `earshot demo`

struct Run {
    /// Spawn to the first screen showing the stream pane ("Stream").
    first_frame: Duration,
    /// Spawn to the first screen with the stream loaded (items, no "loading…").
    loaded: Option<Duration>,
    /// The app's own figure (`EARSHOT_BENCH=1`): terminal set up to first frame drawn.
    reported: Option<Duration>,
}

/// "Stream · All 123/456": the visible/total figures of the stream's title, once loaded.
fn stream_loaded(screen: &str) -> bool {
    let Some(line) = screen.lines().find(|l| l.contains("Stream ·")) else {
        return false;
    };
    if line.contains("loading") {
        return false;
    }
    line.split(|c: char| !(c.is_ascii_digit() || c == '/'))
        .filter_map(|t| t.split_once('/'))
        .any(|(a, b)| a.parse::<u64>().is_ok_and(|a| a > 0) && b.parse::<u64>().is_ok())
}

/// Parse a `Debug`-printed `Duration` ("12.3ms", "850.1µs", "1.2s").
fn parse_debug_duration(s: &str) -> Option<Duration> {
    let num: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = &s[num.len()..];
    let v: f64 = num.parse().ok()?;
    let secs = if unit.starts_with("ns") {
        v / 1e9
    } else if unit.starts_with("µs") {
        v / 1e6
    } else if unit.starts_with("ms") {
        v / 1e3
    } else if unit.starts_with('s') {
        v
    } else {
        return None;
    };
    Some(Duration::from_secs_f64(secs))
}

fn run_demo(bin: &str, home: &std::path::Path, timeout: Duration) -> Result<Run, String> {
    let (rows, cols) = (24, 80);
    let mut cmd = pty::earshot_command(bin, &["demo"], home);
    cmd.env("EARSHOT_BENCH", "1");
    let mut term = pty::Pty::spawn(cmd, rows, cols)?;
    // Each chunk is stamped by the reader as it arrived (no polling delay): parsing it here
    // does not move the figures.
    let mut vt = vt100::Parser::new(rows, cols, 0);
    let end = Instant::now() + timeout;
    let (mut first, mut loaded) = (None, None);
    let mut out = Vec::new();
    let mut quit_sent = false;
    loop {
        match term.rx.recv_timeout(Duration::from_millis(20)) {
            Ok(chunk) => {
                if loaded.is_none() {
                    let at = chunk.at.duration_since(term.spawned);
                    vt.process(&chunk.bytes);
                    let screen = vt.screen().contents();
                    if first.is_none() && screen.contains("Stream") {
                        first = Some(at);
                    }
                    if stream_loaded(&screen) {
                        loaded = Some(at);
                    }
                }
                out.extend(chunk.bytes);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if loaded.is_some() && !quit_sent {
            // Let it settle a moment, then quit as an agent would.
            std::thread::sleep(Duration::from_millis(200));
            term.write(b"q").map_err(|e| e.to_string())?;
            quit_sent = true;
        }
        if quit_sent {
            if let Ok(Some(_)) = term.child.try_wait() {
                // Drain what the reader still has (the EARSHOT_BENCH line).
                std::thread::sleep(Duration::from_millis(100));
                while let Ok(chunk) = term.rx.try_recv() {
                    out.extend(chunk.bytes);
                }
                break;
            }
        }
        if Instant::now() > end {
            let _ = term.child.kill();
            let mut vt = vt100::Parser::new(rows, cols, 0);
            vt.process(&out);
            return Err(format!("timed out; screen:\n{}", vt.screen().contents()));
        }
    }
    let _ = term.child.wait();
    let text = String::from_utf8_lossy(&out);
    let reported = text
        .find("earshot bench: first frame ")
        .and_then(|i| parse_debug_duration(&text[i + "earshot bench: first frame ".len()..]));
    Ok(Run {
        first_frame: first.ok_or("no frame showed the stream")?,
        loaded,
        reported,
    })
}

fn first_frame(quick: bool) {
    let bin = std::env::var("EARSHOT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_earshot").into());
    let runs: usize = std::env::var("EARSHOT_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 2 } else { 15 });
    let home = tempfile::tempdir().expect("temp dir");
    println!("\ntime to first frame of `earshot demo` in an 80x24 pseudo-terminal ({bin}):");
    let t = Instant::now();
    match run_demo(&bin, home.path(), Duration::from_secs(300)) {
        Ok(_) => println!(
            "  warm-up run (creates the demo database in a temp XDG_DATA_HOME): {:.2} s",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => {
            println!("  warm-up run failed: {e}");
            return;
        }
    }
    let mut first = Vec::new();
    let mut loaded = Vec::new();
    let mut reported = Vec::new();
    for i in 0..runs {
        match run_demo(&bin, home.path(), Duration::from_secs(60)) {
            Ok(r) => {
                first.push(r.first_frame);
                loaded.extend(r.loaded);
                reported.extend(r.reported);
            }
            Err(e) => println!("  run {i} failed: {e}"),
        }
    }
    for v in [&mut first, &mut loaded, &mut reported] {
        v.sort();
    }
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let row = |name: &str, v: &[Duration]| {
        println!(
            "  {name:<58} median {:>9}  p99 {:>9}  min {:>9}  (n={})",
            ms(pct(v, 0.5)),
            ms(pct(v, 0.99)),
            ms(v.first().copied().unwrap_or_default()),
            v.len()
        )
    };
    row("spawn -> first frame showing \"Stream\"", &first);
    row("spawn -> stream loaded (items, no \"loading…\")", &loaded);
    row(
        "app's own EARSHOT_BENCH figure (terminal set up -> frame)",
        &reported,
    );
}

fn main() {
    // `cargo bench --bench console -- --test` runs everything once, quickly.
    let quick = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default().configure_from_args();
    if std::env::var_os("EARSHOT_BENCH_SKIP_CRITERION").is_none() {
        per_keystroke(&mut c);
    }
    percentiles(quick);
    bytes_on_the_wire();
    if std::env::var_os("EARSHOT_BENCH_SKIP_PTY").is_none() {
        first_frame(quick);
    }
    c.final_summary();
}
