//! Per-kind compilation: which fields each kind takes, and what they compile to.

use super::detectors::Detector;
use super::error::RulebookError;
use super::ir::{Cap, Counter, Kind, Role};
use super::matchers::RuleCx;
use super::parse::{non_empty, non_negative, RawRule, SString, Source};
use rust_decimal::Decimal;
use std::str::FromStr;

const KINDS: &[(&str, &[&str])] = &[
    ("phrase", &["phrases", "ignore_case", "fix"]),
    ("substitute", &["swap", "ignore_case"]),
    ("pattern", &["patterns", "unicode", "fix"]),
    ("pii", &["detector", "region", "fix"]),
    ("amount_cap", &["triggers", "window_words", "caps"]),
    ("length", &["counter", "max", "warn_at"]),
    ("links", &["allow"]),
    ("require", &["trigger", "any_of", "fix"]),
    ("count", &["token", "max"]),
];

/// Refuses an unknown kind, and any field that belongs to another kind.
pub(super) fn check_fields(
    src: Source<'_>,
    raw: &RawRule,
    kind: &str,
) -> Result<(), RulebookError> {
    let Some((_, allowed)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let names: Vec<_> = KINDS.iter().map(|(k, _)| *k).collect();
        let message = format!(
            "unknown kind `{kind}`, expected one of: {}",
            names.join(", ")
        );
        return Err(src.error(raw.kind.span(), message));
    };
    for (field, span) in raw.kind_fields() {
        if !allowed.contains(&field) {
            return Err(src.error(span, format!("`{field}` does not apply to kind `{kind}`")));
        }
    }
    Ok(())
}

fn required<'r, T>(
    src: Source<'_>,
    raw: &RawRule,
    value: &'r Option<T>,
    field: &str,
) -> Result<&'r T, RulebookError> {
    value.as_ref().ok_or_else(|| {
        let message = format!(
            "rule `{}`: kind `{}` needs `{field}`",
            raw.id.get_ref(),
            raw.kind.get_ref()
        );
        src.error(raw.kind.span(), message)
    })
}

pub(super) fn compile_kind(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    match raw.kind.get_ref().as_str() {
        "phrase" => {
            let ignore_case = raw.ignore_case.as_ref().is_none_or(|b| *b.get_ref());
            for phrase in required(src, raw, &raw.phrases, "phrases")?.get_ref() {
                non_empty(src, phrase, "a phrase")?;
                cx.literal(phrase.get_ref(), Role::Phrase, ignore_case);
            }
            Ok(Kind::Phrase {
                fix: text_fix(src, raw, "replace")?,
            })
        }
        "substitute" => compile_substitute(cx, raw),
        "pattern" => {
            let unicode = raw.unicode.as_ref().is_some_and(|b| *b.get_ref());
            for pattern in required(src, raw, &raw.patterns, "patterns")?.get_ref() {
                cx.regex(pattern, Role::Pattern, unicode)?;
            }
            Ok(Kind::Pattern {
                fix: text_fix(src, raw, "replace")?,
            })
        }
        "pii" => compile_pii(src, raw),
        "amount_cap" => compile_amount_cap(cx, raw),
        "length" => compile_length(src, raw),
        "links" => {
            let allow = required(src, raw, &raw.allow, "allow")?.get_ref();
            let allow = allow
                .iter()
                .map(|d| domain(src, d))
                .collect::<Result<_, _>>()?;
            Ok(Kind::Links { allow })
        }
        "require" => compile_require(cx, raw),
        "count" => {
            let token = required(src, raw, &raw.token, "token")?;
            non_empty(src, token, "the token")?;
            let max = non_negative(src, required(src, raw, &raw.max, "max")?)?;
            Ok(Kind::Count {
                token: token.get_ref().clone(),
                max,
            })
        }
        _ => unreachable!("kind checked by check_fields"),
    }
}

fn compile_substitute(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    // Case-sensitive by default: "Acme gold" -> "Acme Gold" must not flag the right spelling.
    let ignore_case = raw.ignore_case.as_ref().is_some_and(|b| *b.get_ref());
    let swap = required(src, raw, &raw.swap, "swap")?;
    let mut swaps = Vec::new();
    for (key, value) in swap.get_ref() {
        if key.trim().is_empty() {
            return Err(src.error(swap.span(), "a substitute key must not be empty"));
        }
        cx.literal(key, Role::Swap(swaps.len() as u32), ignore_case);
        swaps.push(value.get_ref().clone());
    }
    Ok(Kind::Substitute { swaps })
}

fn compile_pii(src: Source<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let name = required(src, raw, &raw.detector, "detector")?;
    let detector = Detector::from_name(name.get_ref()).ok_or_else(|| {
        let message = format!(
            "unknown detector `{}`, expected one of: credit_card, iban, email, phone, us_ssn",
            name.get_ref()
        );
        src.error(name.span(), message)
    })?;
    let region = match &raw.region {
        Some(r) if detector != Detector::Phone => {
            return Err(src.error(r.span(), "`region` applies only to the phone detector"));
        }
        Some(r) => Some(
            phonenumber::country::Id::from_str(&r.get_ref().to_ascii_uppercase()).map_err(
                |_| {
                    src.error(
                        r.span(),
                        format!(
                            "unknown region `{}` (use an ISO 3166 code such as US)",
                            r.get_ref()
                        ),
                    )
                },
            )?,
        ),
        None => None,
    };
    let keep_last = match &raw.fix {
        None => None,
        Some(fix) => {
            let f = fix.get_ref();
            expect_action(src, &f.action, "mask")?;
            if let Some(t) = &f.text {
                return Err(src.error(t.span(), "a mask fix takes `keep_last`, not `text`"));
            }
            Some(
                f.keep_last
                    .as_ref()
                    .map_or(Ok(4), |k| non_negative(src, k))?,
            )
        }
    };
    Ok(Kind::Pii {
        detector,
        region,
        keep_last,
    })
}

fn compile_amount_cap(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    for trigger in required(src, raw, &raw.triggers, "triggers")?.get_ref() {
        non_empty(src, trigger, "a trigger")?;
        cx.literal(trigger.get_ref(), Role::Trigger, true);
    }
    let window_words = raw
        .window_words
        .as_ref()
        .map_or(Ok(8), |w| non_negative(src, w))?;
    let mut caps = Vec::new();
    for (tier, cap) in required(src, raw, &raw.caps, "caps")?.get_ref() {
        let c = cap.get_ref();
        let decimal = |v: &Option<toml::Spanned<f64>>| -> Result<Option<Decimal>, RulebookError> {
            let Some(v) = v else { return Ok(None) };
            match Decimal::try_from(*v.get_ref()) {
                Ok(d) if d >= Decimal::ZERO => Ok(Some(d.normalize())),
                _ => Err(src.error(v.span(), "a cap must be a non-negative number")),
            }
        };
        let (amount, percent) = (decimal(&c.amount)?, decimal(&c.percent)?);
        if amount.is_none() && percent.is_none() {
            return Err(src.error(cap.span(), "a cap needs `amount`, `percent` or both"));
        }
        caps.push((tier.clone(), Cap { amount, percent }));
    }
    Ok(Kind::AmountCap { window_words, caps })
}

fn compile_length(src: Source<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let name = required(src, raw, &raw.counter, "counter")?;
    let counter = match name.get_ref().as_str() {
        "x_weighted" => Counter::XWeighted,
        "sms" => Counter::Sms,
        "graphemes" => Counter::Graphemes,
        other => {
            let message =
                format!("unknown counter `{other}`, expected x_weighted, sms or graphemes");
            return Err(src.error(name.span(), message));
        }
    };
    let max_raw = required(src, raw, &raw.max, "max")?;
    let max = non_negative(src, max_raw)?;
    let warn_at = match &raw.warn_at {
        Some(w) if non_negative(src, w)? > max => {
            return Err(src.error(w.span(), "`warn_at` must not be above `max`"));
        }
        Some(w) => Some(non_negative(src, w)?),
        None => None,
    };
    Ok(Kind::Length {
        counter,
        max,
        warn_at,
    })
}

fn compile_require(cx: &mut RuleCx<'_>, raw: &RawRule) -> Result<Kind, RulebookError> {
    let src = cx.src;
    let any_of = required(src, raw, &raw.any_of, "any_of")?.get_ref();
    if any_of.is_empty() {
        return Err(src.error(
            raw.any_of.as_ref().unwrap().span(),
            "`any_of` needs at least one text",
        ));
    }
    for text in any_of {
        non_empty(src, text, "a required text")?;
        cx.literal(text.get_ref(), Role::AnyOf, true);
    }
    if let Some(trigger) = &raw.trigger {
        for pattern in trigger.get_ref().patterns.get_ref() {
            cx.regex(pattern, Role::Trigger, false)?;
        }
    }
    Ok(Kind::Require {
        any_of: any_of.iter().map(|t| t.get_ref().clone()).collect(),
        triggered: raw.trigger.is_some(),
        append: text_fix(src, raw, "append")?,
    })
}

/// A `fix = { action = <expected>, text = "..." }`.
fn text_fix(
    src: Source<'_>,
    raw: &RawRule,
    expected: &str,
) -> Result<Option<String>, RulebookError> {
    let Some(fix) = &raw.fix else { return Ok(None) };
    let f = fix.get_ref();
    expect_action(src, &f.action, expected)?;
    if let Some(k) = &f.keep_last {
        return Err(src.error(
            k.span(),
            format!("an {expected} fix takes `text`, not `keep_last`"),
        ));
    }
    let text = f
        .text
        .as_ref()
        .ok_or_else(|| src.error(fix.span(), "this fix needs `text`"))?;
    Ok(Some(text.get_ref().clone()))
}

fn expect_action(src: Source<'_>, action: &SString, expected: &str) -> Result<(), RulebookError> {
    if action.get_ref() != expected {
        let message = format!(
            "fix action `{}` does not apply here; expected `{expected}`",
            action.get_ref()
        );
        return Err(src.error(action.span(), message));
    }
    Ok(())
}

pub(super) fn default_message(kind: &Kind) -> &'static str {
    match kind {
        Kind::Phrase { .. } | Kind::Pattern { .. } => "'{match}' is not allowed here.",
        Kind::Substitute { .. } => "Write '{expected}', not '{match}'.",
        Kind::Pii { .. } => "Personal data ({match}) must not appear here.",
        Kind::AmountCap { .. } => "{amount} is above the {tier} cap of {cap}.",
        Kind::Length { .. } => "Too long: {used} of {limit}.",
        Kind::Links { .. } => "Links to '{match}' are not allowed.",
        Kind::Require { .. } => "Required text missing: '{expected}'.",
        Kind::Count { .. } => "'{match}' is used {used} times; at most {limit}.",
    }
}

/// An allowed link domain, written bare ("acme.com"), stored lowercase.
fn domain(src: Source<'_>, value: &SString) -> Result<String, RulebookError> {
    let d = value
        .get_ref()
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let bad = d.is_empty() || d.contains(['/', ':', ' ', '@']) || d.starts_with('.');
    if bad {
        return Err(src.error(
            value.span(),
            format!(
                "`{}` is not a bare domain such as acme.com",
                value.get_ref()
            ),
        ));
    }
    Ok(d)
}
