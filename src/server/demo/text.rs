//! Vocabulary of the demo organisation, Acme: names, products and the posts customers write.
//! Everything is picked with a seeded generator, so the same seed gives the same organisation.

use crate::domain::Channel;
use rand::seq::SliceRandom;
use rand::Rng;

pub const FIRST_NAMES: &[&str] = &[
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Ava",
    "Elijah",
    "Sophia",
    "Mateo",
    "Isabella",
    "Lucas",
    "Mia",
    "Levi",
    "Charlotte",
    "Léa",
    "Chloé",
    "Jules",
    "Zoë",
    "Søren",
    "Ingrid",
    "Björn",
    "Ana",
    "José",
    "Lucía",
    "Javier",
    "Yuki",
    "Haruto",
    "Sakura",
    "Wei",
    "Mei",
    "Aarav",
    "Priya",
    "Ananya",
    "Fatima",
    "Omar",
    "Amina",
    "Kwame",
    "Ngozi",
    "Chidi",
    "Zanele",
    "Dmitri",
    "Olga",
    "Nadia",
    "Tomás",
    "Eilidh",
    "Siobhan",
    "Kai",
    "Leilani",
    "Mateus",
    "Gabriela",
    "Ahmed",
    "Layla",
    "Hyun-woo",
    "Ji-yeon",
    "Thảo",
    "Minh",
    "Rafael",
    "Camille",
    "Noor",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "García",
    "Miller",
    "Davis",
    "Rodríguez",
    "Martínez",
    "Müller",
    "Schmidt",
    "Dubois",
    "Lefèvre",
    "Rossi",
    "Bianchi",
    "Nakamura",
    "Tanaka",
    "Wang",
    "Li",
    "Zhang",
    "Patel",
    "Sharma",
    "Khan",
    "Haddad",
    "Okafor",
    "Mensah",
    "Nguyen",
    "Kim",
    "Park",
    "Ivanova",
    "Kowalski",
    "Nowak",
    "Andersson",
    "Johansson",
    "O'Brien",
    "MacLeod",
    "Fernandes",
    "Silva",
    "Costa",
    "Cohen",
    "Levi",
    "Yilmaz",
    "Demir",
    "Novak",
    "Horvat",
    "Popescu",
    "Papadopoulos",
    "Jensen",
    "Virtanen",
];

pub const PRODUCTS: &[&str] = &[
    "Acme Kettle Pro",
    "Acme SmartPlug",
    "Acme Gold membership",
    "Acme Blender 3000",
    "Acme Air Purifier",
    "Acme Coffee Grinder",
    "the Acme app",
    "Acme Robot Vacuum",
    "Acme Savings Plus",
    "Acme Headphones X",
];

/// A post's topic decides its words and (through routing) its department.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Topic {
    Shipping,
    Billing,
    Support,
    Finance,
    Praise,
    ForumHelp,
    Outage,
}

const SHIPPING: &[&str] = &[
    "My parcel with the {product} still hasn't arrived, order {order}. Tracking says delivered but it is not here.",
    "Delivery was supposed to be Tuesday. It is now Friday. Where is my package? Order {order}",
    "The courier left my {product} in the rain. Box soaked, not impressed.",
    "Third time asking: tracking for order {order} has not moved in a week. This is really frustrating.",
    "Package arrived late and damaged. The {product} has a cracked lid.",
    "Shipping to Ireland took 3 weeks?? Never again.",
];

const BILLING: &[&str] = &[
    "I was charged twice for order {order}. I want a refund for the duplicate payment please.",
    "Why did my subscription renew without notice? Please cancel and refund.",
    "Still waiting on the refund for the {product} I returned a month ago. Order {order}.",
    "Your invoice shows the wrong VAT number, can someone fix the billing details?",
    "Overcharged on my last payment, the price on the site was lower. Terrible.",
    "Can I get a receipt for order {order}? Need it for expenses.",
];

const SUPPORT: &[&str] = &[
    "How do I reset the {product}? The light keeps blinking red.",
    "The {product} stopped connecting to wifi after the update. Any ideas?",
    "Is the {product} compatible with 110V? Moving to Canada next month.",
    "The manual for the {product} is confusing, which button pairs it with the app?",
    "My {product} makes a loud noise when it starts. Is that normal?",
    "Can't log in to the app since yesterday, it says my password is wrong but it is not.",
];

const FINANCE: &[&str] = &[
    "What are the returns on Acme Savings Plus this year? Is my investment safe?",
    "The interest rate on my savings account dropped without notice. Why?",
    "Thinking of moving my portfolio to Acme Savings Plus, what are the fees?",
    "My dividend payment for this quarter is missing from the statement.",
];

const PRAISE: &[&str] = &[
    "Just got my {product} and I love it! Best purchase this year 😍",
    "Shout out to the Acme support team, they fixed my issue in 5 minutes. Amazing service!",
    "The new {product} is fantastic, great job Acme 👏",
    "Honestly the {product} changed my mornings. Highly recommend!",
    "Thanks @Acme for the quick replacement, really happy with it.",
];

const FORUM_HELP: &[&str] = &[
    "Had the same problem with my {product}: hold the power button for 10 seconds, it resets the pairing. Worked for me.",
    "You need the latest firmware, go to Settings > Device > Update. That fixed it here.",
    "Tip: descale it with vinegar once a month and the noise goes away.",
    "Check the router is on 2.4 GHz, the {product} does not support 5 GHz.",
];

const OUTAGE: &[&str] = &[
    "The Acme app is down again. Can't control anything at home. Fix it!",
    "Is the app down for everyone? Getting errors since this morning.",
    "Acme servers down AGAIN. My {product} is useless without the app. Terrible.",
    "Outage? App won't load, website won't load. What is going on @Acme",
    "Nothing works, the app says 'service unavailable'. Really angry.",
];

pub fn post_text(rng: &mut impl Rng, topic: Topic) -> String {
    let templates = match topic {
        Topic::Shipping => SHIPPING,
        Topic::Billing => BILLING,
        Topic::Support => SUPPORT,
        Topic::Finance => FINANCE,
        Topic::Praise => PRAISE,
        Topic::ForumHelp => FORUM_HELP,
        Topic::Outage => OUTAGE,
    };
    let template = templates.choose(rng).copied().unwrap_or("Hello Acme");
    template
        .replace(
            "{product}",
            PRODUCTS.choose(rng).copied().unwrap_or("Acme Kettle Pro"),
        )
        .replace(
            "{order}",
            &format!("AC-{}", rng.gen_range(100_000..999_999)),
        )
}

pub fn random_topic(rng: &mut impl Rng) -> Topic {
    let r: u32 = rng.gen_range(0..100);
    match r {
        0..=21 => Topic::Shipping,
        22..=41 => Topic::Billing,
        42..=66 => Topic::Support,
        67..=72 => Topic::Finance,
        73..=92 => Topic::Praise,
        _ => Topic::ForumHelp,
    }
}

/// Channels weighted as a consumer brand sees them.
pub fn random_channel(rng: &mut impl Rng, topic: Topic) -> Channel {
    if topic == Topic::ForumHelp {
        return Channel::Forum;
    }
    let weighted: &[(Channel, u32)] = &[
        (Channel::X, 22),
        (Channel::Facebook, 10),
        (Channel::Instagram, 8),
        (Channel::Linkedin, 2),
        (Channel::Forum, 8),
        (Channel::Review, 8),
        (Channel::Whatsapp, 6),
        (Channel::Sms, 3),
        (Channel::Email, 14),
        (Channel::Webchat, 7),
        (Channel::Phone, 7),
        (Channel::InPerson, 2),
        (Channel::WebForm, 3),
    ];
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut pick = rng.gen_range(0..total);
    for (channel, w) in weighted {
        if pick < *w {
            return *channel;
        }
        pick -= w;
    }
    Channel::Email
}

/// A handle as it looks on its network; `n` keeps it unique.
pub fn handle(network: Channel, first: &str, last: &str, n: u32) -> String {
    let ascii = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    match network {
        Channel::X | Channel::Instagram => format!("@{}{}{}", ascii(first), ascii(last), n),
        Channel::Facebook | Channel::Linkedin => format!("{}.{}.{}", ascii(first), ascii(last), n),
        Channel::Forum => format!("{}_{}", ascii(first), n),
        Channel::Review => format!("{} {}{}", first, last.chars().next().unwrap_or('X'), n),
        _ => format!("{}.{}@example.com", ascii(first), ascii(last)),
    }
}

#[cfg(test)]
mod triage_regression {
    //! The demo's generated posts and what triage must say of them: complaints negative, tips
    //! not complaints and not negative, praise positive, questions and requests not positive.
    use super::*;
    use crate::domain::{FeedbackKind, SentimentLabel};

    fn filled(t: &str) -> String {
        t.replace("{product}", "Acme Kettle Pro")
            .replace("{order}", "AC-482913")
    }

    #[test]
    fn demo_posts_are_triaged_as_a_person_would() {
        let mut failures = Vec::new();
        let mut check = |t: &str, ok: &dyn Fn(&crate::triage::Triage) -> bool, want: &str| {
            let text = filled(t);
            let got = crate::triage::classify(&text);
            if !ok(&got) {
                failures.push(format!(
                    "{text}\n  want {want}, got {} {} {:?}",
                    got.label, got.kind, got.cues
                ));
            }
        };
        let negative = |t: &crate::triage::Triage| t.label == SentimentLabel::Negative;
        let not_positive = |t: &crate::triage::Triage| t.label != SentimentLabel::Positive;
        for t in SHIPPING.iter().chain(OUTAGE) {
            check(t, &negative, "negative");
        }
        for t in BILLING {
            if t.starts_with("Can I get a receipt") {
                check(t, &not_positive, "not positive");
            } else {
                check(t, &negative, "negative");
            }
        }
        for t in SUPPORT.iter().chain(FINANCE) {
            check(t, &not_positive, "not positive");
        }
        for t in [FINANCE[1], FINANCE[3], SUPPORT[1], SUPPORT[5]] {
            check(t, &negative, "negative");
        }
        for t in PRAISE {
            check(t, &|x| x.label == SentimentLabel::Positive, "positive");
        }
        for t in FORUM_HELP {
            check(
                t,
                &|x| x.label != SentimentLabel::Negative && x.kind != FeedbackKind::Complaint,
                "not negative, not a complaint",
            );
        }
        check(FORUM_HELP[0], &|x| x.kind == FeedbackKind::Tip, "a tip");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
