//! Tests of the engine as a whole: each kind, conditions, exceptions, vocabulary, overrides,
//! strict loading with locations, spans. Detectors and counters have their own tests beside them.

use super::*;
use crate::domain::{AgentRole, Channel, Override, SentimentLabel, Visibility};

const HEADER: &str = "[rulebook]\nid = \"t\"\nversion = \"1\"\n";

fn book(rules: &str) -> Rulebook {
    let source = format!("{HEADER}{rules}");
    Rulebook::from_toml_str(&source, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(rules: &str) -> RulebookError {
    let source = format!("{HEADER}{rules}");
    match Rulebook::from_toml_str(&source, "t.toml") {
        Ok(_) => panic!("rulebook should be refused"),
        Err(e) => e,
    }
}

fn default_book() -> Rulebook {
    Rulebook::from_toml_str(DEFAULT_RULEBOOK, "rules/default.toml")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn public(text: &str) -> Vec<DraftPart> {
    vec![DraftPart::new(Visibility::Public, text)]
}

fn direct(text: &str) -> Vec<DraftPart> {
    vec![DraftPart::new(Visibility::Direct, text)]
}

/// (rule, matched text) of every violation, in order.
fn found(book: &Rulebook, draft: &[DraftPart], ctx: &CheckContext) -> Vec<(String, String)> {
    let result = book.check(draft, ctx);
    result
        .violations
        .iter()
        .map(|v| {
            let part = draft.iter().find(|p| p.visibility == v.part).unwrap();
            (v.rule.clone(), part.text[v.start..v.end].to_string())
        })
        .collect()
}

fn rules_fired(book: &Rulebook, text: &str, ctx: &CheckContext) -> Vec<String> {
    found(book, &public(text), ctx)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

fn ctx() -> CheckContext {
    CheckContext::default()
}

// --- the default rulebook -------------------------------------------------------------------

#[test]
fn default_rulebook_loads_and_its_examples_pass() {
    let book = default_book();
    assert_eq!(book.id(), "acme-social-care");
    assert_eq!(book.version(), "2026.11.24-1");
    assert!(book.rule_ids().count() >= 18);
    // The served source compiles again to the same rulebook.
    let again = Rulebook::from_toml_str(book.source(), "served").unwrap();
    assert_eq!(again.version(), book.version());
}

#[test]
fn default_rulebook_flags_a_realistic_bad_public_reply() {
    let book = default_book();
    let c = CheckContext {
        channel: Some(Channel::X),
        tier: Some("silver".into()),
        department: Some("billing".into()),
        sentiment: Some(SentimentLabel::Negative),
        ..ctx()
    };
    let text =
        "Happy to hear! We refunded $80 to card 4111 1111 1111 1111, e-mail jane@example.com!";
    let fired = rules_fired(&book, text, &c);
    for rule in [
        "TONE-DEAF-NEGATIVE",
        "REFUND-CAP",
        "PII-CARD",
        "BRAND-SPELLING",
        "PII-EMAIL-PUBLIC",
        "EXCLAMATIONS",
    ] {
        assert!(
            fired.contains(&rule.to_string()),
            "{rule} missing from {fired:?}"
        );
    }
    let result = book.check(&public(text), &c);
    assert!(!result.deliverable);
    assert_eq!(result.rulebook_version, "2026.11.24-1");
}

#[test]
fn default_rulebook_passes_a_good_reply() {
    let book = default_book();
    let c = CheckContext {
        channel: Some(Channel::X),
        tier: Some("gold".into()),
        ..ctx()
    };
    let result = book.check(&public("Sorry about the wait, Sam. Your Acme Gold refund of $40 is on its way: https://acme.help/refunds"), &c);
    assert!(result.deliverable, "{:?}", result.violations);
    assert!(result.violations.is_empty(), "{:?}", result.violations);
}

// --- each kind ----------------------------------------------------------------------------------

#[test]
fn phrase_matches_whole_words_ignoring_case() {
    let b = book("[[rule]]\nid = \"P\"\nkind = \"phrase\"\nphrases = [\"refund\", \"Überweisung\"]\nlevel = \"error\"\n");
    assert_eq!(
        found(&b, &public("A REFUND now."), &ctx()),
        vec![("P".into(), "REFUND".into())]
    );
    assert!(found(&b, &public("refunds and prefund"), &ctx()).is_empty());
    assert_eq!(found(&b, &public("die ÜBERWEISUNG"), &ctx()).len(), 1);
    assert_eq!(found(&b, &public("die überweisung"), &ctx()).len(), 1);
}

#[test]
fn straight_and_curly_apostrophes_are_the_same_phrase() {
    let b = default_book();
    let fin = CheckContext {
        department: Some("finance".into()),
        ..ctx()
    };
    assert_eq!(
        rules_fired(&b, "You can’t lose.", &fin),
        vec!["FIN-PROMISSORY"]
    );
    assert_eq!(
        rules_fired(&b, "You can't lose.", &fin),
        vec!["FIN-PROMISSORY"]
    );
    assert!(format!("{b:?}").contains("acme-social-care"));
}

#[test]
fn phrase_case_sensitive_when_asked() {
    let b = book("[[rule]]\nid = \"P\"\nkind = \"phrase\"\nphrases = [\"Gold\"]\nignore_case = false\nlevel = \"error\"\n");
    assert_eq!(
        found(&b, &public("Gold gold GOLD"), &ctx()),
        vec![("P".into(), "Gold".into())]
    );
}

#[test]
fn overlapping_phrases_of_two_rules_both_fire() {
    let b = book(concat!(
        "[[rule]]\nid = \"A\"\nkind = \"phrase\"\nphrases = [\"full refund\"]\nlevel = \"error\"\n",
        "[[rule]]\nid = \"B\"\nkind = \"phrase\"\nphrases = [\"refund\"]\nlevel = \"warning\"\n",
    ));
    let f = found(&b, &public("a full refund"), &ctx());
    assert_eq!(
        f,
        vec![
            ("A".into(), "full refund".into()),
            ("B".into(), "refund".into())
        ]
    );
}

#[test]
fn substitute_flags_the_key_and_offers_the_value() {
    let b = book("[[rule]]\nid = \"S\"\nkind = \"substitute\"\nswap = { \"e-mail\" = \"email\", \"Acme gold\" = \"Acme Gold\" }\nlevel = \"warning\"\nmessage = \"Write '{expected}', not '{match}'.\"\n");
    let r = b.check(&public("Your Acme gold e-mail"), &ctx());
    assert_eq!(r.violations.len(), 2);
    assert_eq!(r.violations[0].fix.as_deref(), Some("Acme Gold"));
    assert_eq!(
        r.violations[0].message,
        "Write 'Acme Gold', not 'Acme gold'."
    );
    assert_eq!(r.violations[1].fix.as_deref(), Some("email"));
    assert!(r.deliverable, "warnings do not block");
    assert!(b
        .check(&public("Your Acme Gold email"), &ctx())
        .violations
        .is_empty());
}

#[test]
fn pattern_uses_ascii_word_classes_by_default() {
    let rule = |unicode: bool| {
        book(&format!("[[rule]]\nid = \"R\"\nkind = \"pattern\"\npatterns = ['\\bcaf\\w*']\nunicode = {unicode}\nlevel = \"error\"\n"))
    };
    // ASCII: "é" is not a word character, so the match stops before it.
    assert_eq!(
        found(&rule(false), &public("café"), &ctx()),
        vec![("R".into(), "caf".into())]
    );
    assert_eq!(
        found(&rule(true), &public("café"), &ctx()),
        vec![("R".into(), "café".into())]
    );
    assert!(found(&rule(false), &public("decaf"), &ctx()).is_empty());
}

#[test]
fn pattern_with_replace_fix() {
    let b = book("[[rule]]\nid = \"R\"\nkind = \"pattern\"\npatterns = ['(?i)\\basap\\b']\nlevel = \"warning\"\nfix = { action = \"replace\", text = \"as soon as we can\" }\n");
    let r = b.check(&public("We'll fix it ASAP."), &ctx());
    assert_eq!(r.violations[0].fix.as_deref(), Some("as soon as we can"));
}

#[test]
fn pii_cards_are_validated_and_never_repeated() {
    let b = default_book();
    let r = b.check(
        &direct("Card 4111-1111-1111-1111 and 5500 0000 0000 0004."),
        &ctx(),
    );
    let cards: Vec<_> = r
        .violations
        .iter()
        .filter(|v| v.rule == "PII-CARD")
        .collect();
    assert_eq!(cards.len(), 2);
    for v in &cards {
        assert!(
            !v.message.contains("4111-1111-1111-1111")
                && !v.message.contains("5500 0000 0000 0004")
        );
        assert!(!v.overridable);
    }
    assert_eq!(cards[0].fix.as_deref(), Some("****-****-****-1111"));
    // Luhn fails: not a card.
    assert!(
        rules_fired(&b, "Order 4111 1111 1111 1112 shipped.", &ctx())
            .iter()
            .all(|r| r != "PII-CARD")
    );
}

#[test]
fn pii_ibans_are_validated_by_mod_97() {
    let b = default_book();
    for good in [
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "fr14 2004 1010 0505 0001 3m02 606",
    ] {
        assert!(
            rules_fired(&b, &format!("Pay to {good} please"), &ctx())
                .contains(&"PII-IBAN-PUBLIC".into()),
            "{good}"
        );
    }
    for bad in [
        "GB82 WEST 1234 5698 7654 33",
        "DE89370400440532013001",
        "XX00 1234 5678 9012 34",
    ] {
        assert!(
            !rules_fired(&b, &format!("Pay to {bad} please"), &ctx())
                .contains(&"PII-IBAN-PUBLIC".into()),
            "{bad}"
        );
    }
    // Only public replies.
    assert!(found(&b, &direct("Pay to DE89370400440532013000"), &ctx()).is_empty());
    let v = &b
        .check(&public("Pay to DE89 3704 0044 0532 0130 00 now"), &ctx())
        .violations[0];
    assert!(!v.message.contains("0532"));
    assert_eq!(v.fix.as_deref(), Some("**** **** **** **** **30 00"));
}

#[test]
fn pii_email_phone_ssn() {
    let b = default_book();
    let f = found(
        &b,
        &public("Mail jane.doe@example.co.uk or call +1 650-253-0000; SSN 123-45-6789."),
        &ctx(),
    );
    let rules: Vec<_> = f.iter().map(|(r, t)| (r.as_str(), t.as_str())).collect();
    assert!(
        rules.contains(&("PII-EMAIL-PUBLIC", "jane.doe@example.co.uk")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("PII-PHONE-PUBLIC", "+1 650-253-0000")),
        "{rules:?}"
    );
    assert!(rules.contains(&("PII-SSN", "123-45-6789")), "{rules:?}");
    // Never-issued SSNs and implausible phone numbers are not flagged.
    let clean = rules_fired(
        &b,
        "Ticket 666-12-3456, order 12345, call 555-0000.",
        &ctx(),
    );
    assert!(!clean.iter().any(|r| r.starts_with("PII")), "{clean:?}");
}

#[test]
fn amount_cap_depends_on_tier_and_window() {
    let b = default_book();
    let at = |tier: Option<&str>, text: &str| {
        let c = CheckContext {
            tier: tier.map(String::from),
            ..ctx()
        };
        found(&b, &public(text), &c)
            .into_iter()
            .filter(|(r, _)| r.ends_with("-CAP"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        at(Some("standard"), "We refunded $30 today."),
        vec![("REFUND-CAP".into(), "$30".into())]
    );
    assert!(at(Some("silver"), "We refunded $30 today.").is_empty());
    assert!(at(Some("platinum"), "A refund of 1,200 USD is waiting.").len() == 1);
    assert!(
        at(None, "We refunded $3000 today.").is_empty(),
        "unknown tier: not capped"
    );
    assert!(
        at(Some("diamond"), "We refunded $3000 today.").is_empty(),
        "unlisted tier: not capped"
    );
    assert!(
        at(
            Some("standard"),
            "Your $300 order arrived and we will take a look at a refund later."
        )
        .is_empty(),
        "9 words away from the trigger"
    );
    assert_eq!(at(Some("gold"), "Take 25% off").len(), 1);
    assert!(at(Some("gold"), "Take 20% off").is_empty());
    let v = b.check(
        &public("We refunded €30,50."),
        &CheckContext {
            tier: Some("standard".into()),
            ..ctx()
        },
    );
    assert_eq!(
        v.violations[0].message,
        "€30,50 is above the standard refund cap of 25: a supervisor must approve it."
    );
}

#[test]
fn length_rules_point_at_the_overflow() {
    let b = default_book();
    let x = CheckContext {
        channel: Some(Channel::X),
        ..ctx()
    };
    let text = "a".repeat(290);
    let r = b.check(&public(&text), &x);
    let v = r.violations.iter().find(|v| v.rule == "X-LENGTH").unwrap();
    assert_eq!((v.start, v.end, v.level), (280, 290, Level::Error));
    assert!(v.message.contains("290 of 280"), "{}", v.message);
    // warn_at 260
    let r = b.check(&public(&"a".repeat(270)), &x);
    let v = r.violations.iter().find(|v| v.rule == "X-LENGTH").unwrap();
    assert_eq!((v.start, v.level), (260, Level::Warning));
    assert!(r.deliverable);
    // Not on other channels.
    assert!(b
        .check(&public(&text), &ctx())
        .violations
        .iter()
        .all(|v| v.rule != "X-LENGTH"));
}

#[test]
fn sms_and_grapheme_length() {
    let b = default_book();
    let sms = CheckContext {
        channel: Some(Channel::Sms),
        ..ctx()
    };
    assert!(b
        .check(&direct(&"a".repeat(160)), &sms)
        .violations
        .is_empty());
    let r = b.check(&direct(&"a".repeat(161)), &sms);
    assert_eq!(
        (r.violations[0].rule.as_str(), r.violations[0].start),
        ("SMS-LENGTH", 160)
    );
    // One emoji switches to UCS-2: 70 units fit.
    let text = format!("{}😀", "a".repeat(69));
    let r = b.check(&direct(&text), &sms);
    assert_eq!(
        r.violations[0].start, 69,
        "the emoji is the 70th and 71st unit"
    );
    let g = book("[[rule]]\nid = \"G\"\nkind = \"length\"\ncounter = \"graphemes\"\nmax = 3\nlevel = \"error\"\n");
    assert!(g
        .check(&public("e\u{301}👨‍👩‍👧🇫🇷"), &ctx())
        .violations
        .is_empty());
    let r = g.check(&public("e\u{301}👨‍👩‍👧🇫🇷x"), &ctx());
    assert_eq!(r.violations[0].start, "e\u{301}👨‍👩‍👧🇫🇷".len());
}

#[test]
fn links_outside_allowed_domains() {
    let b = default_book();
    let f = found(&b, &public("See https://acme.help/x, docs.acme.com, http://acme.com.evil.io/x and evil.net/acme.com"), &ctx());
    let links: Vec<_> = f
        .iter()
        .filter(|(r, _)| r == "LINKS-ALLOWED")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        links,
        vec!["http://acme.com.evil.io/x", "evil.net/acme.com"]
    );
}

#[test]
fn require_when_triggered_with_append_fix() {
    let b = default_book();
    let fin = CheckContext {
        department: Some("finance".into()),
        ..ctx()
    };
    let r = b.check(&public("Your portfolio grew."), &fin);
    let v = r
        .violations
        .iter()
        .find(|v| v.rule == "FIN-DISCLAIMER")
        .unwrap();
    assert_eq!((v.start, v.end), (0, "Your portfolio grew.".len()));
    assert_eq!(
        v.fix.as_deref(),
        Some("Your portfolio grew. Past performance is no guarantee of future results.")
    );
    let ok = "Your portfolio grew. Past performance is no guarantee of future results.";
    assert!(b.check(&public(ok), &fin).violations.is_empty());
    // Not triggered, or another department.
    assert!(b
        .check(&public("Your card is ready."), &fin)
        .violations
        .is_empty());
    assert!(b
        .check(&public("Your portfolio grew."), &ctx())
        .violations
        .is_empty());
}

#[test]
fn require_without_trigger_always_applies() {
    let b = book(
        "[[rule]]\nid = \"SIG\"\nkind = \"require\"\nany_of = [\"— Acme\"]\nlevel = \"error\"\n",
    );
    assert_eq!(rules_fired(&b, "Hello", &ctx()), vec!["SIG"]);
    assert!(rules_fired(&b, "Hello — Acme", &ctx()).is_empty());
}

#[test]
fn count_marks_each_occurrence_beyond_max() {
    let b = default_book();
    let f = found(&b, &public("Yes! Really! Wow!"), &ctx());
    let bangs: Vec<_> = f.iter().filter(|(r, _)| r == "EXCLAMATIONS").collect();
    assert_eq!(bangs.len(), 2);
    let r = b.check(&public("Yes! Really! Wow!"), &ctx());
    assert_eq!(r.violations[0].start, "Yes! Really".len());
    assert_eq!(r.violations[0].message, "'!' used 3 times: one is plenty.");
}

// --- conditions, exceptions, vocabulary -------------------------------------------------------------

#[test]
fn when_and_unless() {
    let b = default_book();
    let shipping = |tier: &str| CheckContext {
        department: Some("shipping".into()),
        tier: Some(tier.into()),
        ..ctx()
    };
    let text = "It will arrive tomorrow.";
    assert_eq!(
        rules_fired(&b, text, &shipping("gold")),
        vec!["SHIP-PROMISE"]
    );
    assert!(
        rules_fired(&b, text, &shipping("platinum")).is_empty(),
        "unless tier platinum"
    );
    let finance = CheckContext {
        department: Some("finance".into()),
        ..ctx()
    };
    assert!(
        rules_fired(&b, text, &finance).is_empty(),
        "when department does not match"
    );
    assert!(
        rules_fired(&b, text, &ctx()).is_empty(),
        "unknown department fails the condition"
    );
    // Visibility comes from the part.
    let neg = CheckContext {
        sentiment: Some(SentimentLabel::Negative),
        ..ctx()
    };
    assert_eq!(found(&b, &public("Great to hear."), &neg).len(), 1);
    assert!(found(&b, &direct("Great to hear."), &neg).is_empty());
}

#[test]
fn conditions_on_tags_language_and_channel() {
    let b = book(concat!(
        "[[rule]]\nid = \"T\"\nkind = \"phrase\"\nphrases = [\"hi\"]\nlevel = \"error\"\n",
        "when = { tags = [\"vip\", \"press\"], language = [\"en\"], channel = [\"x\", \"sms\"] }\n",
    ));
    let c = |tags: &[&str], lang: &str, ch: Channel| CheckContext {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        language: Some(lang.into()),
        channel: Some(ch),
        ..ctx()
    };
    assert_eq!(
        rules_fired(&b, "hi", &c(&["new", "press"], "en-GB", Channel::X)).len(),
        1
    );
    assert!(rules_fired(&b, "hi", &c(&["new"], "en", Channel::X)).is_empty());
    assert!(rules_fired(&b, "hi", &c(&["vip"], "eng", Channel::X)).is_empty());
    assert!(rules_fired(&b, "hi", &c(&["vip"], "en", Channel::Email)).is_empty());
}

#[test]
fn exceptions_excuse_matches_inside_them() {
    let b = default_book();
    let fin = CheckContext {
        department: Some("finance".into()),
        ..ctx()
    };
    let f = found(
        &b,
        &public("There are no guaranteed returns, but guaranteed returns sell."),
        &fin,
    );
    let promissory: Vec<_> = f.iter().filter(|(r, _)| r == "FIN-PROMISSORY").collect();
    assert_eq!(promissory.len(), 1);
}

#[test]
fn vocabulary_is_never_flagged() {
    let b = book(concat!(
        "[vocabulary]\naccept = [\"Acme Gold\", \"SAVE20\"]\n",
        "[[rule]]\nid = \"G\"\nkind = \"phrase\"\nphrases = [\"gold\"]\nlevel = \"error\"\n",
        "[[rule]]\nid = \"C\"\nkind = \"pattern\"\npatterns = ['\\b[A-Z]+\\d+\\b']\nlevel = \"error\"\n",
    ));
    assert!(b
        .check(&public("Your Acme Gold perks: use SAVE20."), &ctx())
        .violations
        .is_empty());
    assert_eq!(
        rules_fired(&b, "Gold perks: use SAVE30.", &ctx()),
        vec!["G", "C"]
    );
}

// --- results and overrides -----------------------------------------------------------------------

#[test]
fn violations_are_sorted_and_serialise_lowercase() {
    let b = default_book();
    let r = b.check(&public("Calm down! You should have read it! OK!"), &ctx());
    let starts: Vec<_> = r.violations.iter().map(|v| v.start).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["violations"][0]["level"], "warning");
    assert_eq!(json["violations"][0]["part"], "public");
    let back: CheckResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn each_part_is_checked_with_its_own_visibility() {
    let b = default_book();
    let draft = vec![
        DraftPart::new(Visibility::Public, "We've sent you a DM."),
        DraftPart::new(Visibility::Direct, "Reach us at jane@example.com."),
    ];
    assert!(b.check(&draft, &ctx()).deliverable);
    let draft = vec![DraftPart::new(
        Visibility::Public,
        "Reach jane@example.com.",
    )];
    assert!(!b.check(&draft, &ctx()).deliverable);
}

#[test]
fn overrides_follow_the_policy() {
    let b = default_book();
    let c = CheckContext {
        tier: Some("standard".into()),
        ..ctx()
    };
    let r = b.check(&public("We refunded $90 to card 4111 1111 1111 1111."), &c);
    assert!(!r.deliverable);
    let ov = |rule: &str, reason: &str| Override {
        rule: rule.into(),
        reason: reason.into(),
    };
    let good_reason = "Goodwill after three failed deliveries";
    // Card numbers can never be overridden.
    let out = b.check_overrides(
        &r,
        &[ov("REFUND-CAP", good_reason), ov("PII-CARD", good_reason)],
        AgentRole::Supervisor,
    );
    assert!(!out.deliverable);
    assert_eq!(
        out.accepted,
        vec![AcceptedOverride {
            rule: "REFUND-CAP".into(),
            reason: good_reason.into()
        }]
    );
    assert_eq!(out.refused.len(), 1);
    assert_eq!(out.refused[0].reason, RefusalReason::NotAllowed);

    let r = b.check(&public("We refunded $90."), &c);
    let out = b.check_overrides(&r, &[ov("REFUND-CAP", good_reason)], AgentRole::Agent);
    assert!(matches!(
        out.refused[0].reason,
        RefusalReason::RoleNotPermitted { .. }
    ));
    let out = b.check_overrides(&r, &[ov("REFUND-CAP", "because")], AgentRole::Supervisor);
    assert_eq!(
        out.refused[0].reason,
        RefusalReason::ReasonTooShort {
            min_reason_chars: 15,
            given: 7
        }
    );
    let out = b.check_overrides(&r, &[], AgentRole::Supervisor);
    assert_eq!(out.refused[0].reason, RefusalReason::Missing);
    let out = b.check_overrides(
        &r,
        &[ov("REFUND-CAP", good_reason), ov("X-LENGTH", good_reason)],
        AgentRole::Admin,
    );
    assert!(out.deliverable);
    assert_eq!(out.unused, vec!["X-LENGTH".to_string()]);
}

#[test]
fn rules_may_only_tighten_the_override_policy() {
    let base = "[overrides]\nallowed = true\nroles = [\"supervisor\"]\nmin_reason_chars = 10\n";
    let rule = |o: &str| {
        format!("{base}[[rule]]\nid = \"R\"\nkind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"error\"\noverride = {o}\n")
    };
    let ok = book(&rule("{ allowed = true, min_reason_chars = 30 }"));
    let v = &ok.check(&public("x"), &ctx()).violations[0];
    assert_eq!(
        v.override_policy,
        OverridePolicy {
            allowed: true,
            roles: vec![AgentRole::Supervisor],
            min_reason_chars: 30
        }
    );
    let e = load_err(&rule("{ min_reason_chars = 5 }"));
    assert!(e.message.contains("tighten"), "{e}");
    let e = load_err(&rule("{ roles = [\"agent\"] }"));
    assert!(e.message.contains("tighten"), "{e}");
}

// --- strict loading ----------------------------------------------------------------------------------

/// (line, column) of an error, with the message checked to contain `needle`.
fn located(rules: &str, needle: &str) -> (usize, usize) {
    let e = load_err(rules);
    assert!(e.message.contains(needle), "{e}");
    assert_eq!(e.file, "t.toml");
    assert!(e
        .to_string()
        .starts_with(&format!("t.toml:{}:{}: ", e.line, e.column)));
    (e.line, e.column)
}

#[test]
fn unknown_key_is_located() {
    // HEADER is lines 1-3.
    let rules = "[[rule]]\nid = \"A\"\nkind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"error\"\nphrasse = 1\n";
    assert_eq!(located(rules, "phrasse"), (9, 1));
}

#[test]
fn bad_regex_is_located_inside_the_pattern() {
    let rules =
        "[[rule]]\nid = \"A\"\nkind = \"pattern\"\npatterns = ['ab(c']\nlevel = \"error\"\n";
    let (line, col) = located(rules, "bad regex");
    assert_eq!(line, 7);
    assert!((13..=17).contains(&col), "column {col}");
}

#[test]
fn lookaround_and_backreferences_are_refused() {
    let rules = "[[rule]]\nid = \"A\"\nkind = \"pattern\"\npatterns = ['x', 'foo(?=bar)']\nlevel = \"error\"\n";
    assert_eq!(located(rules, "lookaround"), (7, 22), "at the (?=");
    let rules =
        "[[rule]]\nid = \"A\"\nkind = \"pattern\"\npatterns = ['(a)\\1']\nlevel = \"error\"\n";
    assert_eq!(located(rules, "backreference").0, 7);
    let rules = "[[rule]]\nid = \"A\"\nkind = \"require\"\nany_of = [\"x\"]\ntrigger = { patterns = ['(?<!a)b'] }\nlevel = \"error\"\n";
    assert_eq!(located(rules, "lookaround").0, 8);
}

#[test]
fn wrong_type_is_located() {
    let rules = "[[rule]]\nid = \"A\"\nkind = \"length\"\ncounter = \"sms\"\nmax = \"two\"\nlevel = \"error\"\n";
    assert_eq!(located(rules, "invalid type"), (8, 7));
}

#[test]
fn duplicate_ids_are_located_at_the_second() {
    let rule = "[[rule]]\nid = \"A\"\nkind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"error\"\n";
    let e = load_err(&format!("{rule}{rule}"));
    assert_eq!((e.line, e.column), (10, 6));
    assert!(
        e.message.contains("duplicate rule id `A`") && e.message.contains("t.toml:5:6"),
        "{e}"
    );
}

#[test]
fn other_refusals_are_located() {
    let r = |body: &str| format!("[[rule]]\nid = \"A\"\n{body}");
    assert!(
        located(
            &r("kind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"fatal\"\n"),
            "unknown level"
        )
        .0 == 8
    );
    assert!(located(&r("kind = \"phrse\"\nlevel = \"error\"\n"), "unknown kind").0 == 6);
    assert!(
        located(
            &r("kind = \"phrase\"\npatterns = ['x']\nlevel = \"error\"\n"),
            "does not apply"
        )
        .0 == 7
    );
    assert!(
        located(
            &r("kind = \"pii\"\ndetector = \"passport\"\nlevel = \"error\"\n"),
            "unknown detector"
        )
        .0 == 7
    );
    assert!(located(&r("kind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"error\"\nwhen = { channel = [\"fax\"] }\n"), "unknown channel").0 == 9);
    assert!(
        located(
            &r("kind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"error\"\nmessage = \"{mtach}\"\n"),
            "placeholder"
        )
        .0 == 9
    );
    assert!(
        located(
            &r("kind = \"links\"\nallow = [\"https://acme.com\"]\nlevel = \"error\"\n"),
            "bare domain"
        )
        .0 == 7
    );
    let e = Rulebook::from_toml_str(
        "[[rule]]\nid = \"A\"\nkind = \"phrase\"\nphrases = [\"x\"]\nlevel = \"error\"\n",
        "t.toml",
    );
    assert!(e.err().unwrap().message.contains("[rulebook]"));
}

#[test]
fn examples_are_checked_at_load() {
    let rules = "[[rule]]\nid = \"A\"\nkind = \"phrase\"\nphrases = [\"refund\"]\nlevel = \"error\"\nexamples = { bad = [\"no match here\"] }\n";
    let (line, col) = located(rules, "bad example does not fire");
    assert_eq!((line, col), (9, 21));
    let rules = "[[rule]]\nid = \"A\"\nkind = \"phrase\"\nphrases = [\"refund\"]\nlevel = \"error\"\nexamples = { good = [\"a refund\"] }\n";
    assert!(located(rules, "good example fires").0 == 9);
}

#[test]
fn directories_merge_and_refuse_duplicates() {
    let dir = std::env::temp_dir().join(format!("earshot-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rule = |id: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\nkind = \"phrase\"\nphrases = [\"{id}\"]\nlevel = \"error\"\n"
        )
    };
    std::fs::write(dir.join("a.toml"), format!("{HEADER}{}", rule("one"))).unwrap();
    std::fs::write(
        dir.join("b.toml"),
        format!("[vocabulary]\naccept = [\"x\"]\n{}", rule("two")),
    )
    .unwrap();
    let b = Rulebook::load(&dir).unwrap();
    assert_eq!(b.rule_ids().collect::<Vec<_>>(), vec!["one", "two"]);
    let again = Rulebook::from_toml_str(b.source(), "served").unwrap();
    assert_eq!(again.rule_ids().count(), 2);
    std::fs::write(dir.join("c.toml"), "[vocabulary]\naccept = [\"y\"]\n").unwrap();
    let e = Rulebook::load(&dir).err().unwrap();
    assert!(
        e.file.ends_with("c.toml") && e.message.contains("[vocabulary] is already defined"),
        "{e}"
    );
    std::fs::write(dir.join("c.toml"), rule("one")).unwrap();
    let e = Rulebook::load(&dir).err().unwrap();
    assert!(
        e.file.ends_with("c.toml") && e.message.contains("duplicate"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- spans ----------------------------------------------------------------------------------------------

#[test]
fn spans_are_char_boundaries_in_non_ascii_text() {
    let b = default_book();
    let c = CheckContext {
        channel: Some(Channel::X),
        tier: Some("standard".into()),
        department: Some("finance".into()),
        sentiment: Some(SentimentLabel::Negative),
        ..ctx()
    };
    let text = "Ça va ! 😷 Überweisung: refund €300 — guaranteed returns 💸 投资 returns! e-mail é@x.fr ÉÉÉ ÀÀÀ ÔÔÔ! ".repeat(4);
    let r = b.check(&public(&text), &c);
    assert!(!r.violations.is_empty());
    for v in &r.violations {
        assert!(v.start <= v.end && v.end <= text.len(), "{v:?}");
        assert!(
            text.is_char_boundary(v.start) && text.is_char_boundary(v.end),
            "{v:?}"
        );
    }
}

#[test]
fn context_cache_is_shared_and_bounded() {
    let b = default_book();
    for i in 0..5000 {
        let c = CheckContext {
            tags: vec![format!("t{i}")],
            ..ctx()
        };
        b.check(&public("ok"), &c);
    }
    assert!(b.cache.len() <= 4096);
}

#[test]
fn rulebook_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rulebook>();
}

// --- properties ------------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static BOOK: LazyLock<Rulebook> = LazyLock::new(default_book);

    /// Arbitrary Unicode mixed with fragments that make every rule kind work for its living.
    fn draft_text() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            any::<String>(),
            "\\PC{0,12}",
            Just("refund $300 ".to_string()),
            Just("50% off ".to_string()),
            Just("4111 1111 1111 1111".to_string()),
            Just("DE89 3704 0044 0532 0130 00".to_string()),
            Just("jane@example.com".to_string()),
            Just("+1 650 253 0000".to_string()),
            Just("https://evil.example/ü".to_string()),
            Just("guaranteed returns".to_string()),
            Just("e-mail!!".to_string()),
            Just("👨‍👩‍👧é\u{301}投资".to_string()),
        ];
        prop::collection::vec(fragment, 0..8).prop_map(|v| v.concat())
    }

    fn context() -> impl Strategy<Value = CheckContext> {
        (
            prop::option::of(prop::sample::select(Channel::ALL.to_vec())),
            prop::option::of(prop::sample::select(vec![
                "standard", "silver", "gold", "platinum", "x",
            ])),
            prop::option::of(prop::sample::select(vec![
                "support", "billing", "finance", "shipping", "social",
            ])),
            prop::option::of(prop::sample::select(SentimentLabel::ALL.to_vec())),
        )
            .prop_map(|(channel, tier, department, sentiment)| CheckContext {
                channel,
                tier: tier.map(String::from),
                department: department.map(String::from),
                sentiment,
                ..CheckContext::default()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn check_never_panics_and_spans_are_valid(text in draft_text(), ctx in context(), direct in any::<bool>()) {
            let vis = if direct { Visibility::Direct } else { Visibility::Public };
            let draft = vec![DraftPart::new(vis, text.clone())];
            let result = BOOK.check(&draft, &ctx);
            let mut last = (0, 0);
            for v in &result.violations {
                prop_assert!(v.start <= v.end && v.end <= text.len(), "{:?}", v);
                prop_assert!(text.is_char_boundary(v.start) && text.is_char_boundary(v.end), "{:?}", v);
                prop_assert!((v.start, v.end) >= last, "sorted");
                last = (v.start, v.end);
                prop_assert_eq!(v.part, vis);
            }
            prop_assert_eq!(result.deliverable, !result.violations.iter().any(|v| v.level == Level::Error));
        }

        #[test]
        fn loading_arbitrary_text_never_panics(source in "\\PC{0,200}") {
            let _ = Rulebook::from_toml_str(&source, "fuzz.toml");
        }
    }
}

#[test]
fn phone_examples_wait_for_a_text_with_a_digit_when_loaded_for_one_check() {
    // A good example that the phone detector flags: the rulebook is wrong.
    let rules = "[[rule]]\nid = \"P\"\nkind = \"pii\"\ndetector = \"phone\"\nlevel = \"error\"\nmessage = \"m\"\nexamples = { good = [\"call (650) 253-0000\"] }\n[[rule]]\nid = \"E\"\nkind = \"pii\"\ndetector = \"email\"\nlevel = \"error\"\nmessage = \"m\"\nexamples = { bad = [\"x@example.com\"] }\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, format!("{HEADER}{rules}")).unwrap();
    // Loaded in full (the server, the console), it is refused at once.
    let err = Rulebook::load(&path).unwrap_err();
    assert!(
        err.message.contains("rule `P`: good example fires"),
        "{err}"
    );
    // For one check, only when the text could hold a phone number.
    let book = Rulebook::load_for_one_check(&path).unwrap();
    assert!(book.verify_for("Thanks, we're on it.").is_ok());
    let err = book.verify_for("Order 88231").unwrap_err();
    assert!(
        err.message.contains("rule `P`: good example fires"),
        "{err}"
    );
    assert_eq!(
        (err.line, err.file.ends_with("t.toml")),
        (10, true),
        "{err}"
    );
    // The other rules' examples are verified at load, as always.
    let broken = rules.replace("bad = [\"x@example.com\"]", "bad = [\"no address\"]");
    std::fs::write(&path, format!("{HEADER}{broken}")).unwrap();
    let err = Rulebook::load_for_one_check(&path).unwrap_err();
    assert!(
        err.message.contains("rule `E`: bad example does not fire"),
        "{err}"
    );
    // A fully loaded rulebook has nothing deferred.
    assert!(default_book().verify_for("call (650) 253-0000").is_ok());
}
