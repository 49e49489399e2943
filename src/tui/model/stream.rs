//! The stream: every item in arrival order, the view the filter and sort make of it, the selection, and the filter applied in slices.

use super::row::{char_set, Row};
use super::view::ViewKind;
use crate::domain::Feedback;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The lower-cased filter, compiled once per keystroke rather than once per row.
#[derive(Debug, Clone)]
pub(super) struct Filter {
    pub(super) needle: String,
    pub(super) chars: u64,
    pub(super) finder: memchr::memmem::Finder<'static>,
}

impl Filter {
    pub(super) fn new(needle: &str) -> Filter {
        Filter {
            needle: needle.to_string(),
            chars: char_set(needle),
            finder: memchr::memmem::Finder::new(needle.as_bytes()).into_owned(),
        }
    }

    pub(super) fn matches(&self, row: &Row) -> bool {
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
pub(super) struct FilterJob {
    pub(super) filter: Filter,
    /// Row indices that may match, ascending; those before `next` are decided.
    pub(super) candidates: Vec<usize>,
    pub(super) next: usize,
    pub(super) kept: Vec<usize>,
}

impl FilterJob {
    /// What a longer filter must still look at: the rows kept so far and the undecided ones
    /// (both ascending, and every kept row precedes every undecided one).
    pub(super) fn undecided_and_kept(mut self) -> Vec<usize> {
        self.kept.extend_from_slice(&self.candidates[self.next..]);
        self.kept
    }
}

/// The live stream: every item in arrival order with an id index, and the visible view as a
/// sorted list of indices kept up to date incrementally. Display is newest first: display
/// position `p` is `view[view.len() - 1 - p]`. Selection and scroll are anchored to items, not
/// positions, so arrivals never move them.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    pub(super) rows: Vec<Row>,
    pub(super) index: HashMap<String, usize>,
    pub(super) view: Vec<usize>,
    pub(super) view_kind: Option<ViewKind>,
    pub(super) filter: String,
    pub(super) filter_lc: String,
    /// The views of the shorter filters typed before this one (each with its filter), so that
    /// a backspace restores a view instead of searching every row again. Kept exact on every
    /// upsert; cleared when the view kind changes or everything is replaced.
    pub(super) narrower_from: Vec<(String, Vec<usize>)>,
    /// The row the last upsert touched (for keeping the saved views exact).
    pub(super) last_upserted: Option<usize>,
    /// A narrowing filter not yet applied to every candidate (see `FilterJob`).
    pub(super) job: Option<FilterJob>,
    /// Rows per slice of a job; 0 means `FILTER_SLICE` (tests use tiny slices).
    pub filter_slice: usize,
    /// The filter's fielded terms (`is:late`, `role:detractor`...); `filter_lc` is its free text.
    pub(super) query: crate::tui::filter::Query,
    /// The clock `is:late` is judged by: the model's, set when the filter is applied.
    pub now: DateTime<Utc>,
    /// The display order (`tui::sort`); under a work order, `order` holds the view's rows in
    /// display order (kept exact on every change of the view).
    pub(super) sort: crate::tui::sort::SortKey,
    pub(super) order: Vec<usize>,
    pub(super) me: Option<String>,
    pub(super) departments: Vec<String>,
    /// The selected item's id.
    pub selected: Option<String>,
    /// The item shown on the top row.
    pub(super) top: Option<usize>,
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

    pub(super) fn idx_at(&self, pos: usize) -> Option<usize> {
        let n = self.view.len();
        if pos >= n {
            return None;
        }
        match self.sort {
            crate::tui::sort::SortKey::Arrival => Some(self.view[n - 1 - pos]),
            _ => self.order.get(pos).copied(),
        }
    }

    /// The display position of row `idx`, or where it would be if it were visible.
    pub(super) fn display_pos(&self, idx: usize) -> Result<usize, usize> {
        let n = self.view.len();
        match self.sort {
            crate::tui::sort::SortKey::Arrival => self
                .view
                .binary_search(&idx)
                .map(|i| n - 1 - i)
                .map_err(|i| n.saturating_sub(i)),
            by => {
                let key = crate::tui::sort::key(&self.rows[idx], idx, by);
                self.order
                    .binary_search_by(|j| crate::tui::sort::key(&self.rows[*j], *j, by).cmp(&key))
            }
        }
    }

    pub(super) fn pos_of_index(&self, idx: usize) -> Option<usize> {
        self.display_pos(idx).ok()
    }

    pub fn sort(&self) -> crate::tui::sort::SortKey {
        self.sort
    }

    /// Shows the view in another order; selection and scroll stay on their items.
    pub fn set_sort(&mut self, by: crate::tui::sort::SortKey) {
        self.finish_filter();
        self.sort = by;
        self.resort();
    }

    /// Rebuilds the display order of a work order after the view changed.
    pub(super) fn resort(&mut self) {
        let by = self.sort;
        if by == crate::tui::sort::SortKey::Arrival {
            self.order = Vec::new();
            return;
        }
        let rows = &self.rows;
        let mut keyed: Vec<((u8, u8, i64, usize), usize)> = self
            .view
            .iter()
            .map(|i| (crate::tui::sort::key(&rows[*i], *i, by), *i))
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

    pub(super) fn matches(&self, row: &Row) -> bool {
        self.in_view(row) && (self.filter_lc.is_empty() || row.hay.contains(&self.filter_lc))
    }

    /// In the view kind and holding the filter's fielded terms (`tui::filter`).
    pub(super) fn in_view(&self, row: &Row) -> bool {
        let fb = &row.fb;
        let in_kind = match self.view_kind() {
            ViewKind::All => true,
            ViewKind::Mine => self.me.is_some() && fb.assignee.as_deref() == self.me.as_deref(),
            ViewKind::Dept => self.departments.contains(&fb.department),
            ViewKind::Unassigned => fb.assignee.is_none(),
        };
        in_kind && (!self.query.has_terms() || self.query.matches(fb, self.facts(row)))
    }

    pub(super) fn facts<'a>(&'a self, row: &Row) -> crate::tui::filter::Facts<'a> {
        crate::tui::filter::Facts {
            now: self.now,
            me: self.me.as_deref(),
            seen: row.seen,
        }
    }

    /// The parsed filter (fielded terms and free text).
    pub fn query(&self) -> &crate::tui::filter::Query {
        &self.query
    }

    pub(super) fn rebuild(&mut self) {
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
        let query = crate::tui::filter::parse(f);
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
    pub(super) fn start_job(&mut self, candidates: Vec<usize>) {
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
    pub(super) fn update_saved_views(&mut self) {
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

    pub(super) fn upsert_row(&mut self, fb: Feedback) -> bool {
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
                if at_top && self.sort == crate::tui::sort::SortKey::Arrival {
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
