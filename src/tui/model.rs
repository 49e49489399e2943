//! The console's whole state. Rendering reads it; only `update` changes it. Time is a field
//! (`now`), so a model renders the same way every time (snapshot tests) and ages move only when
//! the tick says so.

use super::keymap::{KeyPress, Keymap};
use super::lint::{CompiledRules, ViolationMark};
use super::textutil::{one_line, sanitize, sanitize_multiline};
use super::theme::Theme;
use crate::domain::api::{MatchCandidate, Presence};
use crate::domain::{
    Agent, Channel, Customer, DeliveryStatus, Department, Feedback, HistoryEntry, Identity,
    Message, Override, PresenceState, ReplyPart, Transaction, Visibility,
};
use chrono::{DateTime, Utc};
use ratatui_textarea::TextArea;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Stream,
    Profile,
    Composer,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Stream => Focus::Profile,
            Focus::Profile => Focus::Composer,
            Focus::Composer => Focus::Stream,
        }
    }
    pub fn prev(self) -> Focus {
        match self {
            Focus::Stream => Focus::Composer,
            Focus::Profile => Focus::Stream,
            Focus::Composer => Focus::Profile,
        }
    }
}

/// Which items the stream shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// Assigned to me.
    Mine,
    /// Routed to one of my departments.
    Dept,
    /// Nobody is assigned (in my departments, as the server scopes them).
    Unassigned,
    All,
}

impl ViewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::Mine => "mine",
            ViewKind::Dept => "dept",
            ViewKind::Unassigned => "unassigned",
            ViewKind::All => "all",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            ViewKind::Mine => "my queue",
            ViewKind::Dept => "my department",
            ViewKind::Unassigned => "unassigned",
            ViewKind::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<ViewKind> {
        match s {
            "mine" | "me" | "queue" => Some(ViewKind::Mine),
            "dept" | "department" => Some(ViewKind::Dept),
            "unassigned" | "none" => Some(ViewKind::Unassigned),
            "all" => Some(ViewKind::All),
            _ => None,
        }
    }
    pub fn next(self) -> ViewKind {
        match self {
            ViewKind::Mine => ViewKind::Dept,
            ViewKind::Dept => ViewKind::Unassigned,
            ViewKind::Unassigned => ViewKind::All,
            ViewKind::All => ViewKind::Mine,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Connected,
    Disconnected { reason: String, retry_in_ms: u64 },
}

/// Something fetched: never shown as a blank.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Loaded(T),
    Failed(String),
}

impl<T> Load<T> {
    pub fn loaded(&self) -> Option<&T> {
        match self {
            Load::Loaded(t) => Some(t),
            _ => None,
        }
    }
}

/// An item of the stream and its lower-cased search text.
#[derive(Debug, Clone)]
pub struct Row {
    pub fb: Feedback,
    pub(crate) hay: String,
    /// Which ASCII letters and digits occur in `hay` (see `char_set`): a row lacking one of
    /// the filter's characters is skipped without searching its text.
    chars: u64,
    pub seen: bool,
}

/// A 64-bit set of the ASCII letters and digits in `s` (bit 0-25 a-z, 26-35 0-9). With 100,000
/// rows, filtering is mostly skipping rows that cannot match: one AND each instead of a search.
fn char_set(s: &str) -> u64 {
    s.bytes().fold(0, |set, b| match b {
        b'a'..=b'z' => set | 1 << (b - b'a'),
        b'0'..=b'9' => set | 1 << (26 + b - b'0'),
        _ => set,
    })
}

/// The lower-cased filter, compiled once per keystroke rather than once per row.
#[derive(Debug, Clone)]
struct Filter {
    needle: String,
    chars: u64,
    finder: memchr::memmem::Finder<'static>,
}

impl Filter {
    fn new(needle: &str) -> Filter {
        Filter {
            needle: needle.to_string(),
            chars: char_set(needle),
            finder: memchr::memmem::Finder::new(needle.as_bytes()).into_owned(),
        }
    }

    fn matches(&self, row: &Row) -> bool {
        if self.needle.is_empty() {
            return true;
        }
        if row.chars & self.chars != self.chars {
            return false;
        }
        // A single ASCII letter or digit is decided by the set alone.
        let single = self.needle.len() == 1 && self.chars != 0;
        single || self.finder.find(row.hay.as_bytes()).is_some()
    }
}

/// Rows checked per slice of a filter job: about 0.2 ms at 100,000 items in the worst case (every
/// candidate holds the filter's characters and must be searched).
pub const FILTER_SLICE: usize = 2_048;

/// A narrowing filter being applied slice by slice. A common first letter at 100,000 items
/// leaves almost every row to search (about 10 ms), so the keystroke only starts the job and
/// the loop finishes it between keys; meanwhile the view shows the candidates (a superset).
#[derive(Debug, Clone)]
struct FilterJob {
    filter: Filter,
    /// Row indices that may match, ascending; those before `next` are decided.
    candidates: Vec<usize>,
    next: usize,
    kept: Vec<usize>,
}

impl FilterJob {
    /// What a longer filter must still look at: the rows kept so far and the undecided ones
    /// (both ascending, and every kept row precedes every undecided one).
    fn undecided_and_kept(mut self) -> Vec<usize> {
        self.kept.extend_from_slice(&self.candidates[self.next..]);
        self.kept
    }
}

/// Untrusted text is cleaned once, when it enters the model.
pub fn clean_feedback(mut fb: Feedback) -> Feedback {
    fb.text = sanitize_multiline(&fb.text);
    fb.author = clean_identity(fb.author);
    fb.url = fb.url.map(|u| sanitize(&u));
    fb.department = sanitize(&fb.department);
    fb.assignee = fb.assignee.map(|a| sanitize(&a));
    fb
}

pub fn clean_identity(mut id: Identity) -> Identity {
    id.handle = sanitize(&id.handle);
    id.display_name = sanitize(&id.display_name);
    id
}

pub fn clean_customer(mut c: Customer) -> Customer {
    c.first_name = sanitize(&c.first_name);
    c.last_name = sanitize(&c.last_name);
    c.tier = sanitize(&c.tier);
    c.emails = c.emails.iter().map(|s| sanitize(s)).collect();
    c.phones = c.phones.iter().map(|s| sanitize(s)).collect();
    c.tags = c.tags.iter().map(|s| sanitize(s)).collect();
    c.identities = c.identities.into_iter().map(clean_identity).collect();
    c
}

impl Row {
    fn new(fb: Feedback) -> Row {
        let fb = clean_feedback(fb);
        let hay = haystack(&fb);
        Row {
            fb,
            chars: char_set(&hay),
            hay,
            seen: false,
        }
    }
}

fn haystack(fb: &Feedback) -> String {
    let mut h = String::with_capacity(fb.text.len() + 64);
    for part in [
        fb.author.handle.as_str(),
        fb.author.display_name.as_str(),
        fb.channel.as_str(),
        fb.department.as_str(),
        fb.assignee.as_deref().unwrap_or(""),
        fb.status.as_str(),
        fb.text.as_str(),
    ] {
        h.push_str(&part.to_lowercase());
        h.push('\u{1}');
    }
    h
}

/// The live stream: every item in arrival order with an id index, and the visible view as a
/// sorted list of indices kept up to date incrementally. Display is newest first: display
/// position `p` is `view[view.len() - 1 - p]`. Selection and scroll are anchored to items, not
/// positions, so arrivals never move them.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    rows: Vec<Row>,
    index: HashMap<String, usize>,
    view: Vec<usize>,
    view_kind: Option<ViewKind>,
    filter: String,
    filter_lc: String,
    /// The views of the shorter filters typed before this one (each with its filter), so that
    /// a backspace restores a view instead of searching every row again. Kept exact on every
    /// upsert; cleared when the view kind changes or everything is replaced.
    narrower_from: Vec<(String, Vec<usize>)>,
    /// The row the last upsert touched (for keeping the saved views exact).
    last_upserted: Option<usize>,
    /// A narrowing filter not yet applied to every candidate (see `FilterJob`).
    job: Option<FilterJob>,
    /// Rows per slice of a job; 0 means `FILTER_SLICE` (tests use tiny slices).
    pub filter_slice: usize,
    /// The filter's fielded terms (`is:late`, `role:detractor`...); `filter_lc` is its free text.
    query: super::filter::Query,
    /// The clock `is:late` is judged by: the model's, set when the filter is applied.
    pub now: DateTime<Utc>,
    /// The display order (`tui::sort`); under a work order, `order` holds the view's rows in
    /// display order (kept exact on every change of the view).
    sort: super::sort::SortKey,
    order: Vec<usize>,
    me: Option<String>,
    departments: Vec<String>,
    /// The selected item's id.
    pub selected: Option<String>,
    /// The item shown on the top row.
    top: Option<usize>,
    pub loading: bool,
    pub error: Option<String>,
    pub generation: u64,
    /// Pages of a fetch in progress, merged when the last page is in.
    pub(crate) incoming: Vec<Feedback>,
}

impl StreamState {
    pub fn new(view: ViewKind) -> Self {
        StreamState {
            view_kind: Some(view),
            ..Default::default()
        }
    }

    pub fn view_kind(&self) -> ViewKind {
        self.view_kind.unwrap_or(ViewKind::All)
    }
    pub fn filter(&self) -> &str {
        &self.filter
    }
    pub fn total(&self) -> usize {
        self.rows.len()
    }
    pub fn visible(&self) -> usize {
        self.view.len()
    }
    pub fn get(&self, id: &str) -> Option<&Row> {
        self.index.get(id).map(|i| &self.rows[*i])
    }
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Row> {
        self.index.get(id).map(|i| &mut self.rows[*i])
    }
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter()
    }
    pub fn selected_row(&self) -> Option<&Row> {
        self.selected.as_deref().and_then(|id| self.get(id))
    }

    /// The row at display position `pos` (0 = newest visible, or first in the work order).
    pub fn row_at(&self, pos: usize) -> Option<&Row> {
        self.idx_at(pos).map(|i| &self.rows[i])
    }

    fn idx_at(&self, pos: usize) -> Option<usize> {
        let n = self.view.len();
        if pos >= n {
            return None;
        }
        match self.sort {
            super::sort::SortKey::Arrival => Some(self.view[n - 1 - pos]),
            _ => self.order.get(pos).copied(),
        }
    }

    /// The display position of row `idx`, or where it would be if it were visible.
    fn display_pos(&self, idx: usize) -> Result<usize, usize> {
        let n = self.view.len();
        match self.sort {
            super::sort::SortKey::Arrival => self
                .view
                .binary_search(&idx)
                .map(|i| n - 1 - i)
                .map_err(|i| n.saturating_sub(i)),
            by => {
                let key = super::sort::key(&self.rows[idx], idx, by);
                self.order
                    .binary_search_by(|j| super::sort::key(&self.rows[*j], *j, by).cmp(&key))
            }
        }
    }

    fn pos_of_index(&self, idx: usize) -> Option<usize> {
        self.display_pos(idx).ok()
    }

    pub fn sort(&self) -> super::sort::SortKey {
        self.sort
    }

    /// Shows the view in another order; selection and scroll stay on their items.
    pub fn set_sort(&mut self, by: super::sort::SortKey) {
        self.finish_filter();
        self.sort = by;
        self.resort();
    }

    /// Rebuilds the display order of a work order after the view changed.
    fn resort(&mut self) {
        let by = self.sort;
        if by == super::sort::SortKey::Arrival {
            self.order = Vec::new();
            return;
        }
        let rows = &self.rows;
        let mut keyed: Vec<((u8, u8, i64, usize), usize)> = self
            .view
            .iter()
            .map(|i| (super::sort::key(&rows[*i], *i, by), *i))
            .collect();
        keyed.sort_unstable();
        self.order = keyed.into_iter().map(|(_, i)| i).collect();
    }

    /// Display position of an item, if visible.
    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).and_then(|i| self.pos_of_index(*i))
    }

    pub fn selected_pos(&self) -> Option<usize> {
        self.selected.as_deref().and_then(|id| self.position_of(id))
    }

    /// Display position of the top row.
    pub fn top_pos(&self) -> usize {
        match self.top {
            // The top item left the view: the next visible item takes its place.
            Some(idx) => self.display_pos(idx).unwrap_or_else(|p| p),
            None => 0,
        }
    }

    fn matches(&self, row: &Row) -> bool {
        self.in_view(row) && (self.filter_lc.is_empty() || row.hay.contains(&self.filter_lc))
    }

    /// In the view kind and holding the filter's fielded terms (`tui::filter`).
    fn in_view(&self, row: &Row) -> bool {
        let fb = &row.fb;
        let in_kind = match self.view_kind() {
            ViewKind::All => true,
            ViewKind::Mine => self.me.is_some() && fb.assignee.as_deref() == self.me.as_deref(),
            ViewKind::Dept => self.departments.iter().any(|d| *d == fb.department),
            ViewKind::Unassigned => fb.assignee.is_none(),
        };
        in_kind && (!self.query.has_terms() || self.query.matches(fb, self.facts(row)))
    }

    fn facts<'a>(&'a self, row: &Row) -> super::filter::Facts<'a> {
        super::filter::Facts {
            now: self.now,
            me: self.me.as_deref(),
            seen: row.seen,
        }
    }

    /// The parsed filter (fielded terms and free text).
    pub fn query(&self) -> &super::filter::Query {
        &self.query
    }

    fn rebuild(&mut self) {
        self.job = None;
        self.narrower_from.clear();
        let filter = Filter::new(&self.filter_lc);
        let view: Vec<usize> = (0..self.rows.len())
            .filter(|i| {
                let row = &self.rows[*i];
                self.in_view(row) && filter.matches(row)
            })
            .collect();
        self.view = view;
        self.resort();
    }

    pub fn set_me(&mut self, me: Option<String>, departments: Vec<String>) {
        self.me = me;
        self.departments = departments;
        self.rebuild();
    }

    pub fn set_view(&mut self, v: ViewKind) {
        self.view_kind = Some(v);
        self.rebuild();
    }

    /// Narrowing a filter (typing more) only re-checks the items already visible, in slices
    /// (`continue_filter`); a backspace restores the view saved for the shorter filter.
    pub fn set_filter(&mut self, f: &str) {
        let query = super::filter::parse(f);
        let lc = query.text.clone();
        if query.terms != self.query.terms {
            // Other fielded terms: a new view over every row (their free text included).
            self.query = query;
            self.filter = f.to_string();
            self.filter_lc = lc;
            self.rebuild();
            return;
        }
        if lc == self.filter_lc {
            self.filter = f.to_string();
            return;
        }
        let narrowing = lc.starts_with(&self.filter_lc);
        self.filter = f.to_string();
        let previous = std::mem::replace(&mut self.filter_lc, lc);
        if narrowing {
            // Only rows of the current view can match a longer filter. The current view is
            // saved for backspace when it is exact (no job of the shorter filter is running).
            let candidates = match self.job.take() {
                Some(job) => job.undecided_and_kept(),
                None => {
                    self.narrower_from.push((previous, self.view.clone()));
                    self.view.clone()
                }
            };
            self.start_job(candidates);
            return;
        }
        // Widening (a backspace): restore the view saved for this shorter filter, if any.
        self.job = None;
        while let Some((saved_filter, saved_view)) = self.narrower_from.pop() {
            if saved_filter == self.filter_lc {
                self.view = saved_view;
                self.resort();
                return;
            }
            if !self.filter_lc.starts_with(&saved_filter) {
                continue;
            }
            // A prefix of what we want: narrow from it.
            self.view = saved_view.clone();
            self.resort();
            self.narrower_from.push((saved_filter, saved_view.clone()));
            self.start_job(saved_view);
            return;
        }
        self.rebuild();
    }

    /// Starts filtering `candidates` (the view is a superset of them) with the current filter
    /// and runs the first slice, so a short list is filtered before the keystroke returns.
    fn start_job(&mut self, candidates: Vec<usize>) {
        self.job = Some(FilterJob {
            filter: Filter::new(&self.filter_lc),
            candidates,
            next: 0,
            kept: Vec::new(),
        });
        self.continue_filter();
    }

    /// True while a filter is still being applied (the view is a superset of the result).
    pub fn filtering(&self) -> bool {
        self.job.is_some()
    }

    /// Runs one slice of the filter job. Returns true when that finished it (the view changed).
    pub fn continue_filter(&mut self) -> bool {
        let slice = match self.filter_slice {
            0 => FILTER_SLICE,
            n => n,
        };
        let Some(job) = self.job.as_mut() else {
            return false;
        };
        let end = (job.next + slice).min(job.candidates.len());
        let rows = &self.rows;
        job.kept.extend(
            job.candidates[job.next..end]
                .iter()
                .copied()
                .filter(|i| job.filter.matches(&rows[*i])),
        );
        job.next = end;
        if end < job.candidates.len() {
            return false;
        }
        if let Some(job) = self.job.take() {
            self.view = job.kept;
            self.resort();
        }
        true
    }

    /// Finishes a running filter job at once (before anything that changes the view or acts on
    /// the selection: the final view may move it).
    pub fn finish_filter(&mut self) {
        while self.job.is_some() {
            self.continue_filter();
        }
    }

    /// Insert or replace an item (an older version never replaces a newer one). Returns true
    /// when the item is new.
    pub fn upsert(&mut self, fb: Feedback) -> bool {
        self.finish_filter();
        let changed = self.upsert_row(fb);
        self.update_saved_views();
        self.resort();
        changed
    }

    /// Keeps the views saved for backspace exact after a row changed or arrived: each is
    /// updated for the rows that differ from it in membership, which after one upsert is at
    /// most that row (so this is a binary search per saved filter, not a rescan).
    fn update_saved_views(&mut self) {
        if self.narrower_from.is_empty() {
            return;
        }
        let Some(idx) = self.last_upserted else {
            return;
        };
        let row = &self.rows[idx];
        let in_view = self.in_view(row);
        for (filter, view) in &mut self.narrower_from {
            let member = in_view && row.hay.contains(filter.as_str());
            match (view.binary_search(&idx), member) {
                (Ok(i), false) => {
                    view.remove(i);
                }
                (Err(i), true) => view.insert(i, idx),
                _ => {}
            }
        }
    }

    fn upsert_row(&mut self, fb: Feedback) -> bool {
        self.last_upserted = None;
        if let Some(&idx) = self.index.get(&fb.id) {
            if fb.version < self.rows[idx].fb.version {
                return false;
            }
            let seen = self.rows[idx].seen;
            self.rows[idx] = Row::new(fb);
            self.rows[idx].seen = seen;
            self.last_upserted = Some(idx);
            let now = self.matches(&self.rows[idx]);
            match (self.view.binary_search(&idx), now) {
                (Ok(i), false) => {
                    self.view.remove(i);
                }
                (Err(i), true) => self.view.insert(i, idx),
                _ => {}
            }
            false
        } else {
            // Someone watching the newest item sees arrivals come in above it (the selection
            // stays on its item); someone scrolled down is not disturbed.
            let at_top = self.top.is_none() || self.top_pos() == 0;
            let idx = self.rows.len();
            self.index.insert(fb.id.clone(), idx);
            self.rows.push(Row::new(fb));
            self.last_upserted = Some(idx);
            if self.matches(&self.rows[idx]) {
                self.view.push(idx);
                if at_top && self.sort == super::sort::SortKey::Arrival {
                    self.top = Some(idx);
                }
            }
            true
        }
    }

    /// Replace everything (a refetch after `stream.reset`), keeping selection and seen marks.
    pub fn replace_all(&mut self, mut items: Vec<Feedback>) {
        items.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
        let seen: std::collections::HashSet<String> = self
            .rows
            .iter()
            .filter(|r| r.seen)
            .map(|r| r.fb.id.clone())
            .collect();
        let top_id = self.top.map(|i| self.rows[i].fb.id.clone());
        self.rows.clear();
        self.index.clear();
        for fb in items {
            if self.index.contains_key(&fb.id) {
                continue;
            }
            self.index.insert(fb.id.clone(), self.rows.len());
            let mut r = Row::new(fb);
            r.seen = seen.contains(&r.fb.id);
            self.rows.push(r);
        }
        self.top = top_id.and_then(|id| self.index.get(&id).copied());
        self.rebuild();
    }

    /// The end of a fetch: the fetched items, plus what streamed in meanwhile, in time order.
    pub fn finish_load(&mut self, mut items: Vec<Feedback>) {
        let fetched: HashMap<&str, i64> =
            items.iter().map(|f| (f.id.as_str(), f.version)).collect();
        let extra: Vec<Feedback> = self
            .rows
            .iter()
            .filter(|r| {
                fetched
                    .get(r.fb.id.as_str())
                    .is_none_or(|v| *v < r.fb.version)
            })
            .map(|r| r.fb.clone())
            .collect();
        if !extra.is_empty() {
            let extra_ids: std::collections::HashSet<&str> =
                extra.iter().map(|f| f.id.as_str()).collect();
            items.retain(|f| !extra_ids.contains(f.id.as_str()));
            items.extend(extra);
        }
        self.replace_all(items);
    }

    /// An identity was linked to a customer: every item by that author now points at it.
    pub fn link_author(&mut self, identity_id: &str, customer_id: &str) {
        for r in self
            .rows
            .iter_mut()
            .filter(|r| r.fb.author.id == identity_id)
        {
            r.fb.author.customer_id = Some(customer_id.to_string());
            // As the server does: an item already filed under a customer keeps it.
            r.fb.customer_id
                .get_or_insert_with(|| customer_id.to_string());
        }
    }

    pub fn select_pos(&mut self, pos: usize) {
        self.finish_filter();
        if let Some(r) = self.row_at(pos) {
            self.selected = Some(r.fb.id.clone());
        }
    }

    /// Move the selection by `delta` rows (positive = older), clamped.
    pub fn move_by(&mut self, delta: isize) {
        self.finish_filter();
        let n = self.view.len();
        if n == 0 {
            return;
        }
        let cur = match self.selected_pos() {
            Some(p) => p as isize,
            None => {
                self.select_pos(self.top_pos().min(n - 1));
                return;
            }
        };
        let next = (cur + delta).clamp(0, n as isize - 1) as usize;
        self.select_pos(next);
    }

    /// Scroll so that the selection is within `height` rows from the top.
    pub fn ensure_visible(&mut self, height: usize) {
        let height = height.max(1);
        let n = self.view.len();
        if n == 0 {
            self.top = None;
            return;
        }
        let mut top = self.top_pos().min(n - 1);
        if let Some(sel) = self.selected_pos() {
            if sel < top {
                top = sel;
            } else if sel >= top + height {
                top = sel + 1 - height;
            }
        }
        // Never leave empty rows at the bottom when there are items above.
        if n >= height && top + height > n {
            top = n - height;
        }
        self.top = self.idx_at(top);
    }

    /// Follow mode: select the newest item and show it at the top.
    pub fn follow_newest(&mut self) {
        self.finish_filter();
        self.select_pos(0);
        self.top = self.idx_at(0);
    }
}

/// Micro = one direct part, macro = one public part, both = one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyKind {
    Micro,
    Macro,
    Both,
}

impl ReplyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Micro => "micro",
            ReplyKind::Macro => "macro",
            ReplyKind::Both => "both",
        }
    }
    pub fn parse(s: &str) -> Option<ReplyKind> {
        match s {
            "micro" | "direct" | "dm" => Some(ReplyKind::Micro),
            "macro" | "public" => Some(ReplyKind::Macro),
            "both" => Some(ReplyKind::Both),
            _ => None,
        }
    }
    pub fn parts(self) -> &'static [Visibility] {
        match self {
            ReplyKind::Micro => &[Visibility::Direct],
            ReplyKind::Macro => &[Visibility::Public],
            ReplyKind::Both => &[Visibility::Public, Visibility::Direct],
        }
    }
}

/// A draft as kept per item and saved to disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub feedback_id: String,
    pub kind: ReplyKind,
    #[serde(default)]
    pub public: String,
    #[serde(default)]
    pub direct: String,
    pub updated_at: DateTime<Utc>,
    /// The key of a send whose outcome is unknown: a retry must reuse it.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl Draft {
    pub fn is_empty(&self) -> bool {
        self.public.trim().is_empty() && self.direct.trim().is_empty()
    }
}

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
    /// The agent opened the composer on this item (see `composer_target`): from then on only
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

/// A customer's profile and its parts, each loaded on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerView {
    pub customer: Load<Customer>,
    pub history: Load<Vec<HistoryEntry>>,
    pub transactions: Load<Vec<Transaction>>,
}

impl CustomerView {
    pub fn loading() -> Self {
        CustomerView {
            customer: Load::Loading,
            history: Load::Loading,
            transactions: Load::Loading,
        }
    }
}

/// A reply in the console's outbox (the durable copy is `client::Outbox`'s file).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// The idempotency key of every attempt.
    pub key: String,
    pub feedback_id: String,
    pub parts: Vec<ReplyPart>,
    pub state: SendState,
    /// Why the last attempt did not deliver it, or why it failed.
    pub reason: Option<String>,
    pub reply_id: Option<String>,
    /// The outbound messages of the delivered reply, with their delivery status as
    /// `reply.status_changed` events report it.
    pub messages: Vec<Message>,
}

impl OutboxItem {
    /// One word for the row and the composer: queued, sending, sent, delivered, failed.
    pub fn label(&self) -> &'static str {
        match self.state {
            SendState::Queued if self.reason.is_some() => "queued",
            SendState::Queued => "sending",
            SendState::Failed => "failed",
            SendState::Sent => {
                let st: Vec<DeliveryStatus> =
                    self.messages.iter().map(|m| m.delivery_status).collect();
                if st.contains(&DeliveryStatus::Failed) {
                    "failed"
                } else if !st.is_empty() && st.iter().all(|s| *s == DeliveryStatus::Delivered) {
                    "delivered"
                } else if st.contains(&DeliveryStatus::Queued) {
                    "queued"
                } else {
                    "sent"
                }
            }
        }
    }

    /// The delivery problem to show, if any.
    pub fn problem(&self) -> Option<String> {
        if let Some(r) = &self.reason {
            return Some(r.clone());
        }
        self.messages
            .iter()
            .find(|m| m.delivery_status == DeliveryStatus::Failed)
            .map(|m| {
                m.status_reason
                    .clone()
                    .unwrap_or_else(|| "delivery failed".into())
            })
    }
}

/// Where a reply in the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// On disk, not yet accepted by the backend (being sent, or waiting for it to come back).
    Queued,
    /// The backend accepted it; delivery status follows in `messages`.
    Sent,
    /// Refused for good.
    Failed,
}

/// The thread of an item as this console loaded it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThreadState {
    pub messages: Vec<Message>,
    /// The newest message the agent has seen on screen (the post at first, then what the guard
    /// showed and the agent confirmed): what a reply is based on (`NewReply::base_message_id`).
    /// A refetch never moves it (see `guard`).
    pub base: Option<String>,
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

#[derive(Clone)]
pub struct Model {
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub me: Option<Agent>,
    /// Agent id -> name, for the assignee column.
    pub agents: HashMap<String, String>,
    pub connection: Connection,
    /// Whether the event stream has given any event: until it has, the client has no resume
    /// point, so each (re)connection starts at "now" and the queue is fetched again.
    pub events_seen: bool,
    pub stream: StreamState,
    /// The conversation view and what it has shown (`tui::conversation`).
    pub conversation: super::conversation::Conversations,
    pub focus: Focus,
    pub zoom: bool,
    pub follow: bool,
    pub overlay: Option<Overlay>,
    pub customers: HashMap<String, CustomerView>,
    pub profile_scroll: u16,
    pub composer: Option<Composer>,
    pub drafts: HashMap<String, Draft>,
    /// Items whose draft changed since the last save, and when the first change was.
    pub drafts_dirty: BTreeSet<String>,
    pub drafts_changed_at: Option<DateTime<Utc>>,
    pub keymap: Keymap,
    pub pending_keys: Vec<KeyPress>,
    pub theme: Theme,
    pub status: Option<StatusLine>,
    /// Problems in the user's configuration, shown in the help screen.
    pub warnings: Vec<String>,
    /// Other agents on an item (feedback id -> presences).
    pub presence: HashMap<String, Vec<Presence>>,
    /// What this console announced last: (feedback id, state).
    pub my_presence: Option<(String, PresenceState)>,
    /// When it was announced (re-sent before others expire it).
    pub my_presence_at: Option<DateTime<Utc>>,
    /// Counts selection changes: a settle timer only fires for the selection it was set for.
    pub selection_seq: u64,
    /// Every agent (for reassign and escalate) and department.
    pub agent_list: Vec<Agent>,
    pub departments: Vec<Department>,
    /// Replies written to the outbox, oldest first.
    pub outbox: Vec<OutboxItem>,
    /// Sends go through a durable outbox (false when there is no data directory).
    pub outbox_enabled: bool,
    /// When the outbox was last drained (retried while replies wait).
    pub outbox_drained_at: Option<DateTime<Utc>>,
    /// Threads as loaded (feedback id -> messages and the base of a reply).
    pub threads: HashMap<String, ThreadState>,
    /// Items marked for a macro reply to many.
    pub marked: BTreeSet<String>,
    /// The last bulk (macro) reply, item by item (`overlay::bulk_results`).
    pub bulk: Option<super::overlay::bulk_results::BulkReport>,
    /// Idempotency keys of replies whose success resolves their item (send-and-resolve).
    pub resolve_after: BTreeSet<String>,
    /// Delivery updates of messages whose reply is not yet known here (the event came before
    /// the answer to the POST), by reply id; applied when the reply is.
    pub early_status: HashMap<String, Vec<Message>>,
    pub canned: Vec<CannedReply>,
    pub rules: Option<Arc<CompiledRules>>,
    /// Random per session; idempotency keys are `seed-counter`.
    pub key_seed: String,
    pub key_counter: u64,
    /// The Team screen, when open (it takes the place of the panes).
    pub team: Option<super::team::TeamView>,
    /// Nothing that changes data runs (`--read-only`, or a token without the `reply` scope).
    pub read_only: bool,
    /// Set by `update` when something visible changed; the loop clears it after drawing.
    pub dirty: bool,
    pub quit: bool,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("now", &self.now)
            .field("focus", &self.focus)
            .field("items", &self.stream.total())
            .field("selected", &self.stream.selected)
            .finish_non_exhaustive()
    }
}

/// Cap of items fetched at start (pages are followed until this many).
pub const MAX_INITIAL_ITEMS: usize = 100_000;

impl Model {
    pub fn new(now: DateTime<Utc>, keymap: Keymap, theme: Theme, key_seed: String) -> Model {
        Model {
            now,
            size: (80, 24),
            me: None,
            agents: HashMap::new(),
            connection: Connection::Connecting,
            events_seen: false,
            stream: StreamState::new(ViewKind::All),
            conversation: Default::default(),
            focus: Focus::Stream,
            zoom: false,
            follow: false,
            overlay: None,
            customers: HashMap::new(),
            profile_scroll: 0,
            composer: None,
            drafts: HashMap::new(),
            drafts_dirty: BTreeSet::new(),
            drafts_changed_at: None,
            keymap,
            pending_keys: Vec::new(),
            theme,
            status: None,
            warnings: Vec::new(),
            presence: HashMap::new(),
            my_presence: None,
            my_presence_at: None,
            selection_seq: 0,
            agent_list: Vec::new(),
            departments: Vec::new(),
            outbox: Vec::new(),
            outbox_enabled: false,
            outbox_drained_at: None,
            threads: HashMap::new(),
            marked: BTreeSet::new(),
            bulk: None,
            resolve_after: BTreeSet::new(),
            early_status: HashMap::new(),
            canned: Vec::new(),
            rules: None,
            key_seed,
            key_counter: 0,
            team: None,
            read_only: false,
            dirty: true,
            quit: false,
        }
    }

    pub fn selected(&self) -> Option<&Feedback> {
        self.stream.selected_row().map(|r| &r.fb)
    }

    /// The customer id behind the selected item, if its author is linked.
    pub fn selected_customer_id(&self) -> Option<String> {
        self.selected().and_then(|fb| {
            fb.customer_id
                .clone()
                .or_else(|| fb.author.customer_id.clone())
        })
    }

    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.get(id).and_then(|v| v.customer.loaded())
    }

    pub fn agent_name<'a>(&'a self, id: &'a str) -> &'a str {
        if self.me.as_ref().is_some_and(|m| m.id == id) {
            return "me";
        }
        self.agents.get(id).map(|s| s.as_str()).unwrap_or(id)
    }

    /// The outbox replies of an item, oldest first.
    pub fn outbox_for<'a>(&'a self, feedback_id: &'a str) -> impl Iterator<Item = &'a OutboxItem> {
        self.outbox
            .iter()
            .filter(move |o| o.feedback_id == feedback_id)
    }

    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            level,
            at: self.now,
        });
        self.dirty = true;
    }
}

/// Where a part goes: `Ok(label)` or `Err(why it cannot go)`, by the rule the server delivers
/// with (`domain::recipient`), so the composer never promises a route the server refuses.
pub fn recipient(m: &Model, fb: &Feedback, part: Visibility) -> Result<String, String> {
    // The server routes by the item's customer, not by its author's current link.
    let customer = match fb.customer_id.as_ref() {
        Some(cid) if crate::domain::recipient::needs_customer(fb, part) => {
            match m.customers.get(cid).map(|v| &v.customer) {
                Some(Load::Loaded(c)) => Some(c),
                Some(Load::Failed(e)) => return Err(format!("profile unavailable: {e}")),
                _ => return Err("loading the customer's contact details…".into()),
            }
        }
        _ => None,
    };
    crate::domain::recipient::recipient(fb, customer, part)
        .map(|to| to.label(fb, part))
        .map_err(|why| format!("no route: {why}"))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Deterministic feedback, customers and models for unit and snapshot tests.
    use super::*;
    use crate::domain::*;
    use chrono::TimeZone;

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap()
    }

    pub fn identity(n: usize, network: Channel, linked: bool) -> Identity {
        Identity {
            id: format!("idn_{n}"),
            network,
            handle: format!("user{n}"),
            display_name: format!("User {n}"),
            verified: n % 3 == 0,
            customer_id: linked.then(|| format!("cus_{n}")),
        }
    }

    pub fn feedback(n: usize) -> Feedback {
        let channels = [
            Channel::X,
            Channel::Facebook,
            Channel::Email,
            Channel::Sms,
            Channel::Review,
            Channel::Instagram,
        ];
        let channel = channels[n % channels.len()];
        let texts = [
            "My order #A1234 still hasn't arrived, it's been two weeks. Really disappointed.",
            "Love the new app update, the dark mode is fantastic!",
            "How do I change the delivery address on a subscription?",
            "Refund please. The blender broke after one use.",
            "Support answered in 5 minutes, great service 👍",
            "日本からの注文は可能ですか？",
        ];
        let sentiment = [-0.7, 0.8, 0.0, -0.5, 0.9, 0.1][n % 6];
        let linked = n % 4 != 1;
        Feedback {
            id: format!("fb_{n:05}"),
            channel,
            origin: channel.origin(),
            author: identity(n, channel, linked),
            customer_id: linked.then(|| format!("cus_{n}")),
            text: texts[n % texts.len()].to_string(),
            thread_id: format!("th_{n}"),
            url: Some(format!("https://{}.example/p/{n}", channel.as_str())),
            received_at: t0() - chrono::Duration::minutes((200 - n as i64 * 7).max(1)),
            sentiment,
            sentiment_label: SentimentLabel::from_score(sentiment),
            sentiment_confidence: 0.8,
            kind: crate::domain::FeedbackKind::Other,
            urgency: vec![],
            cues: vec![],
            corrected: false,
            department: if n % 2 == 0 {
                "support".into()
            } else {
                "billing".into()
            },
            assignee: match n % 3 {
                0 => Some("agt_me".into()),
                1 => None,
                _ => Some("agt_bo".into()),
            },
            status: match n % 5 {
                0 | 1 => FeedbackStatus::New,
                2 => FeedbackStatus::Open,
                3 => FeedbackStatus::Answered,
                _ => FeedbackStatus::Pending,
            },
            priority: match n % 7 {
                0 => Priority::High,
                3 => Priority::Urgent,
                5 => Priority::Low,
                _ => Priority::Normal,
            },
            sla_due_at: t0() + chrono::Duration::minutes(n as i64 * 11 - 30),
            version: 1,
            unassigned_reason: None,
            thread_messages: if n % 3 == 0 { 3 } else { 1 },
            author_roles: match n % 5 {
                0 => vec![CustomerRole::Detractor],
                2 => vec![CustomerRole::Helper],
                4 => vec![CustomerRole::PowerUser],
                _ => vec![],
            },
        }
    }

    pub fn customer(n: usize) -> Customer {
        Customer {
            id: format!("cus_{n}"),
            external_id: None,
            first_name: "Ada".into(),
            last_name: format!("Lovelace{n}"),
            emails: vec![format!("ada{n}@example.com")],
            phones: vec!["+44 20 7946 0958".into()],
            tier: "gold".into(),
            lifetime_value: Money {
                amount: "1234.50".parse().unwrap(),
                currency: "EUR".into(),
            },
            preferences: Preferences {
                language: "en".into(),
                preferred_channel: Channel::Email,
                consents: Consents {
                    email: true,
                    sms: false,
                    whatsapp: false,
                    social_dm: true,
                },
            },
            tags: vec!["vip".into()],
            roles: vec![CustomerRole::Advocate, CustomerRole::PowerUser],
            identities: vec![
                identity(n, Channel::X, true),
                identity(n + 100, Channel::Instagram, true),
            ],
            sentiment_trend: vec![-0.4, -0.1, 0.2, 0.5, 0.3, 0.7, 0.9, 0.4],
            created_at: t0() - chrono::Duration::days(400),
        }
    }

    pub fn transactions(n: usize) -> Vec<Transaction> {
        vec![
            Transaction {
                id: "trx_1".into(),
                customer_id: format!("cus_{n}"),
                kind: TransactionKind::Order,
                reference: "A1234".into(),
                description: "Blender Pro 3000".into(),
                amount: Money {
                    amount: "89.90".parse().unwrap(),
                    currency: "EUR".into(),
                },
                occurred_at: t0() - chrono::Duration::days(15),
            },
            Transaction {
                id: "trx_0".into(),
                customer_id: format!("cus_{n}"),
                kind: TransactionKind::Refund,
                reference: "R0042".into(),
                description: "Damaged mug".into(),
                amount: Money {
                    amount: "-12.00".parse().unwrap(),
                    currency: "EUR".into(),
                },
                occurred_at: t0() - chrono::Duration::days(60),
            },
        ]
    }

    pub fn history(_n: usize) -> Vec<HistoryEntry> {
        vec![
            HistoryEntry {
                at: t0() - chrono::Duration::days(3),
                kind: HistoryKind::Feedback,
                channel: Channel::X,
                summary: "Asked about delivery times".into(),
                feedback_id: Some("fb_old1".into()),
                sentiment: Some(-0.2),
            },
            HistoryEntry {
                at: t0() - chrono::Duration::days(2),
                kind: HistoryKind::Reply,
                channel: Channel::Email,
                summary: "Sent tracking link".into(),
                feedback_id: Some("fb_old1".into()),
                sentiment: None,
            },
        ]
    }

    pub fn me() -> Agent {
        Agent {
            id: "agt_me".into(),
            name: "Sam Agent".into(),
            role: AgentRole::Agent,
            departments: vec!["support".into()],
            availability: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    fn stream(n: usize) -> StreamState {
        let mut s = StreamState::new(ViewKind::All);
        s.replace_all((0..n).map(feedback).collect());
        s
    }

    #[test]
    fn newest_is_first_and_ids_are_indexed() {
        let s = stream(10);
        assert_eq!(s.row_at(0).unwrap().fb.id, "fb_00009");
        assert_eq!(s.row_at(9).unwrap().fb.id, "fb_00000");
        assert_eq!(s.position_of("fb_00009"), Some(0));
        assert_eq!(s.position_of("nope"), None);
    }

    #[test]
    fn arrivals_do_not_move_selection_or_scroll() {
        let mut s = stream(50);
        s.select_pos(10);
        s.ensure_visible(5);
        let sel = s.selected.clone();
        let top_item = s.row_at(s.top_pos()).unwrap().fb.id.clone();
        for n in 50..60 {
            assert!(s.upsert(feedback(n)));
        }
        assert_eq!(s.selected, sel);
        assert_eq!(s.row_at(s.top_pos()).unwrap().fb.id, top_item);
        assert_eq!(s.selected_pos(), Some(20));
    }

    #[test]
    fn arrivals_show_above_when_watching_the_newest() {
        let mut s = stream(50);
        s.select_pos(0);
        s.ensure_visible(5);
        s.upsert(feedback(50));
        s.ensure_visible(5);
        assert_eq!(s.top_pos(), 0);
        assert_eq!(s.selected.as_deref(), Some("fb_00049"));
        assert_eq!(s.selected_pos(), Some(1));
    }

    #[test]
    fn views_and_filters_update_incrementally() {
        let mut s = stream(30);
        s.set_me(Some("agt_me".into()), vec!["support".into()]);
        s.set_view(ViewKind::Mine);
        assert_eq!(s.visible(), 10);
        s.set_view(ViewKind::Dept);
        assert_eq!(s.visible(), 15);
        s.set_view(ViewKind::All);
        s.set_filter("refund");
        assert_eq!(s.visible(), 5);
        s.set_filter("refund p");
        assert_eq!(s.visible(), 5);
        s.set_filter("");
        assert_eq!(s.visible(), 30);
        // An update that moves an item out of the view removes it, and back in re-inserts it
        // at its place.
        s.set_view(ViewKind::Mine);
        let mut f = feedback(0);
        f.assignee = None;
        f.version = 2;
        s.upsert(f.clone());
        assert_eq!(s.visible(), 9);
        f.assignee = Some("agt_me".into());
        f.version = 3;
        s.upsert(f.clone());
        assert_eq!(s.visible(), 10);
        assert_eq!(s.row_at(9).unwrap().fb.id, "fb_00000");
        // Stale versions are ignored.
        f.assignee = None;
        f.version = 1;
        s.upsert(f);
        assert_eq!(s.visible(), 10);
    }

    #[test]
    fn untrusted_text_is_cleaned_on_the_way_in() {
        let mut s = StreamState::new(ViewKind::All);
        let mut f = feedback(1);
        f.text = "evil\u{1b}]0;title\u{7} text \u{202e}".into();
        f.author.display_name = "Bob\u{1b}[2J".into();
        s.upsert(f);
        let r = s.get("fb_00001").unwrap();
        assert!(
            !r.fb.text.contains('\u{1b}')
                && !r.fb.text.contains("title")
                && !r.fb.text.contains('\u{202e}')
        );
        assert!(r.fb.text.starts_with("evil") && r.fb.text.contains(" text"));
        assert_eq!(r.fb.author.display_name, "Bob");
    }

    #[test]
    fn move_and_scroll_keep_the_selection_in_view() {
        let mut s = stream(100);
        s.select_pos(0);
        s.ensure_visible(10);
        for _ in 0..15 {
            s.move_by(1);
            s.ensure_visible(10);
        }
        assert_eq!(s.selected_pos(), Some(15));
        assert_eq!(s.top_pos(), 6);
        s.move_by(-1000);
        s.ensure_visible(10);
        assert_eq!(s.top_pos(), 0);
        s.move_by(1000);
        s.ensure_visible(10);
        assert_eq!(s.selected_pos(), Some(99));
        assert_eq!(s.top_pos(), 90);
    }
}

#[cfg(test)]
mod filter_tests {
    use super::fixtures::feedback;
    use super::*;

    /// What the view must be: every row in the view kind whose text contains the filter.
    fn naive(s: &StreamState) -> Vec<usize> {
        (0..s.rows.len())
            .filter(|i| s.in_view(&s.rows[*i]) && s.rows[*i].hay.contains(&s.filter_lc))
            .collect()
    }

    /// Typing, backspacing, widening to nothing and narrowing again, with accents.
    const STEPS: [&str; 18] = [
        "r", "re", "ref", "refu", "ref", "re", "r", "", "d", "dé", "déç", "dé", "x", "", "9", "99",
        "9", "",
    ];

    /// 300 items, one in seven in French with accents.
    fn three_hundred_rows() -> StreamState {
        let mut s = StreamState::new(ViewKind::All);
        for n in 0..300 {
            let mut fb = feedback(n);
            if n % 7 == 0 {
                fb.text = format!("Remboursement refusé n°{n}, très déçu");
            }
            s.upsert(fb);
        }
        s
    }

    #[test]
    fn typing_backspacing_and_arrivals_keep_the_view_exact() {
        let mut s = three_hundred_rows();
        for (i, f) in STEPS.iter().enumerate() {
            s.set_filter(f);
            assert_eq!(s.view, naive(&s), "after filter {f:?}");
            if i == 5 {
                // An arrival while filtering: backspace must not restore a stale saved view.
                let mut fb = feedback(1000);
                fb.text = "refund for order 99".into();
                s.upsert(fb);
                assert_eq!(s.view, naive(&s));
            }
        }
        assert_eq!(s.visible(), s.total());
    }

    #[test]
    fn a_filter_applied_in_slices_ends_exact_whatever_comes_in_between() {
        let mut s = three_hundred_rows();
        s.filter_slice = 7;
        let is_superset = |s: &StreamState| {
            let want = naive(s);
            want.iter().all(|i| s.view.binary_search(i).is_ok())
        };
        for (i, f) in STEPS.iter().enumerate() {
            s.set_filter(f);
            // Keys come faster than slices: only some slices run before the next step.
            for _ in 0..(i % 4) * 3 {
                assert!(is_superset(&s), "mid-filter {f:?} hides a match");
                s.continue_filter();
            }
            match i % 3 {
                // An arrival finishes the job first, then is placed exactly.
                0 => {
                    let mut fb = feedback(2000 + i);
                    fb.text = "refund for order 99".into();
                    s.upsert(fb);
                    assert!(!s.filtering());
                }
                // Moving the selection finishes it too.
                1 => s.move_by(1),
                _ => while !s.continue_filter() && s.filtering() {},
            }
            assert!(!s.filtering());
            assert_eq!(s.view, naive(&s), "after filter {f:?}");
        }
        assert_eq!(s.visible(), s.total());
    }

    #[test]
    fn the_character_set_prefilter_never_drops_a_match() {
        let hay = "@ann x support new my kettle is broken 42 café";
        let row_chars = char_set(hay);
        for needle in ["kettle", "42", "café", "é", " ", "@ann", "broken 4"] {
            let f = Filter::new(needle);
            assert_eq!(row_chars & f.chars, f.chars, "{needle}");
        }
    }
}
