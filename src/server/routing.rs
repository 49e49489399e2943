//! Routing of new feedback: triage (the care model of `crate::triage`, layered on VADER), the
//! department from the routing rules file, priority and SLA due time.

use crate::domain::{Channel, FeedbackKind, Priority, SentimentLabel, UrgencyCue};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The default routing rules, embedded so that the server runs with no files around it.
pub const DEFAULT_ROUTING: &str = include_str!("../../rules/routing.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    pub default_department: String,
    #[serde(default)]
    pub sla_hours: HashMap<Priority, i64>,
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    #[serde(default, rename = "priority")]
    pub priorities: Vec<PriorityRule>,
    /// What escalating an item (raising its priority to urgent) does to its SLA.
    #[serde(default)]
    pub escalation: Escalation,
}

/// `[escalation]`: an escalated item is due at most `sla_hours` from the moment it is escalated
/// (an item already due sooner keeps its due time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    #[serde(default = "Escalation::default_sla_hours")]
    pub sla_hours: i64,
}

impl Escalation {
    fn default_sla_hours() -> i64 {
        1
    }
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            sla_hours: Escalation::default_sla_hours(),
        }
    }
}

/// Conditions shared by routes and priority rules: every key given must match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub sentiment: Vec<SentimentLabel>,
    /// Kinds of post (complaint, question, praise, tip, other): any of them.
    #[serde(default)]
    pub kind: Vec<FeedbackKind>,
    /// Urgency cues (legal, cancellation, safety, repeat_contact): any of them found.
    #[serde(default)]
    pub urgency: Vec<UrgencyCue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub department: String,
    #[serde(flatten)]
    pub when: Conditions,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityRule {
    pub level: Priority,
    #[serde(flatten)]
    pub when: Conditions,
}

/// What routing decides for one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub department: String,
    pub priority: Priority,
    pub sla_hours: i64,
}

/// The facts routing looks at.
pub struct Facts<'a> {
    pub text: &'a str,
    pub channel: Channel,
    pub tier: Option<&'a str>,
    pub sentiment: SentimentLabel,
    pub kind: FeedbackKind,
    pub urgency: &'a [UrgencyCue],
}

impl Conditions {
    fn matches(&self, facts: &Facts, lowered_text: &str) -> bool {
        (self.keywords.is_empty()
            || self
                .keywords
                .iter()
                .any(|k| contains_word(lowered_text, &k.to_lowercase())))
            && (self.channels.is_empty() || self.channels.contains(&facts.channel))
            && (self.tiers.is_empty()
                || facts
                    .tier
                    .is_some_and(|t| self.tiers.iter().any(|x| x == t)))
            && (self.sentiment.is_empty() || self.sentiment.contains(&facts.sentiment))
            && (self.kind.is_empty() || self.kind.contains(&facts.kind))
            && (self.urgency.is_empty() || self.urgency.iter().any(|u| facts.urgency.contains(u)))
    }
}

/// `needle` in `haystack` at word boundaries (so "late" does not match "translate").
fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, m)| {
        let before = haystack[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = haystack[i + m.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        before && after
    })
}

impl RoutingRules {
    pub fn parse(source: &str) -> Result<RoutingRules, String> {
        let rules: RoutingRules = toml::from_str(source).map_err(|e| e.to_string())?;
        if !(1..=24 * 365).contains(&rules.escalation.sla_hours) {
            return Err(format!(
                "escalation.sla_hours must be between 1 and {}, not {}",
                24 * 365,
                rules.escalation.sla_hours
            ));
        }
        Ok(rules)
    }

    pub fn load(path: &Path) -> Result<RoutingRules, String> {
        let source =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&source).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Every department the rules name, so the server can check they exist.
    pub fn departments(&self) -> Vec<&str> {
        let mut d: Vec<&str> = std::iter::once(self.default_department.as_str())
            .chain(self.routes.iter().map(|r| r.department.as_str()))
            .collect();
        d.sort();
        d.dedup();
        d
    }

    pub fn decide(&self, facts: &Facts) -> Decision {
        let lowered = facts.text.to_lowercase();
        let department = self
            .routes
            .iter()
            .find(|r| r.when.matches(facts, &lowered))
            .map(|r| r.department.clone())
            .unwrap_or_else(|| self.default_department.clone());
        let priority = self
            .priorities
            .iter()
            .find(|p| p.when.matches(facts, &lowered))
            .map(|p| p.level)
            .unwrap_or(Priority::Normal);
        let sla_hours = self.sla_hours.get(&priority).copied().unwrap_or(24);
        Decision {
            department,
            priority,
            sla_hours,
        }
    }
}

/// VADER's compound score in -1.0..=1.0 (the baseline the care model is measured against).
pub fn sentiment(text: &str) -> f64 {
    crate::triage::vader_compound(text)
}

/// Triage of a new item with the built-in care model (the server uses its organisation's model,
/// `AppState::triage`).
pub fn triage(text: &str) -> crate::triage::Triage {
    crate::triage::classify(text)
}

/// The facts of an item as triage sees it.
pub fn facts<'a>(
    text: &'a str,
    channel: Channel,
    tier: Option<&'a str>,
    t: &'a crate::triage::Triage,
) -> Facts<'a> {
    Facts {
        text,
        channel,
        tier,
        sentiment: t.label,
        kind: t.kind,
        urgency: &t.urgency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(text: &str, channel: Channel, tier: Option<&str>) -> Decision {
        let rules = RoutingRules::parse(DEFAULT_ROUTING).unwrap();
        let t = triage(text);
        rules.decide(&facts(text, channel, tier, &t))
    }

    #[test]
    fn triage_kind_and_urgency_set_priority() {
        // A legal threat is urgent whatever its tone; a helper's tip is low priority.
        let d = decide(
            "Third time asking. My lawyer will hear about this if the refund is not here",
            Channel::Email,
            None,
        );
        assert_eq!(d.priority, Priority::Urgent);
        let d = decide(
            "Had the same problem with mine. Hold the power button for ten seconds. Worked for me.",
            Channel::Forum,
            None,
        );
        assert_eq!(d.priority, Priority::Low);
        let rules = RoutingRules::parse(
            "default_department = \"support\"\n[[priority]]\nlevel = \"high\"\nkind = [\"question\"]\nurgency = [\"cancellation\"]",
        )
        .unwrap();
        let t = crate::triage::Triage {
            label: SentimentLabel::Neutral,
            confidence: 0.5,
            probs: [0.2, 0.5, 0.3],
            kind: FeedbackKind::Question,
            urgency: vec![UrgencyCue::Cancellation],
            cues: vec![],
        };
        assert_eq!(
            rules.decide(&facts("x", Channel::Email, None, &t)).priority,
            Priority::High
        );
        let t = crate::triage::Triage {
            urgency: vec![],
            ..t
        };
        assert_eq!(
            rules.decide(&facts("x", Channel::Email, None, &t)).priority,
            Priority::Normal
        );
    }

    #[test]
    fn default_rules_route_by_keyword_channel_and_sentiment() {
        assert_eq!(
            decide("I want a refund for order 1234", Channel::Email, None).department,
            "billing"
        );
        assert_eq!(
            decide("My parcel never arrived", Channel::X, None).department,
            "shipping"
        );
        assert_eq!(
            decide("Love the new app, great job!", Channel::Instagram, None).department,
            "social"
        );
        assert_eq!(
            decide("How do I reset my password?", Channel::Webchat, None).department,
            "support"
        );
    }

    #[test]
    fn keywords_match_whole_words_only() {
        assert!(contains_word("it came late", "late"));
        assert!(!contains_word("please translate", "late"));
    }

    #[test]
    fn priority_and_sla_follow_tier_and_tone() {
        let d = decide("The app is down again, terrible", Channel::X, None);
        assert_eq!(d.priority, Priority::Urgent);
        assert_eq!(d.sla_hours, 1);
        let d = decide(
            "This is awful, really disappointed",
            Channel::Email,
            Some("platinum"),
        );
        assert_eq!(d.priority, Priority::High);
    }

    #[test]
    fn sentiment_scores_social_text() {
        assert!(sentiment("I love it! 😍") > 0.3);
        assert!(sentiment("Worst service ever, I hate this") < -0.3);
        assert_eq!(sentiment(""), 0.0);
    }

    #[test]
    fn escalation_sla_has_a_default_and_is_checked() {
        let rules = RoutingRules::parse(DEFAULT_ROUTING).unwrap();
        assert_eq!(rules.escalation.sla_hours, 1);
        let rules = RoutingRules::parse("default_department = \"x\"").unwrap();
        assert_eq!(rules.escalation, Escalation::default());
        let rules =
            RoutingRules::parse("default_department = \"x\"\n[escalation]\nsla_hours = 2").unwrap();
        assert_eq!(rules.escalation.sla_hours, 2);
        assert!(
            RoutingRules::parse("default_department = \"x\"\n[escalation]\nsla_hours = 0").is_err()
        );
        assert!(
            RoutingRules::parse("default_department = \"x\"\n[escalation]\nsla_houres = 2")
                .is_err()
        );
    }

    #[test]
    fn broken_routing_file_is_an_error_not_a_panic() {
        assert!(RoutingRules::parse("default_department = 3").is_err());
        assert!(RoutingRules::parse(
            "default_department = \"x\"\n[[route]]\ndepartment = \"a\"\nkeywordz = []"
        )
        .is_err());
    }
}
