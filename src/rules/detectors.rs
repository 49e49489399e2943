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
    // Capture groups need the slower engines: find with the DFA, then capture on the match only.
    AMOUNT
        .find_iter(text)
        .filter_map(|m| {
            let c = AMOUNT.captures(m.as_str())?;
            let whole = m;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_need_luhn_and_a_network_prefix() {
        for good in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(is_card(good), "{good}");
        }
        for bad in [
            "4111111111111112",
            "0000000000000000",
            "1234567812345670",
            "411111111111",
        ] {
            assert!(!is_card(bad), "{bad}");
        }
    }

    #[test]
    fn ibans_need_mod_97_and_the_country_format() {
        for good in [
            "GB82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "NL91ABNA0417164300",
            "de89370400440532013000",
        ] {
            assert!(is_iban(good), "{good}");
        }
        for bad in [
            "GB82WEST12345698765433",
            "NL91ABNA041716430",
            "ZZ12345678901234",
        ] {
            assert!(!is_iban(bad), "{bad}");
        }
        let text = "IBAN: NL91 ABNA 0417 1643 00 and more";
        let found = find_ibans(text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].clone()], "NL91 ABNA 0417 1643 00");
    }

    #[test]
    fn emails_phones_ssns() {
        let t = "a.b+c@mail.example.org, not@this, x@y.z";
        let spans: Vec<_> = find_pii(Detector::Email, t, None)
            .into_iter()
            .map(|r| &t[r])
            .collect();
        assert_eq!(spans, vec!["a.b+c@mail.example.org"]);
        let t = "call +44 20 7946 0958 or (650) 253-0000, not order 123456789012 or 2026-11-24";
        let spans: Vec<_> = find_pii(Detector::Phone, t, None)
            .into_iter()
            .map(|r| &t[r])
            .collect();
        assert_eq!(spans, vec!["+44 20 7946 0958", "(650) 253-0000"]);
        let t = "123-45-6789 666-45-6789 123-00-6789 123 45 6789 123-45 6789";
        let spans: Vec<_> = find_pii(Detector::UsSsn, t, None)
            .into_iter()
            .map(|r| &t[r])
            .collect();
        assert_eq!(spans, vec!["123-45-6789", "123 45 6789"]);
    }

    #[test]
    fn masks_keep_separators_and_the_last_characters() {
        assert_eq!(mask("4111 1111 1111 1111", 4), "**** **** **** 1111");
        assert_eq!(mask("123-45-6789", 0), "***-**-****");
        assert_eq!(
            redacted(Detector::Email, "jane@example.com"),
            "j***@example.com"
        );
        assert_eq!(
            redacted(Detector::CreditCard, "4111111111111111"),
            "************1111"
        );
    }

    #[test]
    fn amounts_and_percentages() {
        let a =
            find_amounts("Refund $1,250.50, €30,5, 40 EUR, 15% and 20 percent, not 42 or 2026.");
        let got: Vec<_> = a.iter().map(|a| (a.value.to_string(), a.percent)).collect();
        assert_eq!(
            got,
            vec![
                ("1250.50".into(), false),
                ("30.5".into(), false),
                ("40".into(), false),
                ("15".into(), true),
                ("20".into(), true)
            ]
        );
    }

    #[test]
    fn links_and_hosts() {
        let links =
            find_links("See https://Help.Acme.com:443/x?y, www.example.org. and mailto-free text.");
        let hosts: Vec<_> = links.iter().map(|l| l.host.as_str()).collect();
        assert_eq!(hosts, vec!["help.acme.com", "www.example.org"]);
        let allow = vec!["acme.com".to_string()];
        assert!(host_allowed("acme.com", &allow) && host_allowed("help.acme.com", &allow));
        assert!(!host_allowed("notacme.com", &allow) && !host_allowed("acme.com.evil.io", &allow));
    }
}
