//! The console's state: one `Model`, made of sub-states with their own files (the stream, the
//! composer, drafts, the outbox, the customer directory, overlays...). The reducer
//! (`tui::update`) changes it; the panes draw it. Files here import only each other and the
//! console's leaf modules (keymap, lint, theme, textutil), never the reducer or the panes.

pub mod bulk;
pub mod composer;
pub mod conversation;
pub mod directory;
pub mod draft;
pub mod guard;
pub mod load;
pub mod outbox;
pub mod overlays;
pub mod row;
pub mod status;
pub mod stream;
pub mod target;
pub mod team;
pub mod view;

pub use composer::*;
pub use directory::*;
pub use draft::*;
pub use load::*;
pub use outbox::*;
pub use overlays::*;
pub use row::*;
pub use status::*;
pub use stream::*;
pub use view::*;

use crate::domain::api::Presence;
use crate::domain::{Agent, Customer, Department, Feedback, Message, PresenceState, Visibility};
use crate::tui::keymap::{KeyPress, Keymap};
use crate::tui::lint::CompiledRules;
use crate::tui::theme::Theme;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

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
    pub conversation: conversation::Conversations,
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
    pub bulk: Option<bulk::BulkReport>,
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
    pub team: Option<team::TeamView>,
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

    /// A draft changed: it is saved with the next debounced save (the clock starts at the
    /// first change since the last save).
    pub fn touch_draft(&mut self, feedback_id: String) {
        self.drafts_dirty.insert(feedback_id);
        self.drafts_changed_at.get_or_insert(self.now);
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
pub(crate) mod fixtures;

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
        // The cleaning is done once, at the backend boundary (`client::Sanitized`, which applies
        // `text::Sanitize`): what reaches the stream is what it produced.
        use crate::text::Sanitize;
        let mut s = StreamState::new(ViewKind::All);
        let mut f = feedback(1);
        f.text = "evil\u{1b}]0;title\u{7} text \u{202e}".into();
        f.author.display_name = "Bob\u{1b}[2J".into();
        f.sanitize();
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
    use super::stream::Filter;
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
