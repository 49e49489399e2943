//! The state of each overlay (help, command line, filter, pickers, forms); their keys and drawing are in `tui::overlay`.

use super::load::Load;
use crate::domain::api::MatchCandidate;
use crate::domain::{Channel, Customer, Identity};
use crate::tui::textutil::{one_line, sanitize};
use serde::{Deserialize, Serialize};

/// A one-line text input (command line, filter, picker queries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineInput {
    pub text: String,
    /// Byte offset of the cursor.
    pub cursor: usize,
}

impl LineInput {
    pub fn with(text: &str) -> LineInput {
        LineInput {
            text: text.to_string(),
            cursor: text.len(),
        }
    }
    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }
    pub fn insert_str(&mut self, s: &str) {
        let s = one_line(&sanitize(s));
        self.text.insert_str(self.cursor, &s);
        self.cursor += s.len();
    }
    pub fn backspace(&mut self) -> bool {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
            self.text.remove(self.cursor);
            true
        } else {
            false
        }
    }
    pub fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
    }
    pub fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CannedReply {
    pub name: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub query: LineInput,
    /// Indices into `Model::canned`, best match first.
    pub matches: Vec<usize>,
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkSearch {
    pub feedback_id: String,
    pub identity: Identity,
    pub query: LineInput,
    /// The query the results are for (None before the first search).
    pub searched: Option<String>,
    pub results: Load<Vec<Customer>>,
    /// The server's ranked candidates for this identity (same email, same phone, similar
    /// name...), listed before the search results.
    pub suggestions: Load<Vec<MatchCandidate>>,
    /// Into [`LinkSearch::rows`].
    pub selected: usize,
}

/// One customer the link picker offers: a suggestion (with its score and reasons) or a search
/// result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkRow<'a> {
    pub customer: &'a Customer,
    pub suggestion: Option<&'a MatchCandidate>,
}

impl LinkSearch {
    /// Suggestions first, then the search results that are not among them.
    pub fn rows(&self) -> Vec<LinkRow<'_>> {
        let suggested: &[MatchCandidate] = self.suggestions.loaded().map_or(&[], Vec::as_slice);
        let found: &[Customer] = self.results.loaded().map_or(&[], Vec::as_slice);
        let mut rows: Vec<LinkRow<'_>> = suggested
            .iter()
            .map(|s| LinkRow {
                customer: &s.customer,
                suggestion: Some(s),
            })
            .collect();
        rows.extend(
            found
                .iter()
                .filter(|c| !suggested.iter().any(|s| s.customer.id == c.id))
                .map(|customer| LinkRow {
                    customer,
                    suggestion: None,
                }),
        );
        rows
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Command(LineInput),
    Filter(LineInput),
    Canned(Picker),
    Link(LinkSearch),
    Assign(AssignPicker),
    Log(LogForm),
    /// The thread moved on since the agent last saw it: the new messages, in full.
    Guard(super::guard::GuardView),
    /// What a bulk (macro) reply did to each item, until dismissed.
    BulkResults {
        scroll: u16,
    },
    /// `clear_draft` asks first: the text would be gone.
    ConfirmClear,
}

/// The picker of `reassign`: agents then departments.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignPicker {
    pub feedback_id: String,
    pub query: LineInput,
    pub choices: Vec<AssignChoice>,
    /// Indices into `choices` that match the query.
    pub matches: Vec<usize>,
    pub selected: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AssignChoice {
    Agent { id: String, name: String },
    Department { id: String, name: String },
    Unassign,
}

impl AssignChoice {
    pub fn label(&self) -> String {
        match self {
            AssignChoice::Agent { name, .. } => format!("agent · {name}"),
            AssignChoice::Department { name, .. } => format!("department · {name}"),
            AssignChoice::Unassign => "unassign".into(),
        }
    }
}

/// The form of `log_feedback`: offline feedback for the selected customer.
#[derive(Debug, Clone, PartialEq)]
pub struct LogForm {
    pub customer_id: Option<String>,
    /// Shown and sent as the author (the customer's name, or what the agent types).
    pub author: String,
    pub channel: Channel,
    pub text: LineInput,
}

pub const OFFLINE_CHANNELS: [Channel; 3] = [Channel::Phone, Channel::InPerson, Channel::WebForm];
