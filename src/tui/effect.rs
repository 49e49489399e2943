//! Effects: what `update` asks the world to do, as data. `tui::runtime` runs them: backend
//! calls as tasks that answer with a `Msg` on the loop's channel, draft saves at once, and the
//! terminal's own effects ($EDITOR, OSC 52 copy, quit) handed back to the loop that owns the
//! terminal.

use super::model::draft::Draft;
use crate::domain::api::{FeedbackPatch, NewFeedback, NewReply};
use crate::domain::{PresenceState, Visibility};

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadMe,
    LoadAgents,
    LoadDepartments,
    /// `GET /v1/feedback/{id}`: the item and its thread.
    LoadThread(String),
    /// Log offline feedback (`POST /v1/feedback`).
    CreateFeedback(NewFeedback),
    /// Send what the outbox still has queued (at start, on reconnect).
    DrainOutbox,
    /// Forget an outbox entry (its text went back to the composer).
    DropOutbox(String),
    /// Answer with `Msg::Wake(wake)` after `after_ms`.
    Wake {
        after_ms: u64,
        wake: Wake,
    },
    LoadFeedback {
        generation: u64,
        cursor: Option<String>,
    },
    LoadCustomer(String),
    LoadHistory(String),
    LoadTransactions(String),
    /// Write the reply to the outbox (fsync), then send it under `key`.
    SendReply {
        feedback_id: String,
        key: String,
        reply: NewReply,
    },
    Patch {
        feedback_id: String,
        version: i64,
        patch: FeedbackPatch,
    },
    SetPresence {
        feedback_id: String,
        state: PresenceState,
    },
    SearchCustomers(String),
    /// The server's suggestions for linking this identity.
    LoadMatches(String),
    LinkIdentity {
        identity_id: String,
        customer_id: String,
    },
    LoadRules,
    LoadTheme(String),
    /// Suspend the terminal, edit `text` in $EDITOR, resume.
    OpenEditor {
        feedback_id: String,
        part: Visibility,
        text: String,
    },
    /// OSC 52 copy to the terminal's clipboard.
    Copy(String),
    /// Write these drafts (None deletes the file).
    SaveDrafts(Vec<(String, Option<Draft>)>),
    /// A line for the log (never customer text).
    Log(String),
    /// `GET /v1/metrics/summary` for the Team screen.
    LoadTeam(crate::domain::metrics::MetricsQuery),
    Quit,
}

impl Effect {
    /// Whether the effect changes data on the server: never run by a read-only console.
    pub fn changes_data(&self) -> bool {
        matches!(
            self,
            Effect::CreateFeedback(_)
                | Effect::DrainOutbox
                | Effect::SendReply { .. }
                | Effect::Patch { .. }
                | Effect::SetPresence { .. }
                | Effect::LinkIdentity { .. }
        )
    }
}

/// Timers `update` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wake {
    /// The selection has rested on an item: announce `viewing`, load its thread.
    Settled { feedback_id: String, seq: u64 },
    /// The Team screen's debounced refetch after events.
    TeamRefresh,
}

/// Drafts that could not be written, and why (a full disk, a directory gone read-only). They
/// stay in memory and are retried; on exit their text is printed rather than lost.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsavedDrafts {
    pub items: Vec<(String, Option<Draft>)>,
    pub error: String,
}
