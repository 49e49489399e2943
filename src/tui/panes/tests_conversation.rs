//! The conversation view: snapshots of a public thread with several participants and roles (a
//! colleague's reply, our own direct part, a helper's tip, a newcomer), and the reducer's
//! actions: open, scroll, close, live messages, and what was seen on screen.

// These tests look at the model a message leaves; the effects it asks for are often not the point.
#![allow(unused_must_use)]

use super::tests::{draw, keys, scene};
use crate::client::StreamItem;
use crate::domain::api::FeedbackDetail;
use crate::domain::event_payload::TypedEvent;
use crate::domain::thread::{MessageAuthor, Participant};
use crate::domain::*;
use crate::tui::conversation::seen_up_to;
use crate::tui::effect::Effect;
use crate::tui::model::fixtures::*;
use crate::tui::model::*;
use crate::tui::update::{update, Msg};

fn msg(
    n: usize,
    dir: Direction,
    vis: Visibility,
    author: &str,
    address: &str,
    body: &str,
) -> Message {
    Message {
        id: format!("msg_{n:02}"),
        thread_id: "th_6".into(),
        feedback_id: Some(if n == 1 {
            "fb_00006".into()
        } else {
            format!("fb_9{n:04}")
        }),
        direction: dir,
        visibility: vis,
        channel: Channel::X,
        address: address.into(),
        author: author.into(),
        body: body.into(),
        delivery_status: match dir {
            Direction::Inbound => DeliveryStatus::Received,
            Direction::Outbound => DeliveryStatus::Delivered,
        },
        status_reason: None,
        reply_id: None,
        created_at: t0() - chrono::Duration::minutes(60 - n as i64 * 7),
    }
}

fn person(
    handle: &str,
    name: Option<&str>,
    roles: Vec<CustomerRole>,
    n: u32,
    op: bool,
    new: bool,
) -> Participant {
    Participant {
        identity: Identity {
            id: format!("idn_{handle}"),
            network: Channel::X,
            handle: handle.into(),
            display_name: handle.into(),
            verified: false,
            customer_id: name.map(|_| format!("cus_{handle}")),
        },
        customer_id: name.map(|_| format!("cus_{handle}")),
        customer_name: name.map(str::to_string),
        roles,
        messages: n,
        first_at: t0(),
        last_kind: if handle == "fixit_fran" {
            FeedbackKind::Tip
        } else {
            FeedbackKind::Complaint
        },
        last_sentiment: SentimentLabel::Negative,
        original_poster: op,
        new_to_thread: new,
    }
}

/// fb_00006's public thread: the post, a second customer piling on, a colleague's public
/// answer, a helper's tip, our own direct follow-up (with a long body that wraps).
fn detail(m: &Model) -> FeedbackDetail {
    let fb = m.stream.get("fb_00006").unwrap().fb.clone();
    let thread = vec![
        msg(1, Direction::Inbound, Visibility::Public, "User 6", "user6", &fb.text),
        msg(2, Direction::Inbound, Visibility::Public, "Kim", "kim_p", "Same here, charged twice and nobody answers. Third time I write."),
        msg(3, Direction::Outbound, Visibility::Public, "Bo", "user6", "Sorry to both of you, we are looking into it now."),
        msg(4, Direction::Inbound, Visibility::Public, "Fran", "fixit_fran", "Had the same problem: log out and back in, the second charge drops off after a day. Worked for me."),
        msg(5, Direction::Outbound, Visibility::Direct, "Sam Agent", "user6", "Hi Ada, I have refunded the second charge on order A1234; it shows on your statement within three working days. Anything else, just answer this message."),
    ];
    let authors = thread
        .iter()
        .map(|x| MessageAuthor {
            message_id: x.id.clone(),
            identity_id: (x.direction == Direction::Inbound).then(|| format!("idn_{}", x.address)),
            agent_id: match x.author.as_str() {
                "Bo" => Some("agt_bo".into()),
                "Sam Agent" => Some("agt_me".into()),
                _ => None,
            },
            customer_id: None,
        })
        .collect();
    // The author of fb_00006 is identity idn_6, handle user6.
    let mut op = person(
        "user6",
        Some("Ada Lovelace6"),
        vec![CustomerRole::PowerUser, CustomerRole::Advocate],
        1,
        true,
        false,
    );
    op.identity.id = "idn_6".into();
    let mut authors: Vec<MessageAuthor> = authors;
    authors[0].identity_id = Some("idn_6".into());
    FeedbackDetail {
        feedback: fb,
        thread,
        authors,
        participants: vec![
            op,
            person(
                "kim_p",
                Some("Kim Park"),
                vec![CustomerRole::Detractor],
                1,
                false,
                false,
            ),
            person("fixit_fran", None, vec![], 1, false, true),
        ],
    }
}

/// The scene with fb_00006's conversation open and its thread loaded.
fn open_scene(theme: &str, w: u16, h: u16) -> Model {
    let mut m = scene(theme, w, h);
    let mut fb = m.stream.get("fb_00006").unwrap().fb.clone();
    fb.cues = vec![
        "charged twice".into(),
        "still hasn't arrived".into(),
        "disappointed".into(),
    ];
    fb.urgency = vec![UrgencyCue::RepeatContact];
    fb.kind = FeedbackKind::Complaint;
    fb.sentiment_confidence = 0.91;
    fb.thread_messages = 5;
    fb.version += 1;
    update(
        &mut m,
        Msg::Patched {
            feedback_id: fb.id.clone(),
            result: Ok(fb),
        },
    );
    let fx = keys(&mut m, "esc ret");
    assert!(
        fx.contains(&Effect::LoadThread("fb_00006".into())),
        "{fx:?}"
    );
    let d = detail(&m);
    update(
        &mut m,
        Msg::Thread {
            id: "fb_00006".into(),
            result: Ok(d),
        },
    );
    m.status = None;
    m
}

#[test]
fn conversation_default_80x24() {
    insta::assert_snapshot!(draw(&open_scene("default", 80, 24)));
}

#[test]
fn conversation_default_120x40() {
    insta::assert_snapshot!(draw(&open_scene("default", 120, 40)));
}

#[test]
fn conversation_mono_80x24() {
    insta::assert_snapshot!(draw(&open_scene("mono", 80, 24)));
}

#[test]
fn conversation_mono_120x40() {
    insta::assert_snapshot!(draw(&open_scene("mono", 120, 40)));
}

#[test]
fn zoomed_at_80x24_it_scrolls_to_every_message_and_notes_what_was_seen() {
    let mut m = open_scene("default", 80, 24);
    // At 80x24 unzoomed, only the top of the conversation is on screen.
    let first = seen_up_to(&m, "fb_00006").map(str::to_string);
    assert_ne!(first.as_deref(), Some("msg_05"));
    keys(&mut m, "z");
    assert!(m.zoom);
    let text = draw(&m);
    assert!(text.contains("Participants (3)"), "{text}");
    keys(&mut m, "G");
    let text = draw(&m);
    assert!(text.contains("just answer this"), "{text}");
    assert_eq!(seen_up_to(&m, "fb_00006"), Some("msg_05"));
    // Back up: what was seen stays seen.
    keys(&mut m, "g g");
    assert_eq!(m.conversation.open.as_ref().unwrap().scroll, 0);
    assert_eq!(seen_up_to(&m, "fb_00006"), Some("msg_05"));
    keys(&mut m, "j j");
    assert_eq!(m.conversation.open.as_ref().unwrap().scroll, 2);
    keys(&mut m, "k");
    assert_eq!(m.conversation.open.as_ref().unwrap().scroll, 1);
    keys(&mut m, "pagedown pagedown pagedown pagedown pagedown");
    let max = crate::tui::panes::conversation::max_scroll(&m);
    assert_eq!(m.conversation.open.as_ref().unwrap().scroll, max);
}

#[test]
fn r_replies_from_the_conversation_and_esc_goes_back_to_the_stream() {
    let mut m = open_scene("default", 120, 40);
    keys(&mut m, "r");
    assert_eq!(m.focus, Focus::Composer);
    assert!(
        m.conversation.is_open(),
        "the thread stays on screen while replying"
    );
    keys(&mut m, "esc");
    assert_eq!(m.focus, Focus::Stream);
    assert!(m.conversation.is_open());
    // j scrolls the conversation, not the stream.
    let sel = m.stream.selected.clone();
    keys(&mut m, "j");
    assert_eq!(m.stream.selected, sel);
    keys(&mut m, "esc");
    assert!(!m.conversation.is_open());
    keys(&mut m, "j");
    assert_ne!(m.stream.selected, sel);
}

/// A message as the event stream delivers it (event `seq`, named `name`).
fn live_event(seq: i64, name: EventName, message: &crate::domain::Message) -> Msg {
    Msg::Stream(StreamItem::Event(
        TypedEvent::decode(&Event {
            seq,
            name,
            data: serde_json::to_value(message).unwrap(),
            created_at: t0(),
        })
        .unwrap(),
    ))
}

#[test]
fn a_colleagues_reply_and_a_newcomer_arrive_live() {
    let mut m = open_scene("default", 120, 40);
    keys(&mut m, "z");
    // Another item's message on the same thread (someone joining): it shows, and the view
    // asks who they are.
    let mut joined = msg(
        6,
        Direction::Inbound,
        Visibility::Public,
        "Lee",
        "lee_q",
        "Any news? Mine too.",
    );
    joined.created_at = t0();
    let fx = update(&mut m, live_event(10, EventName::MessageCreated, &joined));
    assert!(
        fx.contains(&Effect::LoadThread("fb_00006".into())),
        "{fx:?}"
    );
    // A colleague's answer to the item itself.
    let mut answer = msg(
        7,
        Direction::Outbound,
        Visibility::Public,
        "Bo",
        "user6",
        "Refund is on its way, Lee too.",
    );
    answer.feedback_id = Some("fb_00006".into());
    answer.delivery_status = DeliveryStatus::Queued;
    update(&mut m, live_event(11, EventName::MessageCreated, &answer));
    keys(&mut m, "G");
    let text = draw(&m);
    assert!(text.contains("Any news? Mine too."), "{text}");
    assert!(text.contains("Refund is on its way, Lee too."), "{text}");
    assert!(text.contains("Bo (colleague)"), "{text}");
    // Its delivery status follows.
    answer.delivery_status = DeliveryStatus::Delivered;
    update(
        &mut m,
        live_event(12, EventName::ReplyStatusChanged, &answer),
    );
    let t = &m.threads["fb_00006"];
    assert_eq!(
        t.messages.last().unwrap().delivery_status,
        DeliveryStatus::Delivered
    );
    assert_eq!(seen_up_to(&m, "fb_00006"), Some("msg_07"));
    // A message of another thread does not join.
    let mut other = msg(
        8,
        Direction::Inbound,
        Visibility::Public,
        "X",
        "x",
        "elsewhere",
    );
    other.thread_id = "th_other".into();
    update(&mut m, live_event(13, EventName::MessageCreated, &other));
    assert!(!m.threads["fb_00006"]
        .messages
        .iter()
        .any(|x| x.id == "msg_08"));
}

#[test]
fn the_profile_shows_the_items_triage_and_its_cues() {
    let mut m = open_scene("default", 120, 40);
    keys(&mut m, "esc");
    let text = draw(&m);
    assert!(text.contains("tone negative 91%"), "{text}");
    assert!(text.contains("cues: charged twice"), "{text}");
}

#[test]
fn stream_rows_carry_the_thread_role_priority_and_a_legend() {
    let m = scene("default", 80, 24);
    let text = draw(&m);
    assert!(text.contains("D detractor H helper"), "{text}");
    assert!(text.contains("✉3"), "{text}");
}

#[test]
fn the_unassigned_view_and_the_sort_orders() {
    let mut m = scene("default", 120, 40);
    keys(&mut m, "esc u");
    assert_eq!(m.stream.view_kind(), ViewKind::Unassigned);
    assert!((0..m.stream.visible()).all(|p| m.stream.row_at(p).unwrap().fb.assignee.is_none()));
    keys(&mut m, "A o");
    assert_eq!(m.stream.sort(), crate::tui::sort::SortKey::Sla);
    crate::tui::update::run_command(&mut m, "sort priority");
    assert_eq!(m.stream.sort(), crate::tui::sort::SortKey::Priority);
    assert_eq!(m.stream.row_at(0).unwrap().fb.priority, Priority::Urgent);
    crate::tui::update::run_command(&mut m, "sort nonsense");
    assert_eq!(m.stream.sort(), crate::tui::sort::SortKey::Priority);
    assert!(m.status.as_ref().unwrap().text.contains("usage: :sort"));
}

#[test]
fn the_filter_takes_fielded_terms_with_free_text() {
    let mut m = scene("default", 120, 40);
    keys(&mut m, "esc /");
    for c in "role:detractor order".chars() {
        update(
            &mut m,
            Msg::Key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
    let n = m.stream.visible();
    assert!(n > 0);
    for p in 0..n {
        let fb = &m.stream.row_at(p).unwrap().fb;
        assert!(fb.author_roles.contains(&CustomerRole::Detractor));
        assert!(fb.text.to_lowercase().contains("order"));
    }
}

#[test]
fn the_conversation_stays_on_the_selected_item() {
    let mut m = open_scene("default", 120, 40);
    m.follow = true;
    // An arrival in follow mode does not take the selection away from the open conversation.
    let mut fb = feedback(50);
    fb.received_at = t0();
    update(
        &mut m,
        Msg::Stream(StreamItem::Event(
            TypedEvent::decode(&Event {
                seq: 20,
                name: EventName::FeedbackCreated,
                data: serde_json::to_value(&fb).unwrap(),
                created_at: t0(),
            })
            .unwrap(),
        )),
    );
    assert_eq!(m.stream.selected.as_deref(), Some("fb_00006"));
    assert_eq!(m.conversation.open_id(), Some("fb_00006"));
    // When the agent moves to another item (as a click or the next-item key does), the
    // conversation goes with them at the next update.
    m.stream.select_pos(0);
    let fx = update(&mut m, Msg::Tick(t0()));
    let sel = m.stream.selected.clone().unwrap();
    assert_ne!(sel, "fb_00006");
    assert_eq!(m.conversation.open_id(), Some(sel.as_str()));
    assert!(fx.contains(&Effect::LoadThread(sel)), "{fx:?}");
}
