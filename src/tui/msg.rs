//! What can happen to the console: every input the reducer (`update`) takes.

use super::effect::{UnsavedDrafts, Wake};
use super::lint::CompiledRules;
use super::model::Level;
use super::theme::Theme;
use crate::client::{ClientError, DrainReport, StreamItem};
use crate::domain::api::{FeedbackDetail, IdentityMatches, Me, Page};
use crate::domain::{
    Agent, Customer, Department, Feedback, HistoryEntry, Identity, Reply, Transaction, Visibility,
};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyEvent, MouseEvent};
use std::sync::Arc;

/// Everything that can happen to the console.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// Only with `--mouse`.
    Mouse(MouseEvent),
    Paste(String),
    Resize(u16, u16),
    /// The slow clock (ages, SLA, debounced draft saves).
    Tick(DateTime<Utc>),
    Stream(StreamItem),
    Me(Result<Me, ClientError>),
    Agents(Result<Vec<Agent>, ClientError>),
    Departments(Result<Vec<Department>, ClientError>),
    /// An item and its thread (`Effect::LoadThread`).
    Thread {
        id: String,
        result: Result<FeedbackDetail, ClientError>,
    },
    /// Offline feedback was logged (`Effect::CreateFeedback`).
    Created(Result<Feedback, ClientError>),
    /// What a drain of the outbox did.
    Drained(DrainReport),
    /// A timer `update` asked for.
    Wake(Wake),
    FeedbackPage {
        generation: u64,
        result: Result<Page<Feedback>, ClientError>,
    },
    Customer {
        id: String,
        result: Result<Customer, ClientError>,
    },
    History {
        id: String,
        result: Result<Page<HistoryEntry>, ClientError>,
    },
    Transactions {
        id: String,
        result: Result<Page<Transaction>, ClientError>,
    },
    ReplySent {
        feedback_id: String,
        key: String,
        result: Result<Reply, ClientError>,
    },
    Patched {
        feedback_id: String,
        result: Result<Feedback, ClientError>,
    },
    CustomerSearch {
        query: String,
        result: Result<Page<Customer>, ClientError>,
    },
    Matches {
        identity_id: String,
        result: Result<IdentityMatches, ClientError>,
    },
    Linked {
        identity_id: String,
        customer_id: String,
        result: Result<Identity, ClientError>,
    },
    Rules(Result<Arc<CompiledRules>, String>),
    EditorDone {
        feedback_id: String,
        part: Visibility,
        result: Result<String, String>,
    },
    ThemeLoaded {
        theme: Theme,
        warnings: Vec<String>,
    },
    /// A draft save or a copy failed (or succeeded, with a message to show).
    Notice {
        level: Level,
        text: String,
    },
    /// SIGTERM, SIGHUP...: save and quit.
    Signal(String),
    /// The loop is idle while a filter is still being applied: run its next slice.
    ContinueFilter,
    /// Drafts could not be written: kept in memory, and saved again at the next chance.
    DraftsNotSaved(UnsavedDrafts),
    /// The team's measures (`Effect::LoadTeam`).
    Team(Result<crate::domain::metrics::MetricsSummary, ClientError>),
}
