//! Detectors that find something by its shape and then validate it: PII (cards, IBANs, emails,
//! phones, US SSNs), money amounts and percentages, and links.
//!
//! Shapes are cheap ASCII regexes; validation is what keeps "order 4111 1111 1111 1112" from
//! blocking a reply: Luhn for cards (`luhn`), ISO 13616 mod-97 and the country's BBAN format for
//! IBANs (`iban_validate`), RFC 5321 syntax for emails (`email_address`), libphonenumber's
//! metadata for phones (`phonenumber`), and the SSA's never-issued ranges for SSNs.

use regex::Regex;
use rust_decimal::Decimal;
use std::ops::Range;
use std::str::FromStr;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Detector {
    CreditCard,
    Iban,
    Email,
    Phone,
    UsSsn,
}

impl Detector {
    pub fn from_name(name: &str) -> Option<Detector> {
        Some(match name {
            "credit_card" => Detector::CreditCard,
            "iban" => Detector::Iban,
            "email" => Detector::Email,
            "phone" => Detector::Phone,
            "us_ssn" => Detector::UsSsn,
            _ => return None,
        })
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in pattern")
}

static CARD: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)"));
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?-u:\b)[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){11,30}(?-u:\b)"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{2,4}(?:[ .-]?[0-9]{2,4}){1,4}")
});
static SSN: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?-u:\b)([0-9]{3})([- ])([0-9]{2})([- ])([0-9]{4})(?-u:\b)"));

/// Finds validated occurrences of one kind of personal data.
pub(crate) fn find_pii(
    detector: Detector,
    text: &str,
    region: Option<phonenumber::country::Id>,
) -> Vec<Range<usize>> {
    match detector {
        Detector::CreditCard => CARD
            .find_iter(text)
            .filter(|m| is_card(m.as_str()))
            .map(|m| m.range())
            .collect(),
        Detector::Iban => find_ibans(text),
        Detector::Email => find_emails(text),
        Detector::Phone => find_phones(text, region),
        Detector::UsSsn => SSN
            .captures_iter(text)
            .filter(|c| is_ssn(c))
            .map(|c| c.get(0).unwrap().range())
            .collect(),
    }
}

/// 13 to 19 digits starting like a card network (2-6) and passing Luhn.
pub(crate) fn is_card(candidate: &str) -> bool {
    let digits: String = candidate.chars().filter(char::is_ascii_digit).collect();
    (13..=19).contains(&digits.len())
        && matches!(digits.as_bytes()[0], b'2'..=b'6')
        && luhn::valid(&digits)
}

/// The shape may swallow a following word ("... 3000 and"), so shorter prefixes are tried too.
fn find_ibans(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for m in IBAN.find_iter(text) {
        let candidate = m.as_str();
        let ends = candidate
            .char_indices()
            .filter(|(_, c)| c.is_ascii_alphanumeric())
            .map(|(i, _)| i + 1);
        let mut ends: Vec<usize> = ends
            .filter(|&e| e == candidate.len() || candidate[e..].starts_with(' '))
            .collect();
        ends.reverse();
        if let Some(end) = ends.into_iter().find(|&e| is_iban(&candidate[..e])) {
            out.push(m.start()..m.start() + end);
        }
    }
    out
}

pub(crate) fn is_iban(candidate: &str) -> bool {
    let compact: String = candidate
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    compact.len() >= 15 && iban::Iban::from_str(&compact).is_ok()
}

fn find_emails(text: &str) -> Vec<Range<usize>> {
    EMAIL
        .find_iter(text)
        .filter(|m| email_address::EmailAddress::is_valid(m.as_str()))
        .map(|m| m.range())
        .collect()
}

/// A digit run next to the match means it is part of something longer (an order number).
fn find_phones(text: &str, region: Option<phonenumber::country::Id>) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let region = region.unwrap_or(phonenumber::country::Id::US);
    PHONE
        .find_iter(text)
        .filter(|m| {
            let before = m.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end()).copied();
            let glued = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            !glued(before) && !glued(after) && is_phone(m.as_str(), region)
        })
        .map(|m| m.range())
        .collect()
}

fn is_phone(candidate: &str, region: phonenumber::country::Id) -> bool {
    let digits = candidate.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    let region = (!candidate.starts_with('+')).then_some(region);
    phonenumber::parse(region, candidate).is_ok_and(|n| phonenumber::is_valid(&n))
}

/// Never issued: area 000, 666 or 900-999, group 00, serial 0000; both separators alike.
fn is_ssn(c: &regex::Captures<'_>) -> bool {
    let num = |i: usize| c[i].parse::<u32>().unwrap_or(0);
    let (area, group, serial) = (num(1), num(3), num(5));
    c[2] == c[4] && area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Masks letters and digits, keeping separators and the last `keep_last` of them.
pub(crate) fn mask(text: &str, keep_last: usize) -> String {
    let total = text.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if !c.is_alphanumeric() || c == '@' {
                return c;
            }
            seen += 1;
            if seen + keep_last > total {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// How a PII match is named in a message: never the full value.
pub(crate) fn redacted(detector: Detector, text: &str) -> String {
    match detector {
        Detector::Email => match text.split_once('@') {
            Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
            None => mask(text, 0),
        },
        _ => mask(text, 4),
    }
}

/// A money amount or a percentage, as written in a draft.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Amount {
    pub span: Range<usize>,
    pub value: Decimal,
    pub percent: bool,
}

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i)(?:(?P<sign>[$€£])[ ]?(?P<n1>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:[.,](?P<d1>[0-9]{1,2}))?(?-u:\b)",
        r"|(?P<n2>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:[.,](?P<d2>[0-9]{1,2}))?[ ]?",
        r"(?P<unit>%|(?:percent|usd|eur|gbp|dollars?|euros?|pounds?)(?-u:\b)))"
    ))
});

/// Amounts need a currency sign, a currency word or a percent sign: a bare number is too often
/// an order number or a date to be capped.
pub(crate) fn find_amounts(text: &str) -> Vec<Amount> {
    AMOUNT
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let int = c.name("n1").or(c.name("n2"))?.as_str().replace(',', "");
            let frac = c.name("d1").or(c.name("d2")).map_or("", |m| m.as_str());
            let number = if frac.is_empty() {
                int
            } else {
                format!("{int}.{frac}")
            };
            let value = Decimal::from_str(&number).ok()?;
            let percent = c.name("unit").is_some_and(|u| {
                matches!(u.as_str().to_ascii_lowercase().as_str(), "%" | "percent")
            });
            Some(Amount {
                span: whole.range(),
                value,
                percent,
            })
        })
        .collect()
}

/// A URL in a draft and its host, lowercase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Link {
    pub span: Range<usize>,
    pub host: String,
}

/// URLs with or without a scheme ("acme.com/help", "www.example.org"), found by `linkify`.
pub(crate) fn find_links(text: &str) -> Vec<Link> {
    let mut finder = linkify::LinkFinder::new();
    finder
        .kinds(&[linkify::LinkKind::Url])
        .url_must_have_scheme(false);
    finder
        .links(text)
        .filter_map(|l| {
            Some(Link {
                span: l.start()..l.end(),
                host: host_of(l.as_str())?,
            })
        })
        .collect()
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    };
    let host = host.trim_end_matches('.').to_lowercase();
    (!host.is_empty()).then_some(host)
}

/// `host` is `domain` or one of its subdomains.
pub(crate) fn host_allowed(host: &str, allow: &[String]) -> bool {
    allow.iter().any(|d| {
        host == d
            || host
                .strip_suffix(d.as_str())
                .is_some_and(|p| p.ends_with('.'))
    })
}
