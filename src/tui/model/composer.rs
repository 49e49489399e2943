//! The composer: the reply being written (its type, its parts, the overrides, the marks of the rules).

use super::draft::{Draft, ReplyKind};
use crate::domain::{Override, Visibility};
use crate::tui::lint::ViolationMark;
use chrono::{DateTime, Utc};
use ratatui_textarea::TextArea;

/// The composer of the selected item.
#[derive(Debug, Clone)]
pub struct Composer {
    pub feedback_id: String,
    pub kind: ReplyKind,
    pub public: TextArea<'static>,
    pub direct: TextArea<'static>,
    pub active: Visibility,
    pub pending_key: Option<String>,
    pub sending: bool,
    pub violations: Vec<ViolationMark>,
    pub overrides: Vec<Override>,
    pub error: Option<String>,
    /// The agent was warned (item already answered, or another agent replying) and a second
    /// send confirms.
    pub confirm_stale: bool,
    /// The draft has warning-level violations and the agent was asked once; a second send
    /// confirms (reset by any edit).
    pub confirm_warnings: bool,
    /// The agent opened the composer on this item (see `model::target`): from then on only
    /// the agent moves it to another item.
    pub bound: bool,
}

impl Composer {
    pub fn new(feedback_id: &str, kind: ReplyKind) -> Composer {
        let mut c = Composer {
            feedback_id: feedback_id.to_string(),
            kind,
            public: TextArea::default(),
            direct: TextArea::default(),
            active: kind.parts()[0],
            pending_key: None,
            sending: false,
            violations: Vec::new(),
            overrides: Vec::new(),
            error: None,
            confirm_stale: false,
            confirm_warnings: false,
            bound: false,
        };
        for ta in [&mut c.public, &mut c.direct] {
            ta.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
            ta.set_cursor_line_style(ratatui::style::Style::default());
        }
        c.public
            .set_placeholder_text("Public reply, seen by everyone on the thread…");
        c.direct
            .set_placeholder_text("Direct reply, to the customer only…");
        c
    }

    pub fn from_draft(d: &Draft) -> Composer {
        let mut c = Composer::new(&d.feedback_id, d.kind);
        set_text(&mut c.public, &d.public);
        set_text(&mut c.direct, &d.direct);
        c.pending_key = d.idempotency_key.clone();
        c
    }

    pub fn text(&self, part: Visibility) -> String {
        match part {
            Visibility::Public => self.public.lines().join("\n"),
            Visibility::Direct => self.direct.lines().join("\n"),
        }
    }

    pub fn area_mut(&mut self, part: Visibility) -> &mut TextArea<'static> {
        match part {
            Visibility::Public => &mut self.public,
            Visibility::Direct => &mut self.direct,
        }
    }

    pub fn area(&self, part: Visibility) -> &TextArea<'static> {
        match part {
            Visibility::Public => &self.public,
            Visibility::Direct => &self.direct,
        }
    }

    pub fn to_draft(&self, now: DateTime<Utc>) -> Draft {
        Draft {
            feedback_id: self.feedback_id.clone(),
            kind: self.kind,
            public: self.text(Visibility::Public),
            direct: self.text(Visibility::Direct),
            updated_at: now,
            idempotency_key: self.pending_key.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kind
            .parts()
            .iter()
            .all(|p| self.text(*p).trim().is_empty())
    }
}

/// Replace the whole text of a text area, cursor at the end.
pub fn set_text(ta: &mut TextArea<'static>, text: &str) {
    ta.select_all();
    ta.cut();
    ta.set_yank_text(String::new());
    ta.insert_str(text);
}
