//! Deterministic feedback, customers and models for unit and snapshot tests.
use crate::domain::*;
use chrono::TimeZone;
use chrono::{DateTime, Utc};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap()
}

pub fn identity(n: usize, network: Channel, linked: bool) -> Identity {
    Identity {
        id: format!("idn_{n}"),
        network,
        handle: format!("user{n}"),
        display_name: format!("User {n}"),
        verified: n % 3 == 0,
        customer_id: linked.then(|| format!("cus_{n}")),
    }
}

pub fn feedback(n: usize) -> Feedback {
    let channels = [
        Channel::X,
        Channel::Facebook,
        Channel::Email,
        Channel::Sms,
        Channel::Review,
        Channel::Instagram,
    ];
    let channel = channels[n % channels.len()];
    let texts = [
        "My order #A1234 still hasn't arrived, it's been two weeks. Really disappointed.",
        "Love the new app update, the dark mode is fantastic!",
        "How do I change the delivery address on a subscription?",
        "Refund please. The blender broke after one use.",
        "Support answered in 5 minutes, great service 👍",
        "日本からの注文は可能ですか？",
    ];
    let sentiment = [-0.7, 0.8, 0.0, -0.5, 0.9, 0.1][n % 6];
    let linked = n % 4 != 1;
    Feedback {
        id: format!("fb_{n:05}"),
        channel,
        origin: channel.origin(),
        author: identity(n, channel, linked),
        customer_id: linked.then(|| format!("cus_{n}")),
        text: texts[n % texts.len()].to_string(),
        thread_id: format!("th_{n}"),
        url: Some(format!("https://{}.example/p/{n}", channel.as_str())),
        received_at: t0() - chrono::Duration::minutes((200 - n as i64 * 7).max(1)),
        sentiment,
        sentiment_label: SentimentLabel::from_score(sentiment),
        sentiment_confidence: 0.8,
        kind: crate::domain::FeedbackKind::Other,
        urgency: vec![],
        cues: vec![],
        corrected: false,
        department: if n % 2 == 0 {
            "support".into()
        } else {
            "billing".into()
        },
        assignee: match n % 3 {
            0 => Some("agt_me".into()),
            1 => None,
            _ => Some("agt_bo".into()),
        },
        status: match n % 5 {
            0 | 1 => FeedbackStatus::New,
            2 => FeedbackStatus::Open,
            3 => FeedbackStatus::Answered,
            _ => FeedbackStatus::Pending,
        },
        priority: match n % 7 {
            0 => Priority::High,
            3 => Priority::Urgent,
            5 => Priority::Low,
            _ => Priority::Normal,
        },
        sla_due_at: t0() + chrono::Duration::minutes(n as i64 * 11 - 30),
        version: 1,
        unassigned_reason: None,
        thread_messages: if n % 3 == 0 { 3 } else { 1 },
        author_roles: match n % 5 {
            0 => vec![CustomerRole::Detractor],
            2 => vec![CustomerRole::Helper],
            4 => vec![CustomerRole::PowerUser],
            _ => vec![],
        },
    }
}

pub fn customer(n: usize) -> Customer {
    Customer {
        id: format!("cus_{n}"),
        external_id: None,
        first_name: "Ada".into(),
        last_name: format!("Lovelace{n}"),
        emails: vec![format!("ada{n}@example.com")],
        phones: vec!["+44 20 7946 0958".into()],
        tier: "gold".into(),
        lifetime_value: Money {
            amount: "1234.50".parse().unwrap(),
            currency: "EUR".into(),
        },
        preferences: Preferences {
            language: "en".into(),
            preferred_channel: Channel::Email,
            consents: Consents {
                email: true,
                sms: false,
                whatsapp: false,
                social_dm: true,
            },
        },
        tags: vec!["vip".into()],
        roles: vec![CustomerRole::Advocate, CustomerRole::PowerUser],
        identities: vec![
            identity(n, Channel::X, true),
            identity(n + 100, Channel::Instagram, true),
        ],
        sentiment_trend: vec![-0.4, -0.1, 0.2, 0.5, 0.3, 0.7, 0.9, 0.4],
        created_at: t0() - chrono::Duration::days(400),
    }
}

pub fn transactions(n: usize) -> Vec<Transaction> {
    vec![
        Transaction {
            id: "trx_1".into(),
            customer_id: format!("cus_{n}"),
            kind: TransactionKind::Order,
            reference: "A1234".into(),
            description: "Blender Pro 3000".into(),
            amount: Money {
                amount: "89.90".parse().unwrap(),
                currency: "EUR".into(),
            },
            occurred_at: t0() - chrono::Duration::days(15),
        },
        Transaction {
            id: "trx_0".into(),
            customer_id: format!("cus_{n}"),
            kind: TransactionKind::Refund,
            reference: "R0042".into(),
            description: "Damaged mug".into(),
            amount: Money {
                amount: "-12.00".parse().unwrap(),
                currency: "EUR".into(),
            },
            occurred_at: t0() - chrono::Duration::days(60),
        },
    ]
}

pub fn history(_n: usize) -> Vec<HistoryEntry> {
    vec![
        HistoryEntry {
            at: t0() - chrono::Duration::days(3),
            kind: HistoryKind::Feedback,
            channel: Channel::X,
            summary: "Asked about delivery times".into(),
            feedback_id: Some("fb_old1".into()),
            sentiment: Some(-0.2),
        },
        HistoryEntry {
            at: t0() - chrono::Duration::days(2),
            kind: HistoryKind::Reply,
            channel: Channel::Email,
            summary: "Sent tracking link".into(),
            feedback_id: Some("fb_old1".into()),
            sentiment: None,
        },
    ]
}

pub fn me() -> Agent {
    Agent {
        id: "agt_me".into(),
        name: "Sam Agent".into(),
        role: AgentRole::Agent,
        departments: vec!["support".into()],
        availability: Default::default(),
    }
}

/// The answer to the stream's page request of `generation`: items `0..n`, and no more pages.
pub fn first_page(generation: u64, n: usize) -> crate::tui::msg::Msg {
    crate::tui::msg::Msg::FeedbackPage {
        generation,
        result: Ok(crate::domain::api::Page {
            items: (0..n).map(feedback).collect(),
            next_cursor: None,
        }),
    }
}
