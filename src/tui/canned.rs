//! Canned replies: the embedded set plus the user's `canned.toml`, a fuzzy picker over their
//! names and bodies (nucleo, from the Helix project), and placeholders filled from the profile.

use super::model::CannedReply;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher};
use serde::Deserialize;

pub const DEFAULT_CANNED: &str = include_str!("canned.toml");

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    reply: Vec<CannedReply>,
}

/// Parse a canned-replies file.
pub fn parse(src: &str, origin: &str) -> Result<Vec<CannedReply>, String> {
    toml::from_str::<File>(src)
        .map(|f| f.reply)
        .map_err(|e| format!("{origin}: {}", e.message()))
}

/// The embedded replies followed by the user's (`None` when there is no user file).
pub fn load(user: Option<(&str, &str)>) -> (Vec<CannedReply>, Vec<String>) {
    let mut all = parse(DEFAULT_CANNED, "canned.toml").unwrap_or_default();
    let mut warnings = Vec::new();
    if let Some((src, origin)) = user {
        match parse(src, origin) {
            Ok(mut r) => all.append(&mut r),
            Err(e) => warnings.push(e),
        }
    }
    (all, warnings)
}

/// Indices of `replies` matching `query`, best first (all, in order, for an empty query).
pub fn fuzzy(replies: &[CannedReply], query: &str) -> Vec<usize> {
    let hay: Vec<String> = replies
        .iter()
        .map(|r| format!("{} {}", r.name, r.body))
        .collect();
    let mut matcher = Matcher::new(Config::DEFAULT);
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let mut scored: Vec<(usize, u32)> = pattern
        .match_list(
            hay.iter().enumerate().map(|(i, h)| Indexed(i, h)),
            &mut matcher,
        )
        .into_iter()
        .map(|(Indexed(i, _), s)| (i, s))
        .collect();
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().map(|(i, _)| i).collect()
}

struct Indexed<'a>(usize, &'a String);

impl AsRef<str> for Indexed<'_> {
    fn as_ref(&self) -> &str {
        self.1
    }
}

/// Values for placeholders; a missing value leaves the placeholder as it is, so the agent (and
/// the rule engine) can see it was not filled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placeholders {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub last_order: Option<String>,
    pub agent: Option<String>,
    pub handle: Option<String>,
    pub channel: Option<String>,
}

pub fn fill(body: &str, p: &Placeholders) -> String {
    let mut out = body.to_string();
    for (name, value) in [
        ("first_name", &p.first_name),
        ("last_name", &p.last_name),
        ("last_order", &p.last_order),
        ("agent", &p.agent),
        ("handle", &p.handle),
        ("channel", &p.channel),
    ] {
        if let Some(v) = value {
            out = out.replace(&format!("{{{name}}}"), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_replies_parse_and_user_file_appends() {
        let (r, w) = load(None);
        assert!(r.len() >= 5 && w.is_empty());
        let (r2, w) = load(Some(("[[reply]]\nname = \"x\"\nbody = \"y\"\n", "user")));
        assert_eq!(r2.len(), r.len() + 1);
        assert!(w.is_empty());
        let (r3, w) = load(Some(("[[reply]]\nname = 3", "user")));
        assert_eq!(r3.len(), r.len());
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn fuzzy_finds_by_name_or_body() {
        let (r, _) = load(None);
        let m = fuzzy(&r, "refund");
        assert_eq!(r[m[0]].name, "Refund started");
        let m = fuzzy(&r, "dm");
        assert!(!m.is_empty());
        assert_eq!(fuzzy(&r, "").len(), r.len());
        assert!(fuzzy(&r, "zzzzqqq").is_empty());
    }

    #[test]
    fn placeholders_fill_or_stay_visible() {
        let p = Placeholders {
            first_name: Some("Ada".into()),
            ..Default::default()
        };
        assert_eq!(
            fill("Hi {first_name}, order {last_order}", &p),
            "Hi Ada, order {last_order}"
        );
    }
}
