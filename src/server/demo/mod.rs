//! The demo organisation, Acme: departments, agents with well-known tokens, 500 customers with
//! identities on several networks (and unlinked ones), orders and refunds, and 3,000 past
//! feedback items. Seeded from a fixed seed, so every demo database holds the same organisation.

pub mod simulator;
pub mod text;

use super::routing::{self, RoutingRules};
use super::service::intake::{self, Origin};
use super::store::{Intake, NewAgent, NewCustomer, Store, StoreResult};
use crate::domain::api::NewFeedback;
use crate::domain::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use text::Topic;

pub const SEED: u64 = 0x00EA_5807;
pub const CUSTOMERS: usize = 500;
pub const UNLINKED_IDENTITIES: usize = 150;
pub const PAST_FEEDBACK: usize = 3000;

pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("support", "Customer support"),
    ("billing", "Billing"),
    ("shipping", "Shipping"),
    ("finance", "Finance"),
    ("social", "Social media"),
];

/// A demo agent: (id, name, role, departments, token). The tokens are public on purpose: they
/// sign in to a demo database and nothing else.
pub const AGENTS: &[(&str, &str, AgentRole, &[&str], &str)] = &[
    (
        "ag_alice",
        "Alice Martin",
        AgentRole::Agent,
        &["support"],
        "es_demo_alice",
    ),
    (
        "ag_jonas",
        "Jonas Berg",
        AgentRole::Agent,
        &["support"],
        "es_demo_jonas",
    ),
    (
        "ag_bilal",
        "Bilal Haddad",
        AgentRole::Agent,
        &["billing"],
        "es_demo_bilal",
    ),
    (
        "ag_chen",
        "Chen Wei",
        AgentRole::Agent,
        &["shipping"],
        "es_demo_chen",
    ),
    (
        "ag_dana",
        "Dana Okafor",
        AgentRole::Agent,
        &["finance"],
        "es_demo_dana",
    ),
    (
        "ag_eva",
        "Eva Novak",
        AgentRole::Agent,
        &["social"],
        "es_demo_eva",
    ),
    (
        "ag_farah",
        "Farah Supervisor",
        AgentRole::Supervisor,
        &["support", "billing", "shipping", "social"],
        "es_demo_farah",
    ),
    (
        "ag_sam",
        "Sam Admin",
        AgentRole::Admin,
        &["support", "billing", "shipping", "finance", "social"],
        "es_demo_sam",
    ),
];

/// The token `earshot demo` signs in with.
pub const DEMO_CONSOLE_TOKEN: &str = "es_demo_farah";

/// One author the generators can post as.
#[derive(Debug, Clone)]
pub struct Author {
    pub identity: Identity,
    pub customer: Option<(String, String)>, // (id, tier)
}

/// The deterministic part of the organisation that the simulator also posts from.
pub struct Dataset {
    pub customers: Vec<NewCustomer>,
    pub identities: Vec<Identity>,
    pub transactions: Vec<Transaction>,
}

fn cents(n: i64) -> Decimal {
    Decimal::new(n, 2)
}

fn random_tier(rng: &mut impl Rng) -> &'static str {
    match rng.gen_range(0..100) {
        0..=59 => "standard",
        60..=79 => "silver",
        80..=93 => "gold",
        _ => "platinum",
    }
}

/// Builds customers, identities and transactions from the seed.
pub fn dataset(now: i64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let day = 86_400_000_000i64;
    let mut customers = Vec::new();
    let mut identities = Vec::new();
    let mut transactions = Vec::new();
    for n in 0..CUSTOMERS {
        let first = *text::FIRST_NAMES.choose(&mut rng).unwrap_or(&"Alex");
        let last = *text::LAST_NAMES.choose(&mut rng).unwrap_or(&"Doe");
        let id = format!("cu_{n:04}");
        let email = text::handle(Channel::Email, first, last, n as u32)
            .replace("@example.com", &format!("{n}@example.com"));
        let phone = format!("+44 7700 9{:05}", n);
        let since = now - rng.gen_range(30..1500) * day;
        // Orders, refunds and subscriptions; lifetime value is what they paid less what came back.
        let mut ltv = 0i64;
        for t in 0..rng.gen_range(0..14) {
            let amount = rng.gen_range(999..49_999);
            let kind = match rng.gen_range(0..10) {
                0 => TransactionKind::Subscription,
                _ => TransactionKind::Order,
            };
            ltv += amount;
            let at = rng.gen_range(since..now);
            let product = *text::PRODUCTS
                .choose(&mut rng)
                .unwrap_or(&"Acme Kettle Pro");
            transactions.push(Transaction {
                id: format!("tx_{n:04}_{t:02}"),
                customer_id: id.clone(),
                kind,
                reference: format!("AC-{}", 100_000 + n * 100 + t),
                description: product.to_string(),
                amount: Money {
                    amount: cents(amount),
                    currency: "EUR".into(),
                },
                occurred_at: super::store::micros_to_time(at),
            });
            if rng.gen_bool(0.12) {
                let refund = amount / rng.gen_range(1..4);
                ltv -= refund;
                transactions.push(Transaction {
                    id: format!("tx_{n:04}_{t:02}r"),
                    customer_id: id.clone(),
                    kind: TransactionKind::Refund,
                    reference: format!("RF-{}", 100_000 + n * 100 + t),
                    description: format!("Refund: {product}"),
                    amount: Money {
                        amount: cents(-refund),
                        currency: "EUR".into(),
                    },
                    occurred_at: super::store::micros_to_time((at + 5 * day).min(now)),
                });
            }
        }
        let networks = [
            Channel::X,
            Channel::Instagram,
            Channel::Facebook,
            Channel::Linkedin,
            Channel::Forum,
            Channel::Review,
        ];
        let how_many = rng.gen_range(1..4);
        for network in networks.choose_multiple(&mut rng, how_many) {
            identities.push(Identity {
                id: format!("id_{}_{n:04}", network.as_str()),
                network: *network,
                handle: text::handle(*network, first, last, n as u32),
                display_name: format!("{first} {last}"),
                verified: rng.gen_bool(0.3),
                customer_id: Some(id.clone()),
            });
        }
        for (network, address) in [
            (Channel::Email, email.clone()),
            (Channel::Sms, phone.clone()),
            (Channel::Whatsapp, phone.clone()),
            (Channel::Phone, phone.clone()),
        ] {
            identities.push(Identity {
                id: format!("id_{}_{n:04}", network.as_str()),
                network,
                handle: address,
                display_name: format!("{first} {last}"),
                verified: true,
                customer_id: Some(id.clone()),
            });
        }
        let tags: Vec<String> = [
            "newsletter",
            "beta-tester",
            "b2b",
            "vip",
            "complaint-history",
        ]
        .iter()
        .filter(|_| rng.gen_bool(0.15))
        .map(|t| t.to_string())
        .collect();
        customers.push(NewCustomer {
            id,
            external_id: None,
            first_name: first.to_string(),
            last_name: last.to_string(),
            emails: vec![email],
            phones: vec![phone],
            tier: random_tier(&mut rng).to_string(),
            lifetime_value: Money {
                amount: cents(ltv.max(0)),
                currency: "EUR".into(),
            },
            preferences: Preferences {
                language: ["en", "en", "en", "fr", "de", "es", "ja"]
                    .choose(&mut rng)
                    .copied()
                    .unwrap_or("en")
                    .to_string(),
                preferred_channel: *[Channel::Email, Channel::Sms, Channel::Whatsapp]
                    .choose(&mut rng)
                    .unwrap_or(&Channel::Email),
                consents: Consents {
                    email: rng.gen_bool(0.85),
                    sms: rng.gen_bool(0.5),
                    whatsapp: rng.gen_bool(0.4),
                    social_dm: rng.gen_bool(0.7),
                },
            },
            tags,
            created_at: since,
        });
    }
    for n in 0..UNLINKED_IDENTITIES {
        let first = *text::FIRST_NAMES.choose(&mut rng).unwrap_or(&"Sam");
        let last = *text::LAST_NAMES.choose(&mut rng).unwrap_or(&"Lee");
        let network = *[
            Channel::X,
            Channel::Instagram,
            Channel::Forum,
            Channel::Review,
            Channel::Facebook,
        ]
        .choose(&mut rng)
        .unwrap_or(&Channel::X);
        identities.push(Identity {
            id: format!("id_unlinked_{n:04}"),
            network,
            handle: text::handle(network, first, last, 10_000 + n as u32),
            display_name: format!("{first} {last}"),
            verified: false,
            customer_id: None,
        });
    }
    Dataset {
        customers,
        identities,
        transactions,
    }
}

/// Authors by network, for picking who writes a post on a channel.
pub fn authors(data: &Dataset) -> std::collections::HashMap<Channel, Vec<Author>> {
    let tiers: std::collections::HashMap<&str, &str> = data
        .customers
        .iter()
        .map(|c| (c.id.as_str(), c.tier.as_str()))
        .collect();
    let mut by_network: std::collections::HashMap<Channel, Vec<Author>> = Default::default();
    for identity in &data.identities {
        let customer = identity.customer_id.as_ref().map(|c| {
            (
                c.clone(),
                tiers
                    .get(c.as_str())
                    .copied()
                    .unwrap_or("standard")
                    .to_string(),
            )
        });
        by_network
            .entry(identity.network)
            .or_default()
            .push(Author {
                identity: identity.clone(),
                customer,
            });
    }
    by_network
}

/// Maps offline and web channels to the identity network that authors them.
pub fn author_network(channel: Channel) -> Channel {
    match channel {
        Channel::Webchat | Channel::WebForm | Channel::InPerson => Channel::Email,
        other => other,
    }
}

/// Builds one routed intake for a post by `author` on `channel`, triaged by the built-in model
/// (the seed runs before the organisation's model is loaded), as the intake path builds any item.
pub fn intake_for(
    rules: &RoutingRules,
    author: &Author,
    channel: Channel,
    text: String,
    received_at: i64,
) -> Intake {
    let triage = routing::triage(&text);
    let tier = author.customer.as_ref().map(|(_, t)| t.as_str());
    let new = new_feedback(author, channel, text, received_at);
    intake::build(rules, triage, new, tier, received_at, &Origin::system())
}

/// A post by `author` on `channel`, as a listening tool or an agent would send it. Offline and
/// web authors are known by name, so their handle says where they wrote from.
pub fn new_feedback(
    author: &Author,
    channel: Channel,
    text: String,
    received_at: i64,
) -> NewFeedback {
    let name = author.identity.display_name.clone();
    let handle = if matches!(
        channel,
        Channel::InPerson | Channel::Webchat | Channel::WebForm
    ) {
        format!("{name} ({channel})")
    } else {
        author.identity.handle.clone()
    };
    NewFeedback {
        channel,
        text,
        author_handle: handle,
        author_name: Some(name),
        customer_id: author.customer.as_ref().map(|(id, _)| id.clone()),
        thread_id: None,
        url: channel
            .has_public_thread()
            .then(|| format!("https://{channel}.example/acme/posts/{received_at}")),
        received_at: Some(super::store::micros_to_time(received_at)),
        external_id: None,
        parent_external_id: None,
    }
}

/// Seeds the demo organisation if the database has no customers yet; returns whether it did.
pub async fn seed_if_empty(store: &Store) -> StoreResult<bool> {
    if store.customer_count().await? > 0 {
        return Ok(false);
    }
    for (id, name) in DEPARTMENTS {
        store.upsert_department(id, name).await?;
    }
    for (id, name, role, departments, token) in AGENTS {
        let departments: Vec<String> = departments.iter().map(|d| d.to_string()).collect();
        store
            .add_agent_with_token(
                id,
                NewAgent {
                    name,
                    role: *role,
                    departments: &departments,
                    scopes: None,
                },
                token,
            )
            .await?;
    }
    let now = store.now();
    let data = dataset(now);
    store
        .import_customers(&data.customers, &data.identities, &data.transactions)
        .await?;
    let rules =
        RoutingRules::parse(routing::DEFAULT_ROUTING).map_err(super::store::StoreError::Invalid)?;
    let items = past_feedback(&data, &rules, now);
    for chunk in items.chunks(500) {
        store.import_feedback(chunk).await?;
    }
    store.refresh_statistics().await;
    Ok(true)
}

/// 3,000 past items over the last 30 days: most answered or resolved, the newest still open.
fn past_feedback(data: &Dataset, rules: &RoutingRules, now: i64) -> Vec<Intake> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    let by_network = authors(data);
    let span = 30 * 86_400_000_000i64;
    let mut times: Vec<i64> = (0..PAST_FEEDBACK)
        .map(|_| now - rng.gen_range(60_000_000..span))
        .collect();
    times.sort_unstable();
    let mut forum_threads: Vec<String> = Vec::new();
    let mut items = Vec::with_capacity(PAST_FEEDBACK);
    // Its own stream, so that the items themselves stay what they were before answer times.
    let mut answers = ChaCha8Rng::seed_from_u64(SEED + 2);
    for (n, at) in times.into_iter().enumerate() {
        let topic = text::random_topic(&mut rng);
        let channel = text::random_channel(&mut rng, topic);
        let pool = &by_network[&author_network(channel)];
        let author = &pool[rng.gen_range(0..pool.len())];
        let mut intake = intake_for(rules, author, channel, text::post_text(&mut rng, topic), at);
        intake.id = Some(format!("fb_demo_{n:05}"));
        if channel == Channel::Forum {
            if topic == Topic::ForumHelp && !forum_threads.is_empty() {
                intake.thread_id = forum_threads.choose(&mut rng).cloned();
            } else {
                forum_threads.push(format!("fb_demo_{n:05}"));
            }
        }
        let age_hours = (now - at) / 3_600_000_000;
        intake.status = match age_hours {
            0..=6 => *[FeedbackStatus::New, FeedbackStatus::Open]
                .choose(&mut rng)
                .unwrap_or(&FeedbackStatus::New),
            7..=72 => *[
                FeedbackStatus::Open,
                FeedbackStatus::Pending,
                FeedbackStatus::Answered,
            ]
            .choose(&mut rng)
            .unwrap_or(&FeedbackStatus::Open),
            _ => *[
                FeedbackStatus::Answered,
                FeedbackStatus::Resolved,
                FeedbackStatus::Resolved,
            ]
            .choose(&mut rng)
            .unwrap_or(&FeedbackStatus::Resolved),
        };
        past_answer(&mut answers, &mut intake, now);
        items.push(intake);
    }
    items
}

/// When an answered or resolved past item was first answered (2 minutes to 6 hours after it
/// came, most within the hour) and resolved (1 to 48 hours later), never after `now`.
fn past_answer(rng: &mut ChaCha8Rng, intake: &mut Intake, now: i64) {
    const MINUTE: i64 = 60_000_000;
    if !matches!(
        intake.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    ) {
        return;
    }
    let wait = (2.0 * (180f64).powf(rng.gen::<f64>()) * MINUTE as f64) as i64;
    let answered = (intake.received_at + wait).min(now);
    intake.answered_at = Some(answered);
    if intake.status == FeedbackStatus::Resolved {
        let more = rng.gen_range(60 * MINUTE..48 * 60 * MINUTE);
        intake.resolved_at = Some((answered + more).min(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dataset_is_deterministic_and_complete() {
        let a = dataset(1_000_000_000_000_000);
        let b = dataset(1_000_000_000_000_000);
        assert_eq!(a.customers.len(), CUSTOMERS);
        assert_eq!(a.customers[17].first_name, b.customers[17].first_name);
        assert_eq!(a.identities.len(), b.identities.len());
        assert!(a.identities.iter().any(|i| i.customer_id.is_none()));
        assert!(a
            .transactions
            .iter()
            .any(|t| t.kind == TransactionKind::Refund));
        let tiers: std::collections::BTreeSet<&str> =
            a.customers.iter().map(|c| c.tier.as_str()).collect();
        assert_eq!(tiers.len(), 4);
    }
}
