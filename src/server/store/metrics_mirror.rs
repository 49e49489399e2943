//! The windowed measures of the team's summary (latency percentiles, the response trend, the
//! breach share, volume per hour, sentiment per day, the most active customers), computed from a
//! copy of the last month's items that each server keeps in memory.
//!
//! Why a copy: exact nearest-rank percentiles over an arbitrary window cannot come from an index
//! range or a rollup (the samples are nearly all distinct), and ranking them in SQL took 12 s per
//! measure for a 30-day window at a million items. In memory the same figures take a few tens of
//! milliseconds, and stay exact.
//!
//! How it stays true: triggers append the id of every item a write changes in a way the measures
//! read (migration 0011, `metrics_changes`), in the writing transaction, whichever path writes and
//! whichever server instance. Before each summary the mirror reads the log from where it left
//! off and reads those items again. Write transactions take the log's sequence numbers in commit
//! order (one writer on SQLite, the event lock on PostgreSQL), so no change is skipped; an
//! instance that fell behind the pruned part of the log, or a window older than the copy, loads
//! the copy whole again.
//!
//! Memory: about 120 bytes per item of the last month (a million items: about 120 MB).

use super::error::StoreResult;
use super::rows::get;
use super::scope::DepartmentScope;
use crate::domain::metrics::*;
use crate::domain::*;
use sqlx::any::AnyRow;
use std::collections::HashMap;
use std::sync::RwLock;

pub(super) const SECOND: i64 = 1_000_000;
pub(super) const HOUR: i64 = 3_600 * SECOND;
pub(super) const DAY: i64 = 24 * HOUR;
/// How far back the copy reaches: the longest window, and a day so that it is not reloaded at
/// the first tick.
pub(super) const REACH: i64 = 31 * DAY;
/// Sentiment scores are summed as integers of this many parts, so that a mean does not depend on
/// the order the items are summed in.
const SCORE_PARTS: f64 = 1e12;
/// More changes than this since the last read: loading the copy whole is cheaper.
pub(super) const MAX_CHANGES: i64 = 50_000;
/// Items read again per statement.
pub(super) const CHUNK: usize = 500;
/// An absent time.
const NONE: i64 = i64::MIN;
/// An absent assignee or customer.
const NOBODY: u32 = u32::MAX;

/// The columns the mirror keeps of an item.
pub(super) const COLUMNS: &str =
    "id, received_at, first_reply_at, resolved_at, sla_due_at, sentiment, \
     sentiment_label, department, assignee, channel, customer_id";

/// `part` of `whole`, `None` when nothing was counted.
pub(super) fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// How many periods of `length` cover `[since, now)`, the last perhaps partial.
pub(super) fn periods(since: i64, now: i64, length: i64) -> i64 {
    ((now - since) + length - 1) / length
}

/// The replies' times (`feedback_id`, `created_at` rows) by item.
pub(super) fn replies_by_item(rows: &[AnyRow]) -> StoreResult<HashMap<String, Vec<i64>>> {
    let mut by_item: HashMap<String, Vec<i64>> = HashMap::new();
    for row in rows {
        by_item
            .entry(get(row, "feedback_id")?)
            .or_default()
            .push(get(row, "created_at")?);
    }
    Ok(by_item)
}

/// The store's copy, shared by its clones; empty until the first summary (or [`Store::warm_metrics`]).
#[derive(Default)]
pub(super) struct MirrorCell {
    /// One refresher at a time: two summaries arriving together read the log once.
    pub(super) refreshing: tokio::sync::Mutex<()>,
    pub(super) mirror: RwLock<Option<Mirror>>,
}

/// Strings kept once, by number.
#[derive(Default)]
struct Names {
    numbers: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(n) = self.numbers.get(name) {
            return *n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), n);
        n
    }

    fn find(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    fn name(&self, n: u32) -> &str {
        &self.names[n as usize]
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// One item as the measures read it. Times are microseconds, [`NONE`] when absent.
#[derive(Clone)]
struct Item {
    received_at: i64,
    first_reply_at: i64,
    resolved_at: i64,
    sla_due_at: i64,
    /// The score in [`SCORE_PARTS`].
    score: i64,
    /// 0 negative, 1 neutral, 2 positive.
    label: u8,
    channel: u32,
    department: u32,
    assignee: u32,
    customer: u32,
    /// When each reply on it was sent.
    replies: Box<[i64]>,
    /// Its latest time: it is of no window that starts after this.
    latest: i64,
}

impl Item {
    /// The latest of its times.
    fn latest_time(&self) -> i64 {
        let times = [
            self.received_at,
            self.first_reply_at,
            self.resolved_at,
            self.sla_due_at,
        ];
        let replies = self.replies.iter().copied().max().unwrap_or(NONE);
        times.into_iter().max().unwrap_or(NONE).max(replies)
    }

    fn with_latest(mut self) -> Item {
        self.latest = self.latest_time();
        self
    }
}

pub(super) struct Mirror {
    /// The last change of the log applied.
    pub(super) cursor: i64,
    /// Items whose every time is before this are not kept.
    pub(super) horizon: i64,
    slots: HashMap<Box<str>, usize>,
    items: Vec<Option<Item>>,
    free: Vec<usize>,
    channels: Names,
    departments: Names,
    agents: Names,
    customers: Names,
}

impl Mirror {
    pub(super) fn empty(cursor: i64, horizon: i64) -> Mirror {
        Mirror {
            cursor,
            horizon,
            slots: HashMap::new(),
            items: Vec::new(),
            free: Vec::new(),
            channels: Names::default(),
            departments: Names::default(),
            agents: Names::default(),
            customers: Names::default(),
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(slot) = self.slots.remove(id) {
            self.items[slot] = None;
            self.free.push(slot);
        }
    }

    fn put(&mut self, id: &str, item: Item) {
        if item.latest < self.horizon {
            self.remove(id);
            return;
        }
        if let Some(slot) = self.slots.get(id) {
            self.items[*slot] = Some(item);
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.items[slot] = Some(item);
                slot
            }
            None => {
                self.items.push(Some(item));
                self.items.len() - 1
            }
        };
        self.slots.insert(id.into(), slot);
    }

    /// An item from its row, with its replies' times.
    fn item(&mut self, row: &AnyRow, replies: Vec<i64>) -> StoreResult<Item> {
        let score: f64 = get(row, "sentiment")?;
        let label = match get::<Option<String>>(row, "sentiment_label")? {
            Some(l) => l
                .parse::<SentimentLabel>()
                .map_err(|e| super::error::StoreError::Invalid(e.to_string()))?,
            None => SentimentLabel::from_score(score),
        };
        let time =
            |col: &str| -> StoreResult<i64> { Ok(get::<Option<i64>>(row, col)?.unwrap_or(NONE)) };
        let channel: String = get(row, "channel")?;
        let department: String = get(row, "department")?;
        let assignee: Option<String> = get(row, "assignee")?;
        let customer: Option<String> = get(row, "customer_id")?;
        Ok(Item {
            received_at: get(row, "received_at")?,
            first_reply_at: time("first_reply_at")?,
            resolved_at: time("resolved_at")?,
            sla_due_at: get(row, "sla_due_at")?,
            score: (score * SCORE_PARTS).round() as i64,
            label: match label {
                SentimentLabel::Negative => 0,
                SentimentLabel::Neutral => 1,
                SentimentLabel::Positive => 2,
            },
            channel: self.channels.intern(&channel),
            department: self.departments.intern(&department),
            assignee: assignee.map_or(NOBODY, |a| self.agents.intern(&a)),
            customer: customer.map_or(NOBODY, |c| self.customers.intern(&c)),
            replies: replies.into_boxed_slice(),
            latest: NONE,
        }
        .with_latest())
    }

    /// Replaces the items of `ids` by their rows (an id without a row is gone).
    pub(super) fn apply(
        &mut self,
        ids: &[String],
        rows: &[AnyRow],
        replies: &mut HashMap<String, Vec<i64>>,
    ) -> StoreResult<()> {
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            let id: String = get(row, "id")?;
            let item = self.item(row, replies.remove(&id).unwrap_or_default())?;
            self.put(&id, item);
            seen.insert(id);
        }
        for id in ids {
            if !seen.contains(id) {
                self.remove(id);
            }
        }
        Ok(())
    }

    /// Drops the items no window can reach any more.
    pub(super) fn evict_before(&mut self, horizon: i64) {
        let gone: Vec<Box<str>> = self
            .slots
            .iter()
            .filter(|(_, slot)| {
                self.items[**slot]
                    .as_ref()
                    .is_none_or(|i| i.latest < horizon)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.remove(&id);
        }
        self.horizon = horizon;
    }
}

/// What a summary needs of the items in a window, by scope and filter.
pub(super) struct Selection<'a> {
    pub query: &'a MetricsQuery,
    pub scope: &'a DepartmentScope,
    pub since: i64,
    pub now: i64,
}

/// Latencies by a key (and a slice of the window, 0 for the whole window); the same shape the
/// SQL reference (`metrics.rs`) gives.
pub(super) type Latencies = HashMap<(String, i64), Latency>;

/// The windowed measures of one summary.
pub(super) struct Windowed {
    pub first_response: Grouped,
    pub resolution: Grouped,
    /// Median first response by department and slice.
    pub trend: Latencies,
    pub breach_share: Option<f64>,
    pub volume: Vec<HourVolume>,
    pub sentiment: Vec<DaySentiment>,
    /// Per day, the share of items whose author is linked.
    pub linked_feedback: Vec<Option<f64>>,
    /// Customer ids by items in the window, most first, then by id.
    pub customers: Vec<(String, u64)>,
}

/// One measure's latencies overall (key `''`), by department, by agent and by channel.
#[derive(Default)]
pub(super) struct Grouped {
    pub overall: Latencies,
    pub by_department: Latencies,
    pub by_agent: Latencies,
    pub by_channel: Latencies,
}

/// Nearest-rank p50 and p90 of `samples` (reordered).
fn nearest_rank(samples: &mut [u32]) -> Latency {
    let n = samples.len();
    if n == 0 {
        return Latency::default();
    }
    // rank = ceil(n * p / 100), at least 1: the SQL reference's "first rn with rn*100 >= n*p".
    let rank = |p: usize| (n * p).div_ceil(100).max(1) - 1;
    let (r50, r90) = (rank(50), rank(90));
    let p50 = *samples.select_nth_unstable(r50).1;
    let upper = &mut samples[r50..];
    let p90 = *upper.select_nth_unstable(r90 - r50).1;
    Latency {
        count: n as u64,
        p50_secs: Some(p50 as i64),
        p90_secs: Some(p90 as i64),
    }
}

/// Samples grouped by number, then ranked.
fn ranked(groups: Vec<Vec<u32>>, name: impl Fn(usize) -> String) -> Latencies {
    groups
        .into_iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(k, mut s)| ((name(k), 0), nearest_rank(&mut s)))
        .collect()
}

/// One measure's durations in seconds, overall and by group, as a pass over the items meets them.
struct Samples {
    overall: Vec<u32>,
    departments: Vec<Vec<u32>>,
    agents: Vec<Vec<u32>>,
    channels: Vec<Vec<u32>>,
    /// By department and slice of the window (`slices` per department; none without a trend).
    trend: Vec<Vec<u32>>,
    slices: usize,
}

impl Samples {
    fn new(m: &Mirror, slices: usize) -> Samples {
        Samples {
            overall: Vec::new(),
            departments: vec![Vec::new(); m.departments.len()],
            agents: vec![Vec::new(); m.agents.len()],
            channels: vec![Vec::new(); m.channels.len()],
            trend: vec![Vec::new(); m.departments.len() * slices],
            slices,
        }
    }

    /// Counts `item`, whose latency ended at `at`, in the `slice`-th slice of the window.
    fn push(&mut self, item: &Item, at: i64, slice: usize) {
        let d = (at.saturating_sub(item.received_at).max(0) / SECOND).min(u32::MAX as i64) as u32;
        self.overall.push(d);
        self.departments[item.department as usize].push(d);
        if item.assignee != NOBODY {
            self.agents[item.assignee as usize].push(d);
        }
        self.channels[item.channel as usize].push(d);
        if slice < self.slices {
            self.trend[item.department as usize * self.slices + slice].push(d);
        }
    }

    /// The percentiles of every group, and the departments' per slice.
    fn rank(self, m: &Mirror) -> (Grouped, Latencies) {
        let slices = self.slices;
        let mut trend = Latencies::new();
        for (k, mut s) in self.trend.into_iter().enumerate() {
            if !s.is_empty() {
                let dept = m.departments.name((k / slices) as u32).to_string();
                trend.insert((dept, (k % slices) as i64), nearest_rank(&mut s));
            }
        }
        let grouped = Grouped {
            overall: ranked(vec![self.overall], |_| String::new()),
            by_department: ranked(self.departments, |k| m.departments.name(k as u32).into()),
            by_agent: ranked(self.agents, |k| m.agents.name(k as u32).into()),
            by_channel: ranked(self.channels, |k| m.channels.name(k as u32).into()),
        };
        (grouped, trend)
    }
}

/// Everything a summary counts of the window's items, filled in one pass over them.
struct Tally {
    first_response: Samples,
    resolution: Samples,
    /// Items due in the window, and of those the ones answered late or not at all.
    due: u64,
    late: u64,
    inbound: Vec<u64>,
    replies: Vec<u64>,
    /// Per day and channel: counts by label and the scores' sum.
    by_day: Vec<([u64; 3], i64)>,
    /// Per day: items, and items whose author is linked.
    linked: Vec<(u64, u64)>,
    /// Items per customer.
    customers: Vec<u64>,
}

impl Samples {
    fn merge(&mut self, other: Samples) {
        self.overall.extend(other.overall);
        let pairs = [
            (&mut self.departments, other.departments),
            (&mut self.agents, other.agents),
            (&mut self.channels, other.channels),
            (&mut self.trend, other.trend),
        ];
        for (mine, theirs) in pairs {
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.extend(t);
            }
        }
    }
}

impl Tally {
    /// The counts of two parts of the items, as one.
    fn merge(mut self, other: Tally) -> Tally {
        self.first_response.merge(other.first_response);
        self.resolution.merge(other.resolution);
        self.due += other.due;
        self.late += other.late;
        let add = |a: &mut Vec<u64>, b: Vec<u64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.inbound, other.inbound);
        add(&mut self.replies, other.replies);
        add(&mut self.customers, other.customers);
        for (x, y) in self.by_day.iter_mut().zip(other.by_day) {
            for l in 0..3 {
                x.0[l] += y.0[l];
            }
            x.1 += y.1;
        }
        for (x, y) in self.linked.iter_mut().zip(other.linked) {
            x.0 += y.0;
            x.1 += y.1;
        }
        self
    }
}

impl Mirror {
    /// Which items a selection counts: a test on an item's department, assignee and channel.
    fn filter<'a>(&'a self, sel: &'a Selection<'a>) -> impl Fn(&Item) -> bool + 'a {
        let departments: Vec<bool> = (0..self.departments.len())
            .map(|d| {
                let name = self.departments.name(d as u32);
                sel.scope.allows(name) && sel.query.department.as_ref().is_none_or(|x| x == name)
            })
            .collect();
        // A filter naming what no item has matches nothing.
        let agent = sel
            .query
            .agent
            .as_ref()
            .map(|a| self.agents.find(a).unwrap_or(NOBODY - 1));
        let channel = sel
            .query
            .channel
            .map(|c| self.channels.find(c.as_str()).unwrap_or(u32::MAX));
        move |i: &Item| {
            departments[i.department as usize]
                && agent.is_none_or(|a| a == i.assignee)
                && channel.is_none_or(|c| c == i.channel)
        }
    }

    /// One pass over the items: each is read once, whichever measures it counts for (the copy
    /// is larger than the caches, so the pass is bound by memory, not by the counting).
    fn tally(&self, sel: &Selection, slice: i64, items: &[Option<Item>]) -> Tally {
        let keep = self.filter(sel);
        let (since, now) = (sel.since, sel.now);
        let (hours, days) = (periods(since, now, HOUR), periods(since, now, DAY));
        let channels = self.channels.len();
        let mut t = Tally {
            first_response: Samples::new(self, ((now - since) / slice) as usize),
            resolution: Samples::new(self, 0),
            due: 0,
            late: 0,
            inbound: vec![0; hours as usize],
            replies: vec![0; hours as usize],
            by_day: vec![([0; 3], 0); days as usize * channels],
            linked: vec![(0, 0); days as usize],
            customers: vec![0; self.customers.len()],
        };
        let within = |at: i64| at != NONE && at >= since && at < now;
        for item in items.iter().flatten() {
            if item.latest < since || !keep(item) {
                continue;
            }
            if within(item.first_reply_at) {
                let s = ((item.first_reply_at - since) / slice) as usize;
                t.first_response.push(item, item.first_reply_at, s);
            }
            if within(item.resolved_at) {
                t.resolution.push(item, item.resolved_at, usize::MAX);
            }
            if within(item.sla_due_at) {
                t.due += 1;
                let answered = match (item.first_reply_at, item.resolved_at) {
                    (NONE, r) => r,
                    (f, NONE) => f,
                    (f, r) => f.min(r),
                };
                if answered == NONE || answered > item.sla_due_at {
                    t.late += 1;
                }
            }
            for r in item.replies.iter().filter(|r| within(**r)) {
                t.replies[((r - since) / HOUR) as usize] += 1;
            }
            if within(item.received_at) {
                let at = item.received_at - since;
                t.inbound[(at / HOUR) as usize] += 1;
                let day = (at / DAY) as usize;
                let cell = &mut t.by_day[day * channels + item.channel as usize];
                cell.0[item.label as usize] += 1;
                cell.1 += item.score;
                t.linked[day].0 += 1;
                if item.customer != NOBODY {
                    t.linked[day].1 += 1;
                    t.customers[item.customer as usize] += 1;
                }
            }
        }
        t
    }

    pub(super) fn windowed(&self, sel: &Selection, slice: i64) -> Windowed {
        // Two halves side by side (the machine's two cores), then the two measures.
        let (a, b) = self.items.split_at(self.items.len() / 2);
        let t = std::thread::scope(|s| {
            let second = s.spawn(|| self.tally(sel, slice, b));
            let first = self.tally(sel, slice, a);
            first.merge(second.join().expect("counting the items"))
        });
        let ((first_response, trend), (resolution, _)) = std::thread::scope(|s| {
            let res = s.spawn(|| t.resolution.rank(self));
            let fr = t.first_response.rank(self);
            (fr, res.join().expect("ranking resolutions"))
        });
        let volume = (0..t.inbound.len())
            .map(|h| HourVolume {
                hour: super::time::micros_to_time(sel.since + h as i64 * HOUR),
                inbound: t.inbound[h],
                replies: t.replies[h],
            })
            .collect();
        Windowed {
            first_response,
            resolution,
            trend,
            breach_share: share(t.late, t.due),
            volume,
            sentiment: self.sentiment(sel, t.by_day),
            linked_feedback: t.linked.into_iter().map(|(n, l)| share(l, n)).collect(),
            customers: self.most_active(t.customers),
        }
    }

    /// Sentiment per day and channel, oldest day first, channels in their order.
    fn sentiment(&self, sel: &Selection, by_day: Vec<([u64; 3], i64)>) -> Vec<DaySentiment> {
        let channels = self.channels.len();
        let mut sentiment: Vec<DaySentiment> = by_day
            .into_iter()
            .enumerate()
            .filter_map(|(k, (labels, sum))| {
                let n: u64 = labels.iter().sum();
                let channel = self
                    .channels
                    .name((k % channels) as u32)
                    .parse::<Channel>()
                    .ok()?;
                (n > 0).then(|| DaySentiment {
                    day: super::time::micros_to_time(sel.since + (k / channels) as i64 * DAY),
                    channel,
                    negative: labels[0],
                    neutral: labels[1],
                    positive: labels[2],
                    mean: Some(sum as f64 / (n as f64 * SCORE_PARTS)),
                })
            })
            .collect();
        sentiment.sort_by_key(|d| (d.day, d.channel));
        sentiment
    }

    /// Customer ids by items, most first, then by id.
    fn most_active(&self, customers: Vec<u64>) -> Vec<(String, u64)> {
        let mut active: Vec<(String, u64)> = customers
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (self.customers.name(c as u32).to_string(), n))
            .collect();
        active.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL reference's rank, for comparison: the first row (from 1) with rn * 100 >= n * p.
    fn sql_rank(n: usize, p: usize) -> usize {
        (1..=n).find(|rn| rn * 100 >= n * p).unwrap()
    }

    #[test]
    fn nearest_rank_picks_the_same_sample_as_the_sql() {
        for n in 1..=203usize {
            let mut samples: Vec<u32> = (0..n as u32).rev().map(|x| x * 3).collect();
            let l = nearest_rank(&mut samples);
            assert_eq!(l.count, n as u64);
            assert_eq!(
                l.p50_secs,
                Some(((sql_rank(n, 50) - 1) * 3) as i64),
                "n={n}"
            );
            assert_eq!(
                l.p90_secs,
                Some(((sql_rank(n, 90) - 1) * 3) as i64),
                "n={n}"
            );
        }
        assert_eq!(nearest_rank(&mut []), Latency::default());
    }

    #[test]
    fn a_mean_does_not_depend_on_the_order_of_the_scores() {
        let scores = [-0.9, -0.7, -0.85, -0.75];
        let sum: i64 = scores
            .iter()
            .map(|s| (s * SCORE_PARTS).round() as i64)
            .sum();
        let rev: i64 = scores
            .iter()
            .rev()
            .map(|s| (s * SCORE_PARTS).round() as i64)
            .sum();
        assert_eq!(sum, rev);
        assert_eq!(sum as f64 / (4.0 * SCORE_PARTS), -0.8);
    }
}
