use super::*;
use crate::domain::api::Page;
use crate::domain::{Event, Message};
use crate::tui::keymap::Keymap;
use crate::tui::lint::CompiledRules;
use crate::tui::model::fixtures::*;

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
            scopes: vec![],
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
    Msg::Stream(StreamItem::Event(Event {
        seq: 1,
        name,
        data,
        created_at: t0(),
    }))
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
    update(
        &mut m,
        event(
            EventName::FeedbackCreated,
            serde_json::to_value(feedback(30)).unwrap(),
        ),
    );
    update(
        &mut m,
        Msg::FeedbackPage {
            generation: 1,
            result: Ok(Page {
                items: (0..10).map(feedback).collect(),
                next_cursor: None,
            }),
        },
    );
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
    update(
        &mut m,
        event(
            EventName::FeedbackCreated,
            serde_json::to_value(feedback(40)).unwrap(),
        ),
    );
    assert_eq!(selected_id(&m), sel);
    keys(&mut m, "f");
    assert!(m.follow);
    assert_eq!(selected_id(&m), "fb_00040");
    update(
        &mut m,
        event(
            EventName::FeedbackCreated,
            serde_json::to_value(feedback(41)).unwrap(),
        ),
    );
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
    // Garbage data is ignored, not a crash.
    update(
        &mut m,
        event(EventName::FeedbackUpdated, serde_json::json!({"nope": 1})),
    );
    update(
        &mut m,
        event(EventName::MessageCreated, serde_json::json!(null)),
    );
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
    let problem = serde_json::json!({"violations": [{"rule": "pii.phone", "level": "error", "message": "phone number in public", "part": "public", "start": 11, "end": 14}]});
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
    assert_eq!(
        recipient(&m, &x, Visibility::Direct).unwrap(),
        "@user0@x (direct message)"
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
    update(&mut m, Msg::Stream(StreamItem::Connected));
    assert_eq!(m.connection, Connection::Connected);
    update(
        &mut m,
        Msg::Stream(StreamItem::Disconnected {
            reason: "reset".into(),
            retry_in_ms: 2000,
        }),
    );
    assert!(matches!(m.connection, Connection::Disconnected { .. }));
    assert_eq!(m.stream.total(), 3, "what we have is kept");
    update(&mut m, Msg::Stream(StreamItem::Connected));
    assert!(m.status.as_ref().unwrap().text.contains("reconnected"));
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
            generation: 2,
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
    keys(&mut m, "C-k");
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
            scopes: vec![],
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
