//! Rendered-frame snapshots (TestBackend + insta) from deterministic models: fixed clock,
//! fixed data. The snapshots include styles, so the mono ones show that selection and focus are
//! visible without colour.

// These tests look at the model a message leaves; the effects it asks for are often not the point.
#![allow(unused_must_use)]

use crate::client::StreamItem;
use crate::domain::api::{Me, Page, Presence};
use crate::domain::{EventName, PresenceState, Visibility};
use crate::tui::effect::Effect;
use crate::tui::keymap::{KeyPress, Keymap};
use crate::tui::model::fixtures::*;
use crate::tui::model::*;
use crate::tui::theme::{ColorDepth, Theme};
use crate::tui::update::{init, update, Msg};
use crossterm::event::KeyEvent;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

pub(super) fn keys(m: &mut Model, seq: &str) -> Vec<Effect> {
    let mut fx = Vec::new();
    for k in seq.split(' ') {
        let k = KeyPress::parse(k).unwrap();
        fx.extend(update(m, Msg::Key(KeyEvent::new(k.code, k.mods))));
    }
    fx
}

pub(super) fn type_text(m: &mut Model, text: &str) {
    for c in text.chars() {
        update(
            m,
            Msg::Key(KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
}

/// The backend's answers for customer `cus_{n}`: the profile, its transactions and history.
fn load_profile(m: &mut Model, n: usize) {
    let id = format!("cus_{n}");
    update(
        m,
        Msg::Customer {
            id: id.clone(),
            result: Ok(customer(n)),
        },
    );
    update(
        m,
        Msg::Transactions {
            id: id.clone(),
            result: Ok(Page {
                items: transactions(n),
                next_cursor: None,
            }),
        },
    );
    update(
        m,
        Msg::History {
            id,
            result: Ok(Page {
                items: history(n),
                next_cursor: None,
            }),
        },
    );
}

/// Twelve items, signed in, connected, the X item fb_00006 selected with its customer loaded
/// and a two-part draft.
pub(super) fn scene(theme: &str, w: u16, h: u16) -> Model {
    let (km, _) = Keymap::load(None, None);
    let (canned, _) = crate::tui::canned::load(None);
    let mut m = Model::new(
        t0(),
        km,
        Theme::builtin(theme, ColorDepth::TrueColor),
        "seed".into(),
    );
    m.canned = canned;
    m.size = (w, h);
    init(&mut m);
    update(
        &mut m,
        Msg::Me(Ok(Me {
            agent: me(),
            scopes: vec![crate::domain::Scope::Read, crate::domain::Scope::Reply],
        })),
    );
    update(
        &mut m,
        Msg::Agents(Ok(vec![crate::domain::Agent {
            id: "agt_bo".into(),
            name: "Bo".into(),
            role: crate::domain::AgentRole::Agent,
            departments: vec![],
            availability: Default::default(),
        }])),
    );
    update(&mut m, Msg::Stream(StreamItem::Connected));
    let generation = m.stream.generation;
    update(&mut m, first_page(generation, 12));
    keys(&mut m, "j j j j j");
    assert_eq!(m.stream.selected.as_deref(), Some("fb_00006"));
    load_profile(&mut m, 6);
    keys(&mut m, "r C-t C-t");
    assert_eq!(m.composer.as_ref().unwrap().kind, ReplyKind::Both);
    keys(&mut m, "C-o");
    type_text(&mut m, "Sorry about the wait, Ada! Sending details by DM.");
    keys(&mut m, "C-o");
    type_text(
        &mut m,
        "Order A1234 left our warehouse today; tracking follows.",
    );
    m.status = None;
    m
}

pub(super) fn draw(m: &Model) -> String {
    let mut t = Terminal::new(TestBackend::new(m.size.0, m.size.1)).unwrap();
    t.draw(|f| super::render(f, m)).unwrap();
    format!("{:?}", t.backend().buffer())
}

#[test]
fn console_default_80x24() {
    insta::assert_snapshot!(draw(&scene("default", 80, 24)));
}

#[test]
fn console_default_120x40() {
    insta::assert_snapshot!(draw(&scene("default", 120, 40)));
}

#[test]
fn console_mono_80x24() {
    insta::assert_snapshot!(draw(&scene("mono", 80, 24)));
}

#[test]
fn console_mono_120x40() {
    insta::assert_snapshot!(draw(&scene("mono", 120, 40)));
}

#[test]
fn help_default_80x24() {
    let mut m = scene("default", 80, 24);
    keys(&mut m, "esc ?");
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn unlinked_offline_with_presence_mono_80x24() {
    let mut m = scene("mono", 80, 24);
    keys(&mut m, "esc j j j j j");
    assert_eq!(m.stream.selected.as_deref(), Some("fb_00001"));
    let p = Presence {
        feedback_id: "fb_00001".into(),
        agent_id: "agt_bo".into(),
        agent_name: "Bo".into(),
        state: PresenceState::Composing,
        at: t0(),
    };
    update(
        &mut m,
        Msg::Stream(StreamItem::Event(
            crate::domain::event_payload::TypedEvent::decode(&crate::domain::Event {
                seq: 2,
                name: EventName::PresenceChanged,
                data: serde_json::to_value(p).unwrap(),
                created_at: t0(),
            })
            .unwrap(),
        )),
    );
    update(
        &mut m,
        Msg::Stream(StreamItem::Disconnected {
            reason: "connection reset".into(),
            retry_in_ms: 4000,
        }),
    );
    keys(&mut m, "2");
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn loading_profile_and_filter_line_base16_80x24() {
    let (km, _) = Keymap::load(None, None);
    let mut m = Model::new(
        t0(),
        km,
        Theme::builtin("base16", ColorDepth::Ansi16),
        "seed".into(),
    );
    m.size = (80, 24);
    init(&mut m);
    let generation = m.stream.generation;
    update(&mut m, first_page(generation, 40));
    keys(&mut m, "/");
    type_text(&mut m, "order");
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn an_item_nobody_could_take_says_why() {
    let mut m = scene("default", 120, 40);
    let mut fb = m.stream.get("fb_00006").unwrap().fb.clone();
    fb.assignee = None;
    fb.unassigned_reason = Some("nobody in 'support' can take new work (1 away)".into());
    fb.version += 1;
    update(
        &mut m,
        Msg::Stream(StreamItem::Event(
            crate::domain::event_payload::TypedEvent::decode(&crate::domain::Event {
                seq: 2,
                name: EventName::FeedbackUpdated,
                data: serde_json::to_value(&fb).unwrap(),
                created_at: t0(),
            })
            .unwrap(),
        )),
    );
    let screen = draw(&m);
    assert!(screen.contains("support    no one"), "{screen}");
    assert!(
        screen.contains("unassigned: nobody in 'support' can take new work"),
        "{screen}"
    );
}

#[test]
fn canned_picker_default_80x24() {
    let mut m = scene("default", 80, 24);
    keys(&mut m, "C-r");
    type_text(&mut m, "sorry");
    insta::assert_snapshot!(draw(&m));
}

#[test]
fn composer_parts_show_recipients_and_meters() {
    let m = scene("default", 120, 40);
    let text = {
        let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
        t.draw(|f| super::render(f, &m)).unwrap();
        let b = t.backend().buffer().clone();
        (0..b.area.height)
            .map(|y| {
                (0..b.area.width)
                    .map(|x| b[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(text.contains("→ @user6@x (public thread)"), "{text}");
    assert!(text.contains("→ @user6@x (direct message)"), "{text}");
    assert!(text.contains("x 49/280"), "{text}");
    assert!(text.contains("x 55/10000"), "{text}");
    let c = m.composer.as_ref().unwrap();
    assert_eq!(c.text(Visibility::Public).len(), 49);
}

/// Bytes the app's backend writes for one frame after `change` (ratatui diffs frames and the
/// lean backend keeps the terminal's state between them, so this is what goes over SSH).
fn bytes_for(m: &mut Model, change: impl FnOnce(&mut Model)) -> usize {
    use crate::tui::wire::LeanBackend;
    use ratatui::layout::Rect;
    use ratatui::{TerminalOptions, Viewport};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Counter(Arc<AtomicUsize>);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.fetch_add(buf.len(), Ordering::Relaxed);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let n = Arc::new(AtomicUsize::new(0));
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    let backend = LeanBackend::new(Counter(n.clone()));
    let mut t = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(area),
        },
    )
    .unwrap();
    t.draw(|f| super::render(f, m)).unwrap();
    n.store(0, Ordering::Relaxed);
    change(m);
    t.draw(|f| super::render(f, m)).unwrap();
    n.load(Ordering::Relaxed)
}

#[test]
fn bytes_per_keystroke_stay_small() {
    let mut m = scene("default", 120, 40);
    let typed = bytes_for(&mut m, |m| type_text(m, "x"));
    let mut m = scene("default", 120, 40);
    keys(&mut m, "esc");
    let step = bytes_for(&mut m, |m| {
        keys(m, "j");
    });
    let mut m = scene("default", 120, 40);
    let idle = bytes_for(&mut m, |_| {});
    eprintln!("bytes: composer keystroke {typed}, stream step {step}, idle frame {idle}");
    // Issue 15: within 3x of vim's 13 bytes (hide cursor, the character, show cursor): the
    // counter's changed digit, the character, and the moves between them.
    assert!(typed <= 39, "{typed} bytes for one composer keystroke");
    assert!(step < 8000, "{step} bytes for one step down the stream");
    assert_eq!(idle, 0, "bytes for a frame with no change");
}

/// The Team screen over the summary the real server produced for tests/metrics.rs's scripted
/// organisation (kept true by `the_team_screen_fixture_is_what_the_server_answers`), opened
/// with `T` by a supervisor.
fn team_scene(theme: &str, w: u16, h: u16) -> Model {
    let mut m = scene(theme, w, h);
    if let Some(me) = m.me.as_mut() {
        me.role = crate::domain::AgentRole::Supervisor;
    }
    m.focus = Focus::Stream;
    let fx = keys(&mut m, "T");
    assert!(
        fx.iter().any(|e| matches!(e, Effect::LoadTeam(_))),
        "{fx:?}"
    );
    let summary: crate::domain::metrics::MetricsSummary =
        serde_json::from_str(include_str!("fixtures/team_summary.json")).unwrap();
    update(&mut m, Msg::Team(Ok(summary)));
    m
}

#[test]
fn team_default_80x24() {
    insta::assert_snapshot!(draw(&team_scene("default", 80, 24)));
}

#[test]
fn team_default_120x40() {
    insta::assert_snapshot!(draw(&team_scene("default", 120, 40)));
}

#[test]
fn team_mono_80x24() {
    insta::assert_snapshot!(draw(&team_scene("mono", 80, 24)));
}

#[test]
fn team_mono_120x40() {
    insta::assert_snapshot!(draw(&team_scene("mono", 120, 40)));
}

#[test]
fn team_read_only_help_marks_what_is_disabled() {
    let mut m = scene("mono", 80, 24);
    m.read_only = true;
    m.focus = Focus::Stream;
    keys(&mut m, "?");
    let text = draw(&m);
    assert!(text.contains("READ-ONLY"), "{text}");
    assert!(text.contains("[read-only]"), "{text}");
}
