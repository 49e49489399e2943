//! The composer bound to its conversation, the override policy, send-and-resolve, bulk results
//! (issue 16 §3, §5, §6).

// These tests look at the model a message leaves; the effects it asks for are often not the point.
#![allow(unused_must_use)]

use super::*;

fn with_default_rules(m: &mut Model) {
    let src = crate::client::RulebookSource {
        id: "default".into(),
        version: "7".into(),
        source: crate::rules::DEFAULT_RULEBOOK.into(),
    };
    let rules = CompiledRules::compile(&src).unwrap();
    update(m, Msg::Rules(Ok(Arc::new(rules))));
}

fn arrive(m: &mut Model, n: usize) -> Vec<Effect> {
    let mut fb = feedback(n);
    fb.received_at = t0() + chrono::Duration::minutes(n as i64);
    update(
        m,
        event(
            EventName::FeedbackCreated,
            serde_json::to_value(fb).unwrap(),
        ),
    )
}

/// The text of the composer's active part.
fn draft(m: &Model) -> String {
    let c = m.composer.as_ref().unwrap();
    c.text(c.active)
}

fn target(m: &Model) -> String {
    m.composer.as_ref().unwrap().feedback_id.clone()
}

#[test]
fn follow_mode_and_arrivals_never_move_an_open_composer() {
    let (mut m, _) = loaded(10);
    keys(&mut m, "f");
    assert!(m.follow);
    keys(&mut m, "j r");
    let mine = target(&m);
    type_text(&mut m, "Dear customer");
    // Arrivals with the composer focused, then with the draft left (Esc) but not empty.
    arrive(&mut m, 50);
    assert_eq!(target(&m), mine);
    keys(&mut m, "esc");
    m.follow = true;
    arrive(&mut m, 51);
    assert_eq!(selected_id(&m), "fb_00051", "follow mode still follows");
    assert_eq!(target(&m), mine, "the composer stayed on its item");
    assert_eq!(draft(&m), "Dear customer");
    // The title names who the reply goes to, and that it is not the selected item.
    let screen = draw_text(&m);
    let who = crate::tui::textutil::handle_label(
        m.stream.get(&mine).unwrap().fb.channel,
        &m.stream.get(&mine).unwrap().fb.author.handle,
    );
    assert!(screen.contains(&format!("Reply to {who}")), "{screen}");
    assert!(screen.contains("not the selected"), "{screen}");
    // Its recipient line is the composer's item's too.
    let to = recipient(
        &m,
        &m.stream.get(&mine).unwrap().fb.clone(),
        m.composer.as_ref().unwrap().active,
    )
    .unwrap_or_default();
    assert!(screen.contains(&to[..to.len().min(12)]), "{to} {screen}");
    // Sending goes to the composer's item, not the selected one.
    keys(&mut m, "3");
    let fx = keys(&mut m, "C-s");
    let sent: Vec<&String> = fx
        .iter()
        .filter_map(|f| match f {
            Effect::SendReply { feedback_id, .. } => Some(feedback_id),
            _ => None,
        })
        .collect();
    assert!(sent.iter().all(|id| **id == mine), "{sent:?}");
}

#[test]
fn refetches_and_filters_move_the_selection_not_the_composer() {
    let (mut m, _) = loaded(10);
    keys(&mut m, "r");
    let mine = target(&m);
    type_text(&mut m, "keep me");
    keys(&mut m, "esc");
    // A filter that hides the composer's item: the selection moves, the composer does not.
    apply_filter(&mut m, "dark mode");
    assert_ne!(selected_id(&m), mine);
    assert_eq!(target(&m), mine);
    apply_filter(&mut m, "");
    // A refetch (stream.reset) with the item's new version.
    let fx = update(
        &mut m,
        event(
            EventName::StreamReset,
            serde_json::json!({"oldest_seq": 1, "latest_seq": 9}),
        ),
    );
    assert!(!fx.is_empty());
    let generation = m.stream.generation;
    update(&mut m, first_page(generation, 12));
    assert_eq!(target(&m), mine);
    assert_eq!(draft(&m), "keep me");
}

#[test]
fn alt_j_and_alt_k_move_selection_and_composer_together_from_the_composer() {
    let (mut m, _) = loaded(10);
    keys(&mut m, "r");
    let first = target(&m);
    type_text(&mut m, "draft one");
    keys(&mut m, "A-j");
    assert_eq!(m.focus, Focus::Composer);
    let second = target(&m);
    assert_ne!(second, first);
    assert_eq!(selected_id(&m), second);
    assert!(m.composer.as_ref().unwrap().is_empty());
    // The first draft is kept and comes back with A-k.
    keys(&mut m, "A-k");
    assert_eq!(target(&m), first);
    assert_eq!(draft(&m), "draft one");
    // `r` on another selected item moves the composer there (the agent's choice).
    keys(&mut m, "esc j j r");
    assert_eq!(target(&m), selected_id(&m));
    assert_ne!(target(&m), first);
}

#[test]
fn alt_e_resolves_the_item_being_answered_and_send_and_resolve_resolves_after_the_send() {
    let (mut m, _) = loaded(10);
    keys(&mut m, "r");
    let mine = target(&m);
    type_text(&mut m, "All sorted, thanks!");
    keys(&mut m, "esc");
    m.follow = true;
    arrive(&mut m, 60);
    let fx = keys(&mut m, "A-e");
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::Patch { feedback_id, patch, .. }
        if *feedback_id == mine && patch.status == Some(FeedbackStatus::Resolved))));
    // Send and resolve: the PATCH follows the server's acceptance, not before.
    keys(&mut m, "3");
    let fx = keys(&mut m, "A-r");
    assert!(!fx.iter().any(|f| matches!(f, Effect::Patch { .. })));
    let (key, _) = send_key(&fx);
    let fx = update(
        &mut m,
        Msg::ReplySent {
            feedback_id: mine.clone(),
            key,
            result: Ok(reply_of(&mine, "rep_9", vec![])),
        },
    );
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::Patch { feedback_id, patch, .. }
        if *feedback_id == mine && patch.status == Some(FeedbackStatus::Resolved))));
}

#[test]
fn an_override_the_rulebook_forbids_is_refused_plainly() {
    let (mut m, _) = loaded(3);
    with_default_rules(&mut m);
    keys(&mut m, "r");
    type_text(&mut m, "Your card 4111 1111 1111 1111 was charged twice.");
    let c = m.composer.as_ref().unwrap();
    assert!(
        c.violations.iter().any(|v| v.rule == "PII-CARD"),
        "{:?}",
        c.violations
    );
    keys(&mut m, "esc");
    run_command(
        &mut m,
        "override PII-CARD the customer asked for it in writing",
    );
    let st = m.status.as_ref().unwrap();
    assert_eq!(st.level, Level::Error, "{}", st.text);
    assert!(st.text.contains("cannot be overridden"), "{}", st.text);
    assert!(m.composer.as_ref().unwrap().overrides.is_empty());
    let fx = keys(&mut m, "3 C-s");
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    assert!(m
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("cannot be overridden"));
}

#[test]
fn the_policys_roles_and_minimum_reason_are_applied_before_sending() {
    // [overrides] of the default rulebook: supervisors and admins, 15 characters.
    let (mut m, _) = loaded(3);
    with_default_rules(&mut m);
    let rule = crate::rules::Rulebook::from_toml_str(crate::rules::DEFAULT_RULEBOOK, "default")
        .unwrap()
        .rule_ids()
        .find(|id| *id == "X-LENGTH")
        .map(str::to_string)
        .expect("X-LENGTH in the default rulebook");
    // An agent may not.
    run_command(
        &mut m,
        &format!("override {rule} the customer asked for the details"),
    );
    let st = m.status.as_ref().unwrap();
    assert_eq!(st.level, Level::Error, "{}", st.text);
    assert!(st.text.contains("may not override"), "{}", st.text);
    // A supervisor may, with a reason long enough.
    m.me.as_mut().unwrap().role = AgentRole::Supervisor;
    run_command(&mut m, &format!("override {rule} too short"));
    assert!(m.status.as_ref().unwrap().text.contains("at least 15"));
    run_command(
        &mut m,
        &format!("override {rule} the customer asked for the details"),
    );
    let st = m.status.as_ref().unwrap();
    assert_eq!(st.level, Level::Info, "{}", st.text);
    assert_eq!(m.composer.as_ref().unwrap().overrides.len(), 1);
    // A rule the rulebook does not have.
    run_command(&mut m, "override NO-SUCH-RULE because I say so, really");
    assert!(m
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("no rule NO-SUCH-RULE"));
}

/// The (item, Idempotency-Key) of every reply a list of effects sends.
fn sent_keys(fx: &[Effect]) -> Vec<(String, String)> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::SendReply {
                feedback_id, key, ..
            } => Some((feedback_id.clone(), key.clone())),
            _ => None,
        })
        .collect()
}

/// The server's refusal of a reply by the rule `rule` (a required phrase missing).
fn refused_by(rule: &str) -> ClientError {
    use crate::domain::problem::{ProblemExtension, RuleRefusal, ServerProblem};
    use crate::domain::verdict::{Refusal, RefusalReason};
    ClientError::Refused {
        detail: format!("not delivered: {rule}"),
        problem: Box::new(ServerProblem {
            status: 422,
            kind: "rule-violation".into(),
            errors: vec![],
            extension: ProblemExtension::RuleViolation(RuleRefusal {
                rulebook_version: "1".into(),
                violations: vec![],
                refused: vec![Refusal {
                    rule: rule.into(),
                    violation: 0,
                    reason: RefusalReason::Missing,
                }],
            }),
        }),
    }
}

/// The bulk results' line of item `id` on a drawn screen.
fn bulk_line(screen: &str, id: &str) -> String {
    screen
        .lines()
        .find(|l| {
            l.contains(id)
                && (l.contains("refused")
                    || l.contains("skipped")
                    || l.contains("deliver")
                    || l.contains("sending"))
        })
        .unwrap_or_else(|| panic!("no line for {id}:\n{screen}"))
        .to_string()
}

#[test]
fn a_bulk_reply_lists_every_item_until_dismissed_and_shows_delivery() {
    let (mut m, _) = loaded(8);
    // Public threads: fb_00000 (X), fb_00001 (facebook), fb_00005 (instagram); fb_00002 is
    // email (skipped).
    for id in ["fb_00000", "fb_00001", "fb_00002", "fb_00005"] {
        m.marked.insert(id.into());
    }
    let pos = m.stream.position_of("fb_00000").unwrap();
    m.stream.select_pos(pos);
    update(&mut m, Msg::Resize(120, 40));
    keys(&mut m, "r");
    let c = m.composer.as_mut().unwrap();
    c.kind = ReplyKind::Macro;
    c.active = Visibility::Public;
    type_text(&mut m, "We are on it, thank you for your patience");
    let fx = keys(&mut m, "A-m");
    let sends = sent_keys(&fx);
    assert_eq!(sends.len(), 3, "{sends:?}");
    assert!(matches!(m.overlay, Some(Overlay::BulkResults { .. })));
    // fb_00000 is refused by the server's rules; fb_00001 goes out and its delivery event comes
    // before the answer to the POST.
    let key_of = |id: &str| sends.iter().find(|(f, _)| f == id).unwrap().1.clone();
    update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key: key_of("fb_00000"),
            result: Err(refused_by("BRAND-TONE")),
        },
    );
    let mut out = message(
        "msg_9",
        "fb_00001",
        crate::domain::Direction::Outbound,
        "We are on it",
    );
    out.reply_id = Some("rep_1".into());
    out.delivery_status = crate::domain::DeliveryStatus::Delivered;
    update(
        &mut m,
        event(
            EventName::ReplyStatusChanged,
            serde_json::to_value(&out).unwrap(),
        ),
    );
    let mut queued = out.clone();
    queued.delivery_status = crate::domain::DeliveryStatus::Queued;
    update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00001".into(),
            key: key_of("fb_00001"),
            result: Ok(reply_of("fb_00001", "rep_1", vec![queued])),
        },
    );
    let screen = draw_text(&m);
    assert!(screen.contains("1 refused, 1 skipped"), "{screen}");
    let line = |id: &str| bulk_line(&screen, id);
    assert!(line("fb_00000").contains("refused") && line("fb_00000").contains("BRAND-TONE"));
    assert!(
        line("fb_00001").contains("delivered"),
        "{}",
        line("fb_00001")
    );
    assert!(line("fb_00002").contains("skipped") && line("fb_00002").contains("no public thread"));
    // Refused and skipped items stay marked; sent ones are not.
    assert!(m.marked.contains("fb_00000") && m.marked.contains("fb_00002"));
    assert!(!m.marked.contains("fb_00001"));
    // It stays through other messages until dismissed.
    arrive(&mut m, 70);
    assert!(matches!(m.overlay, Some(Overlay::BulkResults { .. })));
    keys(&mut m, "esc");
    assert!(m.overlay.is_none() && m.bulk.is_none());
}
