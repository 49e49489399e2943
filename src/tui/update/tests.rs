// These tests look at the model a message leaves; the effects it asks for are often not the point.
#![allow(unused_must_use)]
use super::*;
use crate::client::{ClientError, DrainReport, OutboxEntry, OutboxState, StreamItem};
use crate::domain::api::Presence;
use crate::domain::api::{FeedbackDetail, FeedbackPatch, Me, NewReply, Page};
use crate::domain::{
    Agent, AgentRole, Channel, Department, Feedback, FeedbackStatus, Message, PresenceState, Reply,
    ReplyPart, SentimentLabel, Transaction, TransactionKind, Visibility,
};
use crate::domain::{Event, EventName};
use crate::tui::canned::{self};
use crate::tui::effect::{Effect, Wake};
use crate::tui::keymap::KeyPress;
use crate::tui::keymap::Keymap;
use crate::tui::lint::CompiledRules;
use crate::tui::model::fixtures::*;
use crate::tui::panes;
use crate::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::sync::Arc;

fn new_model() -> Model {
    let (km, _) = Keymap::load(None, None);
    let (canned, _) = canned::load(None);
    let mut m = Model::new(
        t0(),
        km,
        Theme::builtin("default", crate::tui::theme::ColorDepth::TrueColor),
        "seed".into(),
    );
    m.canned = canned;
    m
}

/// A model with `n` items loaded and the agent signed in.
fn loaded(n: usize) -> (Model, Vec<Effect>) {
    let mut m = new_model();
    let mut fx = init(&mut m);
    fx.extend(update(
        &mut m,
        Msg::Me(Ok(Me {
            agent: me(),
            scopes: vec![crate::domain::Scope::Read, crate::domain::Scope::Reply],
        })),
    ));
    let items: Vec<Feedback> = (0..n).map(feedback).collect();
    fx.extend(update(
        &mut m,
        Msg::FeedbackPage {
            generation: 1,
            result: Ok(Page {
                items,
                next_cursor: None,
            }),
        },
    ));
    (m, fx)
}

fn kev(s: &str) -> KeyEvent {
    let k = KeyPress::parse(s).unwrap();
    KeyEvent::new(k.code, k.mods)
}

fn keys(m: &mut Model, seq: &str) -> Vec<Effect> {
    let mut fx = Vec::new();
    for k in seq.split(' ') {
        fx.extend(update(m, Msg::Key(kev(k))));
    }
    fx
}

fn type_text(m: &mut Model, text: &str) -> Vec<Effect> {
    let mut fx = Vec::new();
    for c in text.chars() {
        fx.extend(update(
            m,
            Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        ));
    }
    fx
}

fn event(name: EventName, data: serde_json::Value) -> Msg {
    // Decoded as the client decodes what the server streams.
    let raw = Event {
        seq: 1,
        name,
        data,
        created_at: t0(),
    };
    Msg::Stream(StreamItem::Event(
        crate::domain::event_payload::TypedEvent::decode(&raw).expect("a well-formed event"),
    ))
}

/// A new item as the event stream announces it.
fn created(fb: Feedback) -> Msg {
    event(
        EventName::FeedbackCreated,
        serde_json::to_value(fb).unwrap(),
    )
}

fn selected_id(m: &Model) -> String {
    m.stream.selected.clone().unwrap()
}

fn with_customer(m: &mut Model, n: usize) {
    update(
        m,
        Msg::Customer {
            id: format!("cus_{n}"),
            result: Ok(customer(n)),
        },
    );
    update(
        m,
        Msg::Transactions {
            id: format!("cus_{n}"),
            result: Ok(Page {
                items: transactions(n),
                next_cursor: None,
            }),
        },
    );
    update(
        m,
        Msg::History {
            id: format!("cus_{n}"),
            result: Ok(Page {
                items: history(n),
                next_cursor: None,
            }),
        },
    );
}

#[test]
fn init_asks_for_me_agents_rules_and_the_first_page() {
    let mut m = new_model();
    let fx = init(&mut m);
    assert!(fx.contains(&Effect::LoadMe));
    assert!(fx.contains(&Effect::LoadRules));
    assert!(fx.contains(&Effect::LoadFeedback {
        generation: 1,
        cursor: None
    }));
    assert!(m.stream.loading);
}

#[test]
fn first_page_selects_the_newest_and_fetches_its_customer() {
    let (m, fx) = loaded(20);
    assert_eq!(selected_id(&m), "fb_00019");
    assert!(fx.contains(&Effect::LoadCustomer("cus_19".into())));
    assert!(fx.contains(&Effect::LoadHistory("cus_19".into())));
    assert!(!m.stream.loading);
    assert_eq!(m.composer.as_ref().unwrap().feedback_id, "fb_00019");
}

#[test]
fn pages_are_followed_then_merged_in_time_order() {
    let mut m = new_model();
    init(&mut m);
    let fx = update(
        &mut m,
        Msg::FeedbackPage {
            generation: 1,
            result: Ok(Page {
                items: (10..20).map(feedback).collect(),
                next_cursor: Some("c2".into()),
            }),
        },
    );
    assert!(fx.contains(&Effect::LoadFeedback {
        generation: 1,
        cursor: Some("c2".into())
    }));
    assert_eq!(m.stream.total(), 10, "the first page shows at once");
    // An event arrives while paging.
    update(&mut m, created(feedback(30)));
    update(&mut m, first_page(1, 10));
    assert_eq!(m.stream.total(), 21);
    assert_eq!(m.stream.row_at(0).unwrap().fb.id, "fb_00030");
    assert_eq!(m.stream.row_at(20).unwrap().fb.id, "fb_00000");
    // A page of an older generation is ignored.
    let before = m.stream.total();
    update(
        &mut m,
        Msg::FeedbackPage {
            generation: 0,
            result: Ok(Page {
                items: vec![feedback(99)],
                next_cursor: None,
            }),
        },
    );
    assert_eq!(m.stream.total(), before);
}

#[test]
fn moving_down_changes_item_and_composer() {
    let (mut m, _) = loaded(20);
    let fx = keys(&mut m, "j j");
    assert_eq!(selected_id(&m), "fb_00017");
    assert_eq!(m.composer.as_ref().unwrap().feedback_id, "fb_00017");
    assert!(fx.iter().any(|f| matches!(f, Effect::LoadCustomer(_))));
    keys(&mut m, "g g");
    assert_eq!(selected_id(&m), "fb_00019");
    keys(&mut m, "G");
    assert_eq!(selected_id(&m), "fb_00000");
    keys(&mut m, "k");
    assert_eq!(selected_id(&m), "fb_00001");
}

#[test]
fn arrivals_never_move_the_selection_but_follow_mode_does() {
    let (mut m, _) = loaded(20);
    keys(&mut m, "j j j");
    let sel = selected_id(&m);
    update(&mut m, created(feedback(40)));
    assert_eq!(selected_id(&m), sel);
    keys(&mut m, "f");
    assert!(m.follow);
    assert_eq!(selected_id(&m), "fb_00040");
    update(&mut m, created(feedback(41)));
    assert_eq!(selected_id(&m), "fb_00041");
    // Moving away stops following.
    keys(&mut m, "j");
    assert!(!m.follow);
}

#[test]
fn updates_replace_items_in_place() {
    let (mut m, _) = loaded(5);
    let mut f = feedback(2);
    f.status = FeedbackStatus::Answered;
    f.version = 2;
    update(
        &mut m,
        event(
            EventName::FeedbackUpdated,
            serde_json::to_value(&f).unwrap(),
        ),
    );
    assert_eq!(
        m.stream.get("fb_00002").unwrap().fb.status,
        FeedbackStatus::Answered
    );
    assert_eq!(m.stream.total(), 5);
    // Garbage data never reaches the reducer: the client's decoding refuses it.
    for (name, data) in [
        (EventName::FeedbackUpdated, serde_json::json!({"nope": 1})),
        (EventName::MessageCreated, serde_json::json!(null)),
    ] {
        let raw = Event {
            seq: 2,
            name,
            data,
            created_at: t0(),
        };
        assert!(crate::domain::event_payload::TypedEvent::decode(&raw).is_err());
    }
}

#[test]
fn views_switch_from_keys_and_commands() {
    let (mut m, _) = loaded(30);
    keys(&mut m, "m");
    assert_eq!(m.stream.view_kind(), ViewKind::Mine);
    assert_eq!(m.stream.visible(), 10);
    assert_eq!(m.selected().unwrap().assignee.as_deref(), Some("agt_me"));
    keys(&mut m, "d");
    assert_eq!(m.stream.visible(), 15);
    keys(&mut m, ":");
    type_text(&mut m, "view all");
    keys(&mut m, "ret");
    assert_eq!(m.stream.view_kind(), ViewKind::All);
    assert!(m.overlay.is_none());
}

#[test]
fn filter_applies_live_and_escape_clears_it() {
    let (mut m, _) = loaded(30);
    keys(&mut m, "/");
    type_text(&mut m, "blender");
    assert_eq!(m.stream.filter(), "blender");
    assert_eq!(m.stream.visible(), 5);
    assert!(m.selected().unwrap().text.contains("blender"));
    keys(&mut m, "ret");
    assert!(m.overlay.is_none());
    assert_eq!(m.stream.visible(), 5);
    keys(&mut m, "esc");
    assert_eq!(m.stream.visible(), 30);
}

#[test]
fn a_long_filter_finishes_between_keys_and_the_selection_follows() {
    let (mut m, _) = loaded(30);
    // Tiny slices stand for 100,000 items: each key only starts the work.
    m.stream.filter_slice = 4;
    keys(&mut m, "/");
    type_text(&mut m, "blender");
    assert_eq!(m.stream.filter(), "blender");
    assert!(
        m.stream.filtering(),
        "the key returned before the filter was done"
    );
    assert!(m.stream.visible() >= 5, "meanwhile the candidates show");
    assert!(crate::tui::panes::stream::title(&m).contains("filtering…"));
    let mut slices = 0;
    while m.stream.filtering() {
        m.dirty = false;
        update(&mut m, Msg::ContinueFilter);
        slices += 1;
    }
    assert!(slices > 1);
    assert!(m.dirty, "the final view is drawn");
    assert_eq!(m.stream.visible(), 5);
    assert!(m.selected().unwrap().text.contains("blender"));
    assert!(!crate::tui::panes::stream::title(&m).contains("filtering"));
    // Nothing left to do: the message is harmless.
    assert!(update(&mut m, Msg::ContinueFilter).is_empty());
}

#[test]
fn accepting_a_filter_or_acting_during_one_uses_its_final_view() {
    let (mut m, _) = loaded(30);
    m.stream.filter_slice = 4;
    keys(&mut m, "/");
    type_text(&mut m, "blender");
    assert!(m.stream.filtering());
    // Enter accepts the filter: its final view and selection at once.
    keys(&mut m, "ret");
    assert!(!m.stream.filtering());
    assert_eq!(m.stream.visible(), 5);
    assert!(m.selected().unwrap().text.contains("blender"));
    // G (select the last) during a job lands on the last match, not on a candidate.
    keys(&mut m, "esc g g");
    keys(&mut m, "/");
    type_text(&mut m, "blender");
    update(&mut m, Msg::Key(kev("esc")));
    keys(&mut m, "/");
    type_text(&mut m, "blender");
    m.overlay = None;
    assert!(m.stream.filtering());
    keys(&mut m, "G");
    assert!(!m.stream.filtering());
    assert_eq!(m.stream.selected_pos(), Some(m.stream.visible() - 1));
    assert!(m.selected().unwrap().text.contains("blender"));
}

#[test]
fn a_draft_that_could_not_be_saved_is_kept_marked_and_said() {
    let (mut m, _) = loaded(3);
    let unsaved = crate::tui::effect::UnsavedDrafts {
        items: vec![("fb_00001".into(), None)],
        error: "No space left on device (os error 28)".into(),
    };
    update(&mut m, Msg::DraftsNotSaved(unsaved.clone()));
    assert!(m.drafts_dirty.contains("fb_00001"));
    assert!(
        m.drafts_changed_at.is_some(),
        "saved again at the next debounce"
    );
    let status = m.status.as_ref().unwrap();
    assert_eq!(status.level, Level::Error);
    assert!(
        status.text.contains("not saved (No space left"),
        "{}",
        status.text
    );
    // Another error on the status line is not hidden by the retries.
    m.set_status(Level::Error, "not sent: refused by the server");
    update(&mut m, Msg::DraftsNotSaved(unsaved));
    assert_eq!(
        m.status.as_ref().unwrap().text,
        "not sent: refused by the server"
    );
}

fn mouse(kind: crossterm::event::MouseEventKind, column: u16, row: u16) -> Msg {
    Msg::Mouse(crossterm::event::MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn the_mouse_selects_rows_scrolls_and_focuses_panes() {
    use crossterm::event::{MouseButton, MouseEventKind};
    let (mut m, _) = loaded(30);
    m.size = (120, 40);
    let areas = panes::layout(ratatui::layout::Rect::new(0, 0, 120, 40), &m);
    let top = m.stream.top_pos();
    // A click on the third row selects the item drawn there.
    let want = m.stream.row_at(top + 2).unwrap().fb.id.clone();
    let fx = update(
        &mut m,
        mouse(
            MouseEventKind::Down(MouseButton::Left),
            10,
            areas.stream.y + 3,
        ),
    );
    assert_eq!(m.stream.selected.as_deref(), Some(want.as_str()));
    assert!(
        fx.iter().any(|f| matches!(f, Effect::Wake { .. })),
        "like a key, it settles"
    );
    // The wheel over the stream moves the selection; over the profile it scrolls it.
    update(
        &mut m,
        mouse(MouseEventKind::ScrollDown, 10, areas.stream.y + 3),
    );
    assert_eq!(m.stream.selected_pos(), Some(top + 3));
    update(
        &mut m,
        mouse(
            MouseEventKind::ScrollDown,
            areas.profile.x + 2,
            areas.profile.y + 2,
        ),
    );
    assert_eq!(m.profile_scroll, 1);
    // A click on the profile focuses it; the borders and empty rows select nothing.
    update(
        &mut m,
        mouse(
            MouseEventKind::Down(MouseButton::Left),
            areas.profile.x + 2,
            areas.profile.y + 2,
        ),
    );
    assert_eq!(m.focus, Focus::Profile);
    let before = m.stream.selected.clone();
    update(
        &mut m,
        mouse(MouseEventKind::Down(MouseButton::Left), 10, areas.stream.y),
    );
    assert_eq!(m.stream.selected, before);
    assert_eq!(m.focus, Focus::Stream);
    // A report from outside the screen (a resize race, a broken terminal) is ignored.
    let before = m.stream.selected.clone();
    update(
        &mut m,
        mouse(MouseEventKind::Down(MouseButton::Left), u16::MAX, u16::MAX),
    );
    update(&mut m, mouse(MouseEventKind::ScrollUp, u16::MAX, 3));
    assert_eq!(m.stream.selected, before);
    // Moving the pointer changes nothing and draws nothing.
    m.dirty = false;
    let fx = update(&mut m, mouse(MouseEventKind::Moved, 50, 5));
    assert!(fx.is_empty() && !m.dirty);
    // With an overlay open, the mouse is ignored.
    keys(&mut m, "?");
    let before = m.stream.selected.clone();
    update(
        &mut m,
        mouse(
            MouseEventKind::Down(MouseButton::Left),
            10,
            areas.stream.y + 5,
        ),
    );
    assert_eq!(m.stream.selected, before);
}

#[test]
fn a_profile_that_failed_to_load_is_asked_for_again() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G");
    let cid = m.selected_customer_id().expect("a linked item");
    update(
        &mut m,
        Msg::Customer {
            id: cid.clone(),
            result: Err(ClientError::Unreachable("connection refused".into())),
        },
    );
    // The backend comes back: the profile is fetched again, and again when reselected.
    let fx = update(&mut m, Msg::Stream(StreamItem::Connected));
    assert!(fx.contains(&Effect::LoadCustomer(cid.clone())), "{fx:?}");
    update(
        &mut m,
        Msg::Customer {
            id: cid.clone(),
            result: Err(ClientError::Unreachable("connection refused".into())),
        },
    );
    let fx = keys(&mut m, "k j");
    assert!(fx.contains(&Effect::LoadCustomer(cid)), "{fx:?}");
}

#[test]
fn typing_in_the_composer_edits_the_draft_not_commands() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "r");
    assert_eq!(m.focus, Focus::Composer);
    let fx = type_text(&mut m, "quit? no");
    assert!(!m.quit);
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(c.active), "quit? no");
    // One presence announcement, not one per key.
    assert_eq!(
        fx.iter()
            .filter(|f| matches!(
                f,
                Effect::SetPresence {
                    state: PresenceState::Composing,
                    ..
                }
            ))
            .count(),
        1
    );
    // Saved once the debounce passes, not before.
    assert!(update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(1))).is_empty());
    let fx = update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(3)));
    match &fx[..] {
        [Effect::SaveDrafts(items)] => {
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].1.as_ref().unwrap().public, "quit? no");
        }
        other => panic!("{other:?}"),
    }
    assert!(update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(9))).is_empty());
}

#[test]
fn drafts_are_kept_per_item() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "r");
    type_text(&mut m, "first");
    keys(&mut m, "esc j r");
    type_text(&mut m, "second");
    keys(&mut m, "esc k");
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(c.active), "first");
    keys(&mut m, "j");
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(c.active), "second");
    assert_eq!(m.drafts.len(), 2);
}

#[test]
fn send_builds_the_reply_with_a_key_and_clears_on_success() {
    let (mut m, _) = loaded(5);
    // fb_00004 is on X (4 % 6 = 4 -> review)... pick an X item: fb_00000.
    keys(&mut m, "G r");
    assert_eq!(m.selected().unwrap().channel, Channel::X);
    type_text(&mut m, "On it!");
    let fx = keys(&mut m, "C-s");
    let (key, reply) = fx
        .iter()
        .find_map(|f| match f {
            Effect::SendReply {
                key,
                reply,
                feedback_id,
            } if feedback_id == "fb_00000" => Some((key.clone(), reply.clone())),
            _ => None,
        })
        .expect("a send");
    assert_eq!(key, "seed-000000");
    assert_eq!(
        reply.parts,
        vec![ReplyPart {
            visibility: Visibility::Public,
            body: "On it!".into()
        }]
    );
    // The key is saved with the draft before the request goes out.
    assert!(fx.iter().any(|f| matches!(f, Effect::SaveDrafts(items) if items[0].1.as_ref().unwrap().idempotency_key.as_deref() == Some("seed-000000"))));
    assert!(m.composer.as_ref().unwrap().sending);
    let reply = Reply {
        id: "rep_1".into(),
        feedback_id: "fb_00000".into(),
        agent_id: "agt_me".into(),
        parts: reply.parts,
        overrides: vec![],
        messages: vec![],
        created_at: t0(),
    };
    let fx = update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key,
            result: Ok(reply),
        },
    );
    assert_eq!(
        fx,
        vec![Effect::SaveDrafts(vec![("fb_00000".into(), None)])]
    );
    let c = m.composer.as_ref().unwrap();
    assert!(c.is_empty() && !c.sending && c.pending_key.is_none());
    assert!(m.status.as_ref().unwrap().text.starts_with("reply sent"));
}

#[test]
fn a_failed_send_keeps_the_draft_and_retries_with_the_same_key() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G r");
    type_text(&mut m, "hello");
    keys(&mut m, "C-s");
    update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key: "seed-000000".into(),
            result: Err(ClientError::Unreachable("down".into())),
        },
    );
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(Visibility::Public), "hello");
    assert_eq!(c.pending_key.as_deref(), Some("seed-000000"));
    let fx = keys(&mut m, "C-s");
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SendReply { key, .. } if key == "seed-000000")));
    // An edit makes it a different reply: a new key.
    update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key: "seed-000000".into(),
            result: Err(ClientError::Unreachable("down".into())),
        },
    );
    type_text(&mut m, "!");
    let fx = keys(&mut m, "C-s");
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SendReply { key, .. } if key == "seed-000001")));
}

#[test]
fn refused_sends_show_the_servers_violations() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G r");
    type_text(&mut m, "call me at 555");
    keys(&mut m, "C-s");
    // The typed refusal (the server builds the same struct; tests/console_model.rs decodes the
    // real server's body).
    use crate::domain::problem::{ProblemExtension, RuleRefusal, ServerProblem};
    use crate::domain::verdict::{Level as RuleLevel, OverridePolicy, Violation};
    let problem = Box::new(ServerProblem {
        status: 422,
        kind: "rule-violation".into(),
        errors: vec![],
        extension: ProblemExtension::RuleViolation(RuleRefusal {
            rulebook_version: "1".into(),
            violations: vec![Violation {
                rule: "pii.phone".into(),
                level: RuleLevel::Error,
                message: "phone number in public".into(),
                part: Visibility::Public,
                start: 11,
                end: 14,
                fix: None,
                overridable: true,
                override_policy: OverridePolicy::default(),
            }],
            refused: vec![],
        }),
    });
    update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key: "seed-000000".into(),
            result: Err(ClientError::Refused {
                detail: "rules refused the reply".into(),
                problem,
            }),
        },
    );
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.violations.len(), 1, "{:?} {:?}", c.error, m.status);
    assert_eq!(c.violations[0].rule, "pii.phone");
    assert!(c.pending_key.is_none());
    // A blocking error stops the next send until it is overridden.
    let fx = keys(&mut m, "C-s");
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    assert!(m.status.as_ref().unwrap().text.contains("pii.phone"));
    // ':' is text in the composer: leave it first.
    keys(&mut m, "esc :");
    type_text(&mut m, "override pii.phone customer asked for a call");
    keys(&mut m, "ret");
    let fx = keys(&mut m, "r C-s");
    let reply = fx.iter().find_map(|f| match f {
        Effect::SendReply { reply, .. } => Some(reply.clone()),
        _ => None,
    });
    assert_eq!(reply.unwrap().overrides[0].rule, "pii.phone");
}

#[test]
fn empty_parts_and_missing_routes_are_refused_locally() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G r");
    let fx = keys(&mut m, "C-s");
    assert!(fx.is_empty() || !fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    assert!(m.status.as_ref().unwrap().text.contains("empty"));
}

#[test]
fn reply_types_cycle_and_skip_impossible_ones() {
    let (mut m, _) = loaded(6);
    // fb_00005: instagram (public + DM).
    assert_eq!(m.selected().unwrap().channel, Channel::Instagram);
    assert_eq!(m.composer.as_ref().unwrap().kind, ReplyKind::Macro);
    keys(&mut m, "r C-t");
    assert_eq!(m.composer.as_ref().unwrap().kind, ReplyKind::Micro);
    keys(&mut m, "C-t");
    assert_eq!(m.composer.as_ref().unwrap().kind, ReplyKind::Both);
    assert_eq!(m.composer.as_ref().unwrap().active, Visibility::Direct);
    keys(&mut m, "C-o");
    assert_eq!(m.composer.as_ref().unwrap().active, Visibility::Public);
    // fb_00002: email, no public thread -> only micro.
    keys(&mut m, "esc");
    keys(&mut m, "j j j");
    assert_eq!(m.selected().unwrap().channel, Channel::Email);
    assert_eq!(m.composer.as_ref().unwrap().kind, ReplyKind::Micro);
    keys(&mut m, "r C-t");
    // Email has no public thread: cycling skips both and macro, back to micro.
    assert_eq!(m.composer.as_ref().unwrap().kind, ReplyKind::Micro);
}

#[test]
fn recipients_are_exact() {
    let (mut m, _) = loaded(6);
    let x = m.stream.get("fb_00000").unwrap().fb.clone();
    assert_eq!(
        recipient(&m, &x, Visibility::Public).unwrap(),
        "@user0@x (public thread)"
    );
    // A DM on X needs the linked customer's consent: known once the profile is in.
    assert!(recipient(&m, &x, Visibility::Direct)
        .unwrap_err()
        .contains("loading"));
    with_customer(&mut m, 0);
    assert_eq!(
        recipient(&m, &x, Visibility::Direct).unwrap(),
        "@user0@x (direct message)"
    );
    // Without that consent, the direct part goes to their preferred consented channel, as the
    // server would deliver it.
    if let Some(Load::Loaded(c)) = m.customers.get_mut("cus_0").map(|v| &mut v.customer) {
        c.preferences.consents.social_dm = false;
    }
    assert_eq!(
        recipient(&m, &x, Visibility::Direct).unwrap(),
        "ada0@example.com (email)"
    );
    let review = m.stream.get("fb_00004").unwrap().fb.clone();
    assert!(recipient(&m, &review, Visibility::Direct)
        .unwrap_err()
        .contains("loading"));
    with_customer(&mut m, 4);
    assert_eq!(
        recipient(&m, &review, Visibility::Direct).unwrap(),
        "ada4@example.com (email)"
    );
    let email = m.stream.get("fb_00002").unwrap().fb.clone();
    assert!(recipient(&m, &email, Visibility::Public).is_err());
    // Unlinked author on a channel without DMs.
    let mut unlinked = review.clone();
    unlinked.customer_id = None;
    unlinked.author.customer_id = None;
    assert!(recipient(&m, &unlinked, Visibility::Direct)
        .unwrap_err()
        .contains("not linked"));
}

#[test]
fn canned_replies_fill_placeholders_from_the_profile() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G");
    with_customer(&mut m, 0);
    keys(&mut m, "r C-r");
    assert!(matches!(m.overlay, Some(Overlay::Canned(_))));
    type_text(&mut m, "refund");
    keys(&mut m, "ret");
    assert!(m.overlay.is_none());
    let c = m.composer.as_ref().unwrap();
    let text = c.text(c.active);
    assert!(
        text.starts_with("Hi Ada, I've started the refund for order A1234."),
        "{text}"
    );
    assert!(text.ends_with("— Sam Agent"), "{text}");
}

#[test]
fn paste_goes_to_the_composer_sanitised() {
    let (mut m, _) = loaded(3);
    keys(&mut m, "r");
    update(&mut m, Msg::Paste("line one\r\nline \u{1b}[31mtwo".into()));
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(c.active), "line one\nline two");
}

#[test]
fn editor_results_replace_the_part() {
    let (mut m, _) = loaded(3);
    keys(&mut m, "r");
    let fx = keys(&mut m, "C-e");
    let (id, part) = match &fx[..] {
        [Effect::OpenEditor {
            feedback_id, part, ..
        }] => (feedback_id.clone(), *part),
        other => panic!("{other:?}"),
    };
    update(
        &mut m,
        Msg::EditorDone {
            feedback_id: id,
            part,
            result: Ok("from vim\n".into()),
        },
    );
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(part), "from vim");
}

#[test]
fn quit_saves_drafts_first_and_signals_do_too() {
    let (mut m, _) = loaded(3);
    keys(&mut m, "r");
    type_text(&mut m, "keep me");
    let fx = update(&mut m, Msg::Signal("SIGHUP".into()));
    let save = fx
        .iter()
        .position(|f| matches!(f, Effect::SaveDrafts(_)))
        .expect("saved");
    let quit = fx.iter().position(|f| *f == Effect::Quit).expect("quit");
    assert!(save < quit);
    assert!(m.quit);

    let (mut m, _) = loaded(3);
    let fx = keys(&mut m, "q");
    assert_eq!(fx.last(), Some(&Effect::Quit));
    let (mut m, _) = loaded(3);
    keys(&mut m, ":");
    type_text(&mut m, "q");
    let fx = keys(&mut m, "ret");
    assert_eq!(fx.last(), Some(&Effect::Quit));
}

#[test]
fn linking_an_unlinked_author() {
    let (mut m, _) = loaded(3);
    // fb_00001 is unlinked (1 % 4 == 1).
    keys(&mut m, "j");
    assert_eq!(selected_id(&m), "fb_00001");
    assert!(m.selected_customer_id().is_none());
    keys(&mut m, "2 l");
    let Some(Overlay::Link(ls)) = &m.overlay else {
        panic!("no link overlay")
    };
    assert_eq!(ls.query.text, "User 1");
    keys(&mut m, "C-u");
    type_text(&mut m, "ada");
    let fx = keys(&mut m, "ret");
    assert_eq!(fx, vec![Effect::SearchCustomers("ada".into())]);
    update(
        &mut m,
        Msg::CustomerSearch {
            query: "ada".into(),
            result: Ok(Page {
                items: vec![customer(7), customer(8)],
                next_cursor: None,
            }),
        },
    );
    keys(&mut m, "down");
    let fx = keys(&mut m, "ret");
    assert_eq!(
        fx,
        vec![Effect::LinkIdentity {
            identity_id: "idn_1".into(),
            customer_id: "cus_8".into()
        }]
    );
    let fx = update(
        &mut m,
        Msg::Linked {
            identity_id: "idn_1".into(),
            customer_id: "cus_8".into(),
            result: Ok(identity(1, Channel::Facebook, true)),
        },
    );
    assert!(m.overlay.is_none());
    assert_eq!(m.selected_customer_id().as_deref(), Some("cus_8"));
    assert!(fx.contains(&Effect::LoadCustomer("cus_8".into())));
}

#[test]
fn connection_state_and_stream_reset() {
    let (mut m, _) = loaded(3);
    // The first connection streams from "now": the queue is fetched again so nothing that
    // arrived between the first fetch and the connection is missing.
    let fx = update(&mut m, Msg::Stream(StreamItem::Connected));
    assert_eq!(m.connection, Connection::Connected);
    assert_eq!(
        fx,
        vec![Effect::LoadFeedback {
            generation: 2,
            cursor: None
        }]
    );
    update(
        &mut m,
        Msg::Stream(StreamItem::Disconnected {
            reason: "reset".into(),
            retry_in_ms: 2000,
        }),
    );
    assert!(matches!(m.connection, Connection::Disconnected { .. }));
    assert_eq!(m.stream.total(), 3, "what we have is kept");
    // No event yet, so no resume point: the reconnection starts at "now", the queue is
    // fetched again.
    let fx = update(&mut m, Msg::Stream(StreamItem::Connected));
    assert!(m.status.as_ref().unwrap().text.contains("reloaded"));
    assert_eq!(
        fx,
        vec![Effect::LoadFeedback {
            generation: 3,
            cursor: None
        }]
    );
    // After an event the stream resumes with Last-Event-ID: nothing to fetch.
    update(
        &mut m,
        event(
            EventName::PresenceChanged,
            serde_json::to_value(Presence {
                feedback_id: "fb_00001".into(),
                agent_id: "agt_bo".into(),
                agent_name: "Bo".into(),
                state: PresenceState::Viewing,
                at: t0(),
            })
            .unwrap(),
        ),
    );
    update(
        &mut m,
        Msg::Stream(StreamItem::Disconnected {
            reason: "reset".into(),
            retry_in_ms: 2000,
        }),
    );
    let fx = update(&mut m, Msg::Stream(StreamItem::Connected));
    assert!(m.status.as_ref().unwrap().text.contains("resumed"));
    assert!(fx.is_empty(), "{fx:?}");
    let fx = update(
        &mut m,
        event(
            EventName::StreamReset,
            serde_json::json!({"oldest_seq": 5, "latest_seq": 9}),
        ),
    );
    assert_eq!(
        fx,
        vec![Effect::LoadFeedback {
            generation: 4,
            cursor: None
        }]
    );
}

#[test]
fn presence_of_others_is_shown_and_asks_before_sending() {
    let (mut m, _) = loaded(3);
    keys(&mut m, "G");
    let p = Presence {
        feedback_id: "fb_00000".into(),
        agent_id: "agt_bo".into(),
        agent_name: "Bo".into(),
        state: PresenceState::Composing,
        at: t0(),
    };
    update(
        &mut m,
        event(
            EventName::PresenceChanged,
            serde_json::to_value(&p).unwrap(),
        ),
    );
    assert_eq!(m.presence["fb_00000"].len(), 1);
    keys(&mut m, "r");
    type_text(&mut m, "hi");
    let fx = keys(&mut m, "C-s");
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    assert!(m
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("Bo is also replying"));
    let fx = keys(&mut m, "C-s");
    assert!(fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    // Our own presence events are ignored.
    let mine = Presence {
        agent_id: "agt_me".into(),
        ..p
    };
    update(
        &mut m,
        event(
            EventName::PresenceChanged,
            serde_json::to_value(&mine).unwrap(),
        ),
    );
    assert_eq!(m.presence["fb_00000"].len(), 1);
}

#[test]
fn ticks_redraw_only_when_the_minute_turns() {
    let (mut m, _) = loaded(3);
    m.dirty = false;
    m.status = None;
    update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(10)));
    assert!(!m.dirty);
    update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(61)));
    assert!(m.dirty);
}

#[test]
fn copy_link_and_customer_id() {
    let (mut m, _) = loaded(3);
    let fx = keys(&mut m, "y");
    assert_eq!(fx, vec![Effect::Copy("https://email.example/p/2".into())]);
    let fx = keys(&mut m, "Y");
    assert_eq!(fx, vec![Effect::Copy("cus_2".into())]);
}

#[test]
fn commands_and_unknown_commands() {
    let (mut m, _) = loaded(3);
    let fx = run_command(&mut m, "theme mono");
    assert_eq!(fx, vec![Effect::LoadTheme("mono".into())]);
    run_command(&mut m, "bogus");
    assert_eq!(m.status.as_ref().unwrap().level, Level::Error);
    run_command(&mut m, "toggle_follow");
    assert!(m.follow);
    run_command(&mut m, "follow off");
    assert!(!m.follow);
    run_command(&mut m, "filter refund");
    assert_eq!(m.stream.filter(), "refund");
    let fx = run_command(&mut m, "assign");
    assert!(
        matches!(&fx[..], [Effect::Patch { patch, .. }] if patch.assignee == Some(Some("agt_me".into())))
    );
}

#[test]
fn help_opens_and_closes() {
    let (mut m, _) = loaded(3);
    keys(&mut m, "?");
    assert!(matches!(m.overlay, Some(Overlay::Help { .. })));
    keys(&mut m, "j");
    assert_eq!(m.overlay, Some(Overlay::Help { scroll: 1 }));
    keys(&mut m, "x");
    assert!(m.overlay.is_none());
}

#[test]
fn rules_mark_the_draft_as_it_is_typed() {
    let (mut m, _) = loaded(3);
    let src = crate::client::RulebookSource {
        id: "default".into(),
        version: "7".into(),
        source: crate::rules::DEFAULT_RULEBOOK.into(),
    };
    let rules = CompiledRules::compile(&src).unwrap();
    update(&mut m, Msg::Rules(Ok(Arc::new(rules))));
    assert!(m.rules.is_some());
    keys(&mut m, "G r");
    assert_eq!(m.selected().unwrap().channel, Channel::X);
    type_text(&mut m, "Hi!");
    assert!(m
        .composer
        .as_ref()
        .unwrap()
        .violations
        .iter()
        .all(|v| v.rule != "X-LENGTH"));
    type_text(&mut m, &" long".repeat(60));
    let c = m.composer.as_ref().unwrap();
    let v = c
        .violations
        .iter()
        .find(|v| v.rule == "X-LENGTH")
        .expect("X-LENGTH flagged");
    assert_eq!(v.part, Visibility::Public);
    // The send is refused locally until fixed or overridden, and carries the rulebook version.
    let fx = keys(&mut m, "C-s");
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    keys(&mut m, "A-n");
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.active, Visibility::Public);
    keys(&mut m, "C-k y");
    assert!(m
        .composer
        .as_ref()
        .unwrap()
        .violations
        .iter()
        .all(|v| v.rule != "X-LENGTH"));
    type_text(&mut m, "Thanks!");
    let fx = keys(&mut m, "C-s");
    let reply = fx.iter().find_map(|f| match f {
        Effect::SendReply { reply, .. } => Some(reply.clone()),
        _ => None,
    });
    assert_eq!(reply.expect("sent").rulebook_version.as_deref(), Some("7"));
}

#[test]
fn messages_are_not_needed_to_render() {
    // message.created carries a Message; the console does not need it for the stream.
    let msg = Message {
        id: "m".into(),
        thread_id: "t".into(),
        feedback_id: None,
        direction: crate::domain::Direction::Inbound,
        visibility: Visibility::Public,
        channel: Channel::X,
        address: "a".into(),
        author: "b".into(),
        body: "c".into(),
        delivery_status: crate::domain::DeliveryStatus::Received,
        status_reason: None,
        reply_id: None,
        created_at: t0(),
    };
    let (mut m, _) = loaded(2);
    assert!(update(
        &mut m,
        event(
            EventName::MessageCreated,
            serde_json::to_value(msg).unwrap()
        )
    )
    .is_empty());
}

#[test]
fn a_hundred_thousand_items_stay_fast() {
    let mut m = new_model();
    init(&mut m);
    update(
        &mut m,
        Msg::Me(Ok(Me {
            agent: me(),
            scopes: vec![crate::domain::Scope::Read, crate::domain::Scope::Reply],
        })),
    );
    let items: Vec<Feedback> = (0..100_000).map(feedback).collect();
    update(
        &mut m,
        Msg::FeedbackPage {
            generation: 1,
            result: Ok(Page {
                items,
                next_cursor: None,
            }),
        },
    );
    m.size = (120, 40);
    let backend = ratatui::backend::TestBackend::new(120, 40);
    let mut term = ratatui::Terminal::new(backend).unwrap();
    let start = std::time::Instant::now();
    for i in 0..200 {
        keys(&mut m, if i % 2 == 0 { "j" } else { "k" });
        update(
            &mut m,
            event(
                EventName::FeedbackCreated,
                serde_json::to_value(feedback(100_000 + i)).unwrap(),
            ),
        );
        term.draw(|f| crate::tui::panes::render(f, &m)).unwrap();
    }
    let per = start.elapsed() / 200;
    // Debug build, shared CI machine: a generous bound that a linear scan per key would miss.
    assert!(
        per < std::time::Duration::from_millis(40),
        "{per:?} per keystroke"
    );
    assert_eq!(m.stream.total(), 100_200);
}

// ---- issue 5: outbox, stale-send guard, presence, actions, macro to many, drafts ----

fn draw_text(m: &Model) -> String {
    use ratatui::{backend::TestBackend, Terminal};
    let mut t = Terminal::new(TestBackend::new(m.size.0, m.size.1)).unwrap();
    t.draw(|f| crate::tui::panes::render(f, m)).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn message(id: &str, fb: &str, dir: crate::domain::Direction, body: &str) -> Message {
    Message {
        id: id.into(),
        thread_id: "th_0".into(),
        feedback_id: Some(fb.into()),
        direction: dir,
        visibility: Visibility::Public,
        channel: Channel::X,
        address: "@user0".into(),
        author: if dir == crate::domain::Direction::Inbound {
            "user0".into()
        } else {
            "Bo".into()
        },
        body: body.into(),
        delivery_status: crate::domain::DeliveryStatus::Received,
        status_reason: None,
        reply_id: None,
        created_at: t0(),
    }
}

fn thread(m: &mut Model, id: &str, msgs: Vec<Message>) -> Vec<Effect> {
    let fb = m.stream.get(id).unwrap().fb.clone();
    update(
        m,
        Msg::Thread {
            id: id.into(),
            result: Ok(FeedbackDetail {
                feedback: fb,
                thread: msgs,
                authors: vec![],
                participants: vec![],
            }),
        },
    )
}

fn reply_of(fb: &str, id: &str, msgs: Vec<Message>) -> Reply {
    Reply {
        id: id.into(),
        feedback_id: fb.into(),
        agent_id: "agt_me".into(),
        parts: vec![],
        overrides: vec![],
        messages: msgs,
        created_at: t0(),
    }
}

fn send_key(fx: &[Effect]) -> (String, NewReply) {
    fx.iter()
        .find_map(|f| match f {
            Effect::SendReply { key, reply, .. } => Some((key.clone(), reply.clone())),
            _ => None,
        })
        .expect("a send")
}

#[test]
fn a_send_is_queued_and_stays_visible_while_the_backend_is_down() {
    let (mut m, _) = loaded(5);
    m.outbox_enabled = true;
    keys(&mut m, "G r");
    type_text(&mut m, "On it!");
    let fx = keys(&mut m, "C-s");
    let (key, _) = send_key(&fx);
    assert_eq!(m.outbox.len(), 1);
    assert_eq!(m.outbox[0].label(), "sending");
    // The backend is down: the reply is on disk, queued; the composer is free again.
    let fx = update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key: key.clone(),
            result: Err(ClientError::Unreachable("connection refused".into())),
        },
    );
    assert!(fx.contains(&Effect::SaveDrafts(vec![("fb_00000".into(), None)])));
    assert!(m.composer.as_ref().unwrap().is_empty());
    assert_eq!(m.outbox[0].label(), "queued");
    assert!(m.status.as_ref().unwrap().text.starts_with("reply queued"));
    // The stream comes back: the outbox is drained.
    update(
        &mut m,
        Msg::Stream(StreamItem::Disconnected {
            reason: "down".into(),
            retry_in_ms: 500,
        }),
    );
    let fx = update(&mut m, Msg::Stream(StreamItem::Connected));
    assert!(fx.contains(&Effect::DrainOutbox));
    let mut out = message(
        "msg_9",
        "fb_00000",
        crate::domain::Direction::Outbound,
        "On it!",
    );
    out.reply_id = Some("rep_9".into());
    out.delivery_status = crate::domain::DeliveryStatus::Queued;
    let report = DrainReport {
        sent: vec![(
            key.clone(),
            reply_of("fb_00000", "rep_9", vec![out.clone()]),
        )],
        ..Default::default()
    };
    update(&mut m, Msg::Drained(report));
    assert_eq!(m.outbox[0].state, SendState::Sent);
    assert_eq!(m.outbox[0].label(), "queued");
    // Delivery status streams in.
    out.delivery_status = crate::domain::DeliveryStatus::Delivered;
    update(
        &mut m,
        event(
            EventName::ReplyStatusChanged,
            serde_json::to_value(&out).unwrap(),
        ),
    );
    assert_eq!(m.outbox[0].label(), "delivered");
    out.delivery_status = crate::domain::DeliveryStatus::Failed;
    out.status_reason = Some("webhook answered 500".into());
    update(
        &mut m,
        event(
            EventName::ReplyStatusChanged,
            serde_json::to_value(&out).unwrap(),
        ),
    );
    assert_eq!(m.outbox[0].label(), "failed");
    assert_eq!(
        m.outbox[0].problem().as_deref(),
        Some("webhook answered 500")
    );
}

#[test]
fn queued_replies_from_the_last_session_are_shown_and_drained_at_start() {
    let mut m = new_model();
    m.outbox_enabled = true;
    let now = t0();
    let entry = |key: &str, state: OutboxState| OutboxEntry {
        key: key.into(),
        feedback_id: "fb_00001".into(),
        reply: NewReply {
            parts: vec![ReplyPart {
                visibility: Visibility::Public,
                body: "sorry".into(),
            }],
            overrides: vec![],
            rulebook_version: None,
            base_message_id: None,
        },
        state,
        attempts: 1,
        created_at: now,
        updated_at: now,
        last_error: Some("backend unreachable".into()),
        reply_id: None,
    };
    load_outbox(
        &mut m,
        vec![
            entry("k1", OutboxState::Queued),
            entry("k2", OutboxState::Sent),
            entry("k3", OutboxState::Failed),
        ],
    );
    assert_eq!(m.outbox.len(), 2);
    let fx = init(&mut m);
    assert!(fx.contains(&Effect::DrainOutbox));
    // A refusal during the drain puts the text back into the item's draft.
    let fx = update(
        &mut m,
        Msg::Drained(DrainReport {
            failed: vec![("k1".into(), "refused: rule".into())],
            ..Default::default()
        }),
    );
    assert!(fx.contains(&Effect::DropOutbox("k1".into())));
    assert_eq!(m.drafts["fb_00001"].public, "sorry");
    assert_eq!(m.drafts["fb_00001"].kind, ReplyKind::Macro);
}

/// Our reply (message `msg_id`, by Sam Agent) arrives as an event, then as the answer to its
/// POST (Idempotency-Key `key`).
fn deliver_own_reply(m: &mut Model, feedback_id: &str, key: String, msg_id: &str, text: &str) {
    let mut mine = message(
        msg_id,
        feedback_id,
        crate::domain::Direction::Outbound,
        text,
    );
    mine.author = "Sam Agent".into();
    mine.reply_id = Some("rep_3".into());
    update(
        m,
        event(
            EventName::MessageCreated,
            serde_json::to_value(&mine).unwrap(),
        ),
    );
    update(
        m,
        Msg::ReplySent {
            feedback_id: feedback_id.into(),
            key,
            result: Ok(reply_of(feedback_id, "rep_3", vec![mine])),
        },
    );
}

#[test]
fn stale_send_guard_shows_what_changed_and_one_key_confirms_with_the_new_base() {
    let (mut m, _) = loaded(5);
    m.outbox_enabled = true;
    keys(&mut m, "G");
    let m1 = message(
        "msg_1",
        "fb_00000",
        crate::domain::Direction::Inbound,
        "where is it",
    );
    thread(&mut m, "fb_00000", vec![m1.clone()]);
    assert_eq!(m.threads["fb_00000"].base.as_deref(), Some("msg_1"));
    keys(&mut m, "r");
    type_text(&mut m, "On it!");
    let (key, reply) = send_key(&keys(&mut m, "C-s"));
    assert_eq!(reply.base_message_id.as_deref(), Some("msg_1"));
    // Someone replied meanwhile; the server stops the send and says with what (409).
    let long = format!("Bo's answer, {} the end", "in full ".repeat(40));
    let m2 = message(
        "msg_2",
        "fb_00000",
        crate::domain::Direction::Outbound,
        &long,
    );
    let fx = update(
        &mut m,
        Msg::ReplySent {
            feedback_id: "fb_00000".into(),
            key: key.clone(),
            result: Err(ClientError::Stale {
                detail: "1 new message(s)".into(),
                changes: vec![m2.clone()],
            }),
        },
    );
    assert!(fx.contains(&Effect::DropOutbox(key.clone())));
    assert!(m.outbox.is_empty());
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(Visibility::Public), "On it!");
    // The base stays on what the agent saw; the new message is shown whole.
    assert_eq!(m.threads["fb_00000"].base.as_deref(), Some("msg_1"));
    let Some(Overlay::Guard(view)) = &m.overlay else {
        panic!("no guard: {:?}", m.overlay)
    };
    assert_eq!(view.messages.len(), 1);
    m.size = (120, 40);
    let screen = draw_text(&m);
    assert!(screen.contains("the end"), "not in full:\n{screen}");
    // A refetch (re-selecting) does not clear it.
    thread(&mut m, "fb_00000", vec![m1.clone(), m2.clone()]);
    assert_eq!(m.threads["fb_00000"].base.as_deref(), Some("msg_1"));
    // One key: read, and sent based on the message shown.
    let (key2, reply2) = send_key(&keys(&mut m, "y"));
    assert_ne!(key2, key);
    assert_eq!(reply2.base_message_id.as_deref(), Some("msg_2"));
    assert!(m.overlay.is_none());
    // Delivered: our own message is seen, nothing is claimed new.
    deliver_own_reply(&mut m, "fb_00000", key2, "msg_3", "On it!");
    assert!(m.composer.as_ref().unwrap().is_empty());
    assert!(crate::tui::guard::unseen(&m, "fb_00000").is_empty());
    let screen = draw_text(&m);
    assert!(!screen.contains("new message"), "{screen}");
    assert!(!screen.contains("not seen"), "{screen}");
}

#[test]
fn re_selecting_the_item_never_clears_the_guard() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G");
    let m1 = message("msg_1", "fb_00000", crate::domain::Direction::Inbound, "hi");
    thread(&mut m, "fb_00000", vec![m1.clone()]);
    keys(&mut m, "r");
    type_text(&mut m, "x");
    // A colleague's reply arrives (event), then the agent leaves, looks elsewhere, comes back.
    let m2 = message(
        "msg_2",
        "fb_00000",
        crate::domain::Direction::Outbound,
        "Bo was here",
    );
    update(
        &mut m,
        event(
            EventName::MessageCreated,
            serde_json::to_value(&m2).unwrap(),
        ),
    );
    let fx = keys(&mut m, "C-s");
    assert!(!fx.iter().any(|f| matches!(f, Effect::SendReply { .. })));
    assert!(matches!(&m.overlay, Some(Overlay::Guard(_))));
    keys(&mut m, "esc esc k j");
    assert_eq!(selected_id(&m), "fb_00000");
    // The reselection loads the thread again: the base stays.
    thread(&mut m, "fb_00000", vec![m1, m2]);
    let fx = keys(&mut m, "r C-s");
    assert!(
        !fx.iter().any(|f| matches!(f, Effect::SendReply { .. })),
        "the re-selected item went straight out"
    );
    let Some(Overlay::Guard(view)) = &m.overlay else {
        panic!("no guard after re-selection")
    };
    assert_eq!(view.messages[0].body, "Bo was here");
    let (_, reply) = send_key(&keys(&mut m, "ret"));
    assert_eq!(reply.base_message_id.as_deref(), Some("msg_2"));
}

#[test]
fn presence_is_announced_when_the_selection_rests_and_left_when_moving_away() {
    let (mut m, _) = loaded(5);
    let fx = keys(&mut m, "j");
    let settle = fx
        .iter()
        .find_map(|f| match f {
            Effect::Wake { wake, .. } => Some(wake.clone()),
            _ => None,
        })
        .expect("a settle timer");
    assert!(!fx.iter().any(|f| matches!(f, Effect::SetPresence { .. })));
    // Moving on before it fires: the old timer does nothing.
    keys(&mut m, "j");
    assert!(update(&mut m, Msg::Wake(settle)).is_empty());
    let id = selected_id(&m);
    let seq = m.selection_seq;
    let fx = update(
        &mut m,
        Msg::Wake(Wake::Settled {
            feedback_id: id.clone(),
            seq,
        }),
    );
    assert!(fx.contains(&Effect::SetPresence {
        feedback_id: id.clone(),
        state: PresenceState::Viewing
    }));
    assert!(fx.contains(&Effect::LoadThread(id.clone())));
    // Typing: composing.
    keys(&mut m, "r");
    let fx = type_text(&mut m, "a");
    assert!(fx.contains(&Effect::SetPresence {
        feedback_id: id.clone(),
        state: PresenceState::Composing
    }));
    // Refreshed before others would expire it.
    let fx = update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(61)));
    assert!(fx.contains(&Effect::SetPresence {
        feedback_id: id.clone(),
        state: PresenceState::Composing
    }));
    // Moving away: left.
    keys(&mut m, "esc");
    let fx = keys(&mut m, "k");
    assert!(fx.contains(&Effect::SetPresence {
        feedback_id: id,
        state: PresenceState::Left
    }));
}

#[test]
fn others_presence_shows_on_the_row_and_expires() {
    let (mut m, _) = loaded(3);
    let p = Presence {
        feedback_id: "fb_00001".into(),
        agent_id: "agt_bo".into(),
        agent_name: "Bo Brown".into(),
        state: PresenceState::Viewing,
        at: t0() - chrono::Duration::hours(3),
    };
    update(
        &mut m,
        event(
            EventName::PresenceChanged,
            serde_json::to_value(&p).unwrap(),
        ),
    );
    let screen = draw_text(&m);
    assert!(screen.contains("◔Bo"), "{screen}");
    // Still there after a minute (our clock, not the event's time)...
    update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(60)));
    assert_eq!(m.presence["fb_00001"].len(), 1);
    // ...gone after two without a refresh.
    update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(121)));
    assert!(m.presence.is_empty());
    // `left` removes at once.
    update(
        &mut m,
        event(
            EventName::PresenceChanged,
            serde_json::to_value(&p).unwrap(),
        ),
    );
    let left = Presence {
        state: PresenceState::Left,
        ..p
    };
    update(
        &mut m,
        event(
            EventName::PresenceChanged,
            serde_json::to_value(&left).unwrap(),
        ),
    );
    assert!(m.presence.is_empty());
}

fn agents() -> Vec<Agent> {
    use crate::domain::AgentRole;
    vec![
        me(),
        Agent {
            id: "agt_bo".into(),
            name: "Bo Brown".into(),
            role: AgentRole::Agent,
            departments: vec!["billing".into()],
            availability: Default::default(),
        },
        Agent {
            id: "agt_sue".into(),
            name: "Sue Pervisor".into(),
            role: AgentRole::Supervisor,
            departments: vec!["support".into()],
            availability: Default::default(),
        },
    ]
}

fn patches(fx: &[Effect]) -> Vec<FeedbackPatch> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Patch { patch, .. } => Some(patch.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn claim_reassign_escalate_and_status_from_keys_and_commands() {
    let (mut m, fx) = loaded(5);
    assert!(fx.contains(&Effect::LoadDepartments));
    update(&mut m, Msg::Agents(Ok(agents())));
    update(
        &mut m,
        Msg::Departments(Ok(vec![Department {
            id: "billing".into(),
            name: "Billing".into(),
        }])),
    );
    keys(&mut m, "G"); // fb_00000, support
    let p = patches(&keys(&mut m, "a"));
    assert_eq!(p[0].assignee, Some(Some("agt_me".into())));
    // Reassign: a picker of agents and departments, filtered by typing.
    let fx = keys(&mut m, "t");
    assert!(fx.is_empty());
    assert!(matches!(m.overlay, Some(Overlay::Assign(_))));
    type_text(&mut m, "bill");
    let p = patches(&keys(&mut m, "down ret"));
    assert_eq!(p[0].department.as_deref(), Some("billing"));
    assert!(m.overlay.is_none());
    let p = patches(&run_command(&mut m, "assign bo"));
    assert_eq!(p[0].assignee, Some(Some("agt_bo".into())));
    // Escalate: urgent, to the department's supervisor.
    let p = patches(&keys(&mut m, "E"));
    assert_eq!(p[0].priority, Some(crate::domain::Priority::Urgent));
    assert_eq!(p[0].assignee, Some(Some("agt_sue".into())));
    let p = patches(&keys(&mut m, "p"));
    assert_eq!(p[0].status, Some(FeedbackStatus::Pending));
    let p = patches(&run_command(&mut m, "status resolved"));
    assert_eq!(p[0].status, Some(FeedbackStatus::Resolved));
    // Changes from other consoles arrive as events and show at once.
    let mut f = feedback(0);
    f.version = 9;
    f.assignee = Some("agt_bo".into());
    update(
        &mut m,
        event(
            EventName::FeedbackUpdated,
            serde_json::to_value(&f).unwrap(),
        ),
    );
    assert_eq!(m.selected().unwrap().assignee.as_deref(), Some("agt_bo"));
}

#[test]
fn offline_feedback_is_logged_for_the_customer() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G");
    with_customer(&mut m, 0);
    keys(&mut m, "O");
    let Some(Overlay::Log(form)) = &m.overlay else {
        panic!("the form")
    };
    assert_eq!(form.customer_id.as_deref(), Some("cus_0"));
    assert_eq!(form.channel, Channel::Phone);
    keys(&mut m, "tab");
    type_text(&mut m, "Came to the shop, blender broken");
    let screen = draw_text(&m);
    assert!(screen.contains("Log offline feedback"), "{screen}");
    let fx = keys(&mut m, "ret");
    let Some(Effect::CreateFeedback(new)) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(new.channel, Channel::InPerson);
    assert_eq!(new.customer_id.as_deref(), Some("cus_0"));
    assert_eq!(new.text, "Came to the shop, blender broken");
    assert_eq!(new.author_handle, "Ada Lovelace0");
    // From the command line in one go.
    let fx = run_command(&mut m, "log web_form wants a callback");
    assert!(
        matches!(&fx[..], [Effect::CreateFeedback(n)] if n.channel == Channel::WebForm && n.text == "wants a callback")
    );
    let mut created = feedback(40);
    created.channel = Channel::WebForm;
    update(&mut m, Msg::Created(Ok(created)));
    assert!(m.stream.get("fb_00040").is_some());
}

#[test]
fn a_macro_goes_to_every_marked_item_each_with_its_own_key() {
    let (mut m, _) = loaded(6);
    m.outbox_enabled = true;
    // fb_00005 (IG), fb_00004 (review), fb_00003 (sms: no public thread).
    keys(&mut m, "space space space");
    assert_eq!(m.marked.len(), 3);
    let screen = draw_text(&m);
    assert!(screen.contains("3 marked"), "{screen}");
    keys(&mut m, "g g r");
    type_text(&mut m, "We are aware of the outage and on it.");
    let fx = keys(&mut m, "A-m");
    let sends: Vec<(String, String, NewReply)> = fx
        .iter()
        .filter_map(|f| match f {
            Effect::SendReply {
                feedback_id,
                key,
                reply,
            } => Some((feedback_id.clone(), key.clone(), reply.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 2, "{fx:?}");
    assert_eq!(sends[0].0, "fb_00004");
    assert_eq!(sends[0].1, "seed-000000-fb_00004");
    assert_eq!(sends[1].1, "seed-000000-fb_00005");
    assert!(sends
        .iter()
        .all(|s| s.2.parts[0].visibility == Visibility::Public));
    // The SMS item cannot take a public reply: it stays marked, and the agent is told.
    assert_eq!(m.marked.iter().collect::<Vec<_>>(), vec!["fb_00003"]);
    assert!(m
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("fb_00003 (sms has no public thread)"));
    assert_eq!(m.outbox.len(), 2);
}

#[test]
fn a_macro_is_checked_against_the_rules_of_each_items_channel() {
    let (mut m, _) = loaded(6);
    let src = crate::domain::api::RulebookSource {
        id: "t".into(),
        version: "1".into(),
        source: r#"
[rulebook]
id = "t"
version = "1"

[[rule]]
id = "NO-REFUND-ON-X"
kind = "phrase"
level = "error"
message = "no refunds in public on X"
phrases = ["refund"]
when = { channel = ["x"] }
"#
        .into(),
    };
    match CompiledRules::compile(&src) {
        Ok(r) => {
            update(&mut m, Msg::Rules(Ok(Arc::new(r))));
        }
        Err(e) => panic!("{e}"),
    }
    // fb_00000 (X) and fb_00004 (review).
    keys(&mut m, "G space");
    keys(&mut m, "g g j space");
    assert_eq!(m.marked.len(), 2);
    keys(&mut m, "g g r");
    type_text(&mut m, "Your refund is on its way");
    let fx = keys(&mut m, "A-m");
    let ids: Vec<&str> = fx
        .iter()
        .filter_map(|f| match f {
            Effect::SendReply { feedback_id, .. } => Some(feedback_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec!["fb_00004"]);
    assert!(m.marked.contains("fb_00000"));
}

#[test]
fn drafts_are_restored_per_item_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, _) = loaded(5);
    keys(&mut m, "G r");
    type_text(&mut m, "first item");
    keys(&mut m, "esc k r");
    keys(&mut m, "C-t");
    type_text(&mut m, "second item");
    // The debounce saves them.
    let fx = update(&mut m, Msg::Tick(t0() + chrono::Duration::seconds(3)));
    let items = fx
        .iter()
        .find_map(|f| match f {
            Effect::SaveDrafts(items) => Some(items.clone()),
            _ => None,
        })
        .expect("a save");
    crate::tui::runtime::save_drafts_now(dir.path(), &items).unwrap();
    // A new console: the drafts come back, each to its own item.
    let (drafts, problems) = crate::tui::drafts::load_all(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    let mut m2 = new_model();
    m2.drafts = drafts;
    let mut m2 = {
        init(&mut m2);
        update(
            &mut m2,
            Msg::FeedbackPage {
                generation: 1,
                result: Ok(Page {
                    items: (0..5).map(feedback).collect(),
                    next_cursor: None,
                }),
            },
        );
        m2
    };
    keys(&mut m2, "G");
    let c = m2.composer.as_ref().unwrap();
    assert_eq!(c.text(c.active), "first item");
    keys(&mut m2, "k");
    let c = m2.composer.as_ref().unwrap();
    assert_eq!(c.feedback_id, "fb_00001");
    assert_eq!(c.kind, m.drafts["fb_00001"].kind);
    assert_eq!(c.text(c.active), "second item");
}

#[test]
fn warnings_ask_for_one_confirmation_and_an_edit_asks_again() {
    use crate::tui::lint::{MarkLevel, ViolationMark};
    let (mut m, _) = loaded(5);
    keys(&mut m, "G r");
    type_text(&mut m, "SORRY about that");
    let warn = ViolationMark {
        rule: "TONE-SHOUTING".into(),
        level: MarkLevel::Warning,
        message: "shouting".into(),
        part: Visibility::Public,
        start: 0,
        end: 5,
        fix: None,
    };
    m.composer.as_mut().unwrap().violations = vec![warn.clone()];
    let sends = |fx: &[Effect]| {
        fx.iter()
            .filter(|f| matches!(f, Effect::SendReply { .. }))
            .count()
    };
    assert_eq!(sends(&keys(&mut m, "C-s")), 0, "the first send only warns");
    assert!(m.status.as_ref().unwrap().text.contains("TONE-SHOUTING"));
    // An edit resets the confirmation: the agent is asked again.
    type_text(&mut m, "!");
    m.composer.as_mut().unwrap().violations = vec![warn];
    assert_eq!(sends(&keys(&mut m, "C-s")), 0);
    assert_eq!(sends(&keys(&mut m, "C-s")), 1, "the second send confirms");
}

#[test]
fn the_tone_key_cycles_the_label_as_a_patch_at_the_items_version() {
    let (mut m, _) = loaded(5);
    keys(&mut m, "G");
    let fb = m.selected().unwrap().clone();
    let next = |l: SentimentLabel| match l {
        SentimentLabel::Negative => SentimentLabel::Neutral,
        SentimentLabel::Neutral => SentimentLabel::Positive,
        SentimentLabel::Positive => SentimentLabel::Negative,
    };
    let fx = keys(&mut m, "s");
    let [Effect::Patch {
        feedback_id,
        version,
        patch,
    }] = fx.as_slice()
    else {
        panic!("one patch expected: {fx:?}");
    };
    assert_eq!(feedback_id, &fb.id);
    assert_eq!(*version, fb.version);
    let first = next(fb.sentiment_label);
    assert_eq!(
        patch,
        &FeedbackPatch {
            sentiment_label: Some(first),
            ..Default::default()
        }
    );
    // The server's answer arrives as an event; the next press goes on from the stored label.
    let mut f = fb.clone();
    f.version += 1;
    f.sentiment_label = first;
    f.corrected = true;
    update(
        &mut m,
        event(
            EventName::FeedbackUpdated,
            serde_json::to_value(&f).unwrap(),
        ),
    );
    let p = patches(&keys(&mut m, "s"));
    assert_eq!(p[0].sentiment_label, Some(next(first)));
    // A command sets a label directly; a wrong one is refused with a hint.
    let p = patches(&run_command(&mut m, "tone positive"));
    assert_eq!(p[0].sentiment_label, Some(SentimentLabel::Positive));
    assert!(run_command(&mut m, "tone happy").is_empty());
    // `?` lists the key with its description.
    let help: Vec<String> = crate::tui::overlay::help::lines(&m, 120)
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert!(
        help.iter()
            .any(|l| l.contains(" s ") && l.contains("Correct the tone")),
        "{help:#?}"
    );
}

#[test]
fn the_order_placeholder_prefers_the_order_the_post_names() {
    let order = |reference: &str, days_ago: i64| Transaction {
        id: format!("trx_{reference}"),
        customer_id: "cus_1".into(),
        kind: TransactionKind::Order,
        reference: reference.into(),
        description: "Kettle".into(),
        amount: crate::domain::Money {
            amount: "10.00".parse().unwrap(),
            currency: "EUR".into(),
        },
        occurred_at: t0() - chrono::Duration::days(days_ago),
    };
    let orders = vec![
        order("AC-140906", 1),
        order("AC-563140", 30),
        order("AC-000001", 90),
    ];
    // The post names an older order: that one, not the newest.
    assert_eq!(
        order_for(
            "I was charged twice for order ac-563140. Refund please",
            &orders
        )
        .as_deref(),
        Some("AC-563140")
    );
    // Two named: the first one the customer wrote.
    assert_eq!(
        order_for("AC-000001 arrived, AC-563140 did not", &orders).as_deref(),
        Some("AC-000001")
    );
    // None named: the newest order.
    assert_eq!(
        order_for("where is my kettle", &orders).as_deref(),
        Some("AC-140906")
    );
    assert_eq!(order_for("anything", &[]), None);
}

#[test]
fn follow_mode_never_moves_an_open_composer_to_another_item() {
    let (mut m, _) = loaded(20);
    keys(&mut m, "f");
    assert!(m.follow);
    let target = selected_id(&m);
    keys(&mut m, "r");
    assert_eq!(m.focus, Focus::Composer);
    type_text(&mut m, "Sorry about");
    update(&mut m, created(feedback(40)));
    // The reply stays on its item, with its text.
    assert_eq!(selected_id(&m), target);
    let c = m.composer.as_ref().expect("the composer is still open");
    assert_eq!(c.feedback_id, target);
    assert_eq!(m.focus, Focus::Composer);
    type_text(&mut m, " the wait");
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(c.active), "Sorry about the wait");
    // Back in the stream, following goes on with the next arrival.
    keys(&mut m, "esc");
    assert_ne!(m.focus, Focus::Composer);
    assert!(m.follow);
    update(&mut m, created(feedback(41)));
    assert_eq!(selected_id(&m), "fb_00041");
}

mod composer;

#[test]
fn a_customer_update_refetches_the_profiles_the_console_shows() {
    let (mut m, fx) = loaded(20);
    // Selecting an item loads its customer: the console now shows that profile.
    let cid = fx
        .iter()
        .find_map(|f| match f {
            Effect::LoadCustomer(id) => Some(id.clone()),
            _ => None,
        })
        .expect("the selected item's customer is loaded");
    // The data `customer.updated` has on the wire (src/server/store/identities.rs).
    let fx = update(
        &mut m,
        event(
            EventName::CustomerUpdated,
            serde_json::json!({ "customer_id": cid }),
        ),
    );
    assert_eq!(fx, vec![Effect::LoadCustomer(cid.clone())]);
    // A merge names the customer kept too; one this console never showed is not fetched.
    let fx = update(
        &mut m,
        event(
            EventName::CustomerUpdated,
            serde_json::json!({ "customer_id": "cu_gone", "merged_into": cid }),
        ),
    );
    assert_eq!(fx, vec![Effect::LoadCustomer(cid)]);
    let fx = update(
        &mut m,
        event(
            EventName::CustomerUpdated,
            serde_json::json!({ "customer_id": "cu_elsewhere", "merged_into": null }),
        ),
    );
    assert!(fx.is_empty(), "{fx:?}");
}
