//! The `/` filter's language, as gh-dash and k9s users expect: fielded terms combined with free
//! text, e.g. `is:late role:detractor refund`.
//!
//! | term | matches |
//! |---|---|
//! | `is:late` `is:new` `is:unassigned` `is:mine` `is:unread` `is:thread` `is:corrected` `is:urgent` | SLA passed (not answered), status new, nobody assigned, assigned to me, not yet looked at, more than one message on the thread, tone corrected by an agent, priority urgent |
//! | `sentiment:negative` (`tone:`) | the item's tone |
//! | `role:detractor` | a role of the author's customer (`power_user`, `detractor`, `helper`, `advocate`) |
//! | `channel:x` | the channel |
//! | `status:open` | the status |
//! | `priority:high` | the priority |
//! | `kind:complaint` | the kind |
//! | `dept:billing` | the department |
//! | `@handle` | the author's handle contains it |
//!
//! Values may be shortened to a prefix (`sentiment:neg`), so the view stays sensible while the
//! term is typed. Several values of one field are alternatives (`channel:x channel:facebook`);
//! different fields must all hold. A `-` before a term negates it (`-is:answered`). A word
//! with an unknown field (`http://...`) is free text. Free text is the remaining words, matched
//! as one phrase against author, channel, department, assignee, status and text, as before.
//!
//! Everything is applied in the console, over the items it holds (the whole queue up to
//! 100,000): the server's list filters (`status`, `channel`, `assignee`) would cost a round
//! trip per keystroke and lose the live arrivals.

use crate::domain::{CustomerRole, Feedback, FeedbackStatus, Priority};
use chrono::{DateTime, Utc};

/// A fielded term: one predicate on an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Is(String),
    Sentiment(String),
    Role(String),
    Channel(String),
    Status(String),
    Priority(String),
    Kind(String),
    Dept(String),
    Handle(String),
}

impl Term {
    /// The field name, for grouping alternatives.
    fn field(&self) -> &'static str {
        match self {
            Term::Is(_) => "is",
            Term::Sentiment(_) => "sentiment",
            Term::Role(_) => "role",
            Term::Channel(_) => "channel",
            Term::Status(_) => "status",
            Term::Priority(_) => "priority",
            Term::Kind(_) => "kind",
            Term::Dept(_) => "dept",
            Term::Handle(_) => "@",
        }
    }
}

/// A parsed filter: fielded terms (each maybe negated) and the free text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub terms: Vec<(bool, Term)>,
    /// Lower-cased free words joined by single spaces.
    pub text: String,
}

/// Parses a filter line. Never fails: what is not a known term is free text.
pub fn parse(input: &str) -> Query {
    let mut q = Query::default();
    let mut words: Vec<String> = Vec::new();
    for word in input.split_whitespace() {
        let lower = word.to_lowercase();
        let (neg, body) = match lower.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (true, rest.to_string()),
            _ => (false, lower.clone()),
        };
        match term(&body) {
            Some(Some(t)) => q.terms.push((neg, t)),
            // A known field with no value yet (`is:` while typing): no condition.
            Some(None) => {}
            None => words.push(lower),
        }
    }
    q.text = words.join(" ");
    q
}

/// `Some(Some(term))` for a term, `Some(None)` for a known field without a value, `None` for
/// free text.
fn term(word: &str) -> Option<Option<Term>> {
    if let Some(h) = word.strip_prefix('@') {
        return Some((!h.is_empty()).then(|| Term::Handle(h.to_string())));
    }
    let (field, value) = word.split_once(':')?;
    let value = value.to_string();
    let make: fn(String) -> Term = match field {
        "is" => Term::Is,
        "sentiment" | "tone" => Term::Sentiment,
        "role" => Term::Role,
        "channel" | "ch" => Term::Channel,
        "status" => Term::Status,
        "priority" | "pri" => Term::Priority,
        "kind" => Term::Kind,
        "dept" | "department" => Term::Dept,
        _ => return None,
    };
    Some((!value.is_empty()).then(|| make(value)))
}

/// What a term needs to know beyond the item.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub now: DateTime<Utc>,
    pub me: Option<&'a str>,
    pub seen: bool,
}

fn prefix_of(value: &str, name: &str) -> bool {
    name.starts_with(value)
}

fn answered(fb: &Feedback) -> bool {
    matches!(
        fb.status,
        FeedbackStatus::Answered | FeedbackStatus::Resolved
    )
}

/// The `is:` states an item is in.
fn states(fb: &Feedback, f: Facts<'_>) -> impl Iterator<Item = &'static str> {
    [
        ("late", !answered(fb) && fb.sla_due_at < f.now),
        ("new", fb.status == FeedbackStatus::New),
        ("unassigned", fb.assignee.is_none()),
        ("mine", f.me.is_some() && fb.assignee.as_deref() == f.me),
        ("unread", !f.seen),
        ("thread", fb.thread_messages > 1),
        ("corrected", fb.corrected),
        ("urgent", fb.priority == Priority::Urgent),
        ("answered", answered(fb)),
        ("open", !answered(fb)),
    ]
    .into_iter()
    .filter(|(_, yes)| *yes)
    .map(|(name, _)| name)
}

fn role_names(r: CustomerRole) -> &'static str {
    r.as_str()
}

impl Term {
    pub fn matches(&self, fb: &Feedback, f: Facts<'_>) -> bool {
        match self {
            Term::Is(v) => states(fb, f).any(|s| prefix_of(v, s)),
            Term::Sentiment(v) => prefix_of(v, fb.sentiment_label.as_str()),
            Term::Role(v) => fb.author_roles.iter().any(|r| {
                prefix_of(v, role_names(*r)) || prefix_of(v, &role_names(*r).replace('_', ""))
            }),
            Term::Channel(v) => prefix_of(v, fb.channel.as_str()),
            Term::Status(v) => prefix_of(v, fb.status.as_str()),
            Term::Priority(v) => prefix_of(v, fb.priority.as_str()),
            Term::Kind(v) => prefix_of(v, fb.kind.as_str()),
            Term::Dept(v) => prefix_of(v, &fb.department.to_lowercase()),
            Term::Handle(v) => fb.author.handle.to_lowercase().contains(v.as_str()),
        }
    }
}

impl Query {
    pub fn has_terms(&self) -> bool {
        !self.terms.is_empty()
    }

    /// Every field holds: one of its plain values matches and none of its negated ones.
    pub fn matches(&self, fb: &Feedback, f: Facts<'_>) -> bool {
        let mut fields: Vec<&'static str> = self.terms.iter().map(|(_, t)| t.field()).collect();
        fields.dedup();
        fields.iter().all(|field| {
            let of_field = self.terms.iter().filter(|(_, t)| t.field() == *field);
            let mut wanted = false;
            let mut any_plain = false;
            for (neg, t) in of_field {
                let hit = t.matches(fb, f);
                if *neg {
                    if hit {
                        return false;
                    }
                } else {
                    any_plain = true;
                    wanted |= hit;
                }
            }
            wanted || !any_plain
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, SentimentLabel};
    use crate::tui::model::fixtures::{feedback, t0};

    fn facts() -> Facts<'static> {
        Facts {
            now: t0(),
            me: Some("agt_me"),
            seen: false,
        }
    }

    #[test]
    fn fielded_terms_and_free_text_are_told_apart() {
        let q = parse("is:late  Refund @Ada -channel:x see http://a.b/c foo:bar");
        assert_eq!(
            q.terms,
            vec![
                (false, Term::Is("late".into())),
                (false, Term::Handle("ada".into())),
                (true, Term::Channel("x".into())),
            ]
        );
        assert_eq!(q.text, "refund see http://a.b/c foo:bar");
        // A field still being typed sets no condition; a lone `-` or `@` is text / nothing.
        assert_eq!(parse("is:").terms, vec![]);
        assert_eq!(parse("is:").text, "");
        assert_eq!(parse("- a").text, "- a");
        assert!(parse("@").terms.is_empty());
        assert_eq!(parse("").text, "");
    }

    #[test]
    fn each_field_matches_what_it_names() {
        let mut fb = feedback(0);
        fb.sentiment_label = SentimentLabel::Negative;
        fb.author_roles = vec![CustomerRole::Detractor];
        fb.channel = Channel::X;
        fb.status = FeedbackStatus::Open;
        fb.sla_due_at = t0() - chrono::Duration::minutes(5);
        fb.thread_messages = 3;
        fb.author.handle = "AdaL".into();
        let yes = |s: &str| parse(s).matches(&fb, facts());
        for s in [
            "is:late",
            "is:thread",
            "is:unread",
            "is:mine",
            "sentiment:negative",
            "sentiment:neg",
            "tone:n",
            "role:detractor",
            "role:det",
            "channel:x",
            "status:open",
            "@ada",
            "is:late role:detractor",
            "channel:x channel:facebook",
            "-channel:facebook",
            "-is:answered",
        ] {
            assert!(yes(s), "{s} should match");
        }
        for s in [
            "is:unassigned",
            "sentiment:positive",
            "role:helper",
            "channel:facebook",
            "status:new",
            "@bob",
            "is:late role:helper",
            "-channel:x",
            "-is:late",
        ] {
            assert!(!yes(s), "{s} should not match");
        }
        // Answered items are never late.
        fb.status = FeedbackStatus::Answered;
        assert!(!parse("is:late").matches(&fb, facts()));
    }
}
