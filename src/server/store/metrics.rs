//! The team's measures (`GET /v1/metrics/summary`), computed in SQL over the columns the store
//! keeps on write (`first_reply_at`, `resolved_at`, `identities.first_seen_at`, `linked_at`,
//! migration 0009), each measure one range scan of a covering index, so that a summary stays
//! fast at a million items. Percentiles are nearest-rank, computed by the database with window
//! functions: only the figures cross the wire, never the samples.

use super::db::{Dialect, Store};
use super::error::StoreResult;
use super::metrics_mirror::{
    periods, share, Grouped, Latencies, Selection, Windowed, DAY, HOUR, SECOND,
};
use super::rows::get;
use super::scope::DepartmentScope;
use super::time::micros_to_time;
use crate::domain::metrics::*;
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// The longest excerpt of a breached item.
const EXCERPT_CHARS: usize = 80;

/// The window and filters of one summary, as SQL: a condition on `feedback f` with its text
/// arguments bound first (`$1..$n`), integer arguments numbered after them.
pub(super) struct Items {
    pub filter: String,
    pub texts: Vec<String>,
    /// Every item of the store: no scope, no filter.
    pub everything: bool,
}

impl Items {
    pub fn new(q: &MetricsQuery, scope: &DepartmentScope) -> Items {
        let (mut filter, mut texts) = scope.sql("f.department", 1);
        let mut and = |column: &str, value: &str| {
            texts.push(value.to_string());
            filter.push_str(&format!(" AND {column} = ${}", texts.len()));
        };
        if let Some(d) = &q.department {
            and("f.department", d);
        }
        if let Some(a) = &q.agent {
            and("f.assignee", a);
        }
        if let Some(c) = q.channel {
            and("f.channel", c.as_str());
        }
        let everything = *scope == DepartmentScope::All
            && q.department.is_none()
            && q.agent.is_none()
            && q.channel.is_none();
        Items {
            filter,
            texts,
            everything,
        }
    }

    /// Binds one more text argument (before any integer's placeholder is taken): its placeholder.
    pub fn text(&mut self, value: &str) -> String {
        self.texts.push(value.to_string());
        format!("${}", self.texts.len())
    }

    /// The placeholder of the `i`-th integer argument (from 1).
    pub fn int(&self, i: usize) -> String {
        format!("${}", self.texts.len() + i)
    }

    pub async fn fetch(
        &self,
        store: &Store,
        sql: &str,
        ints: Vec<i64>,
    ) -> StoreResult<Vec<AnyRow>> {
        let mut query = sqlx::query(sql);
        for t in &self.texts {
            query = query.bind(t.clone());
        }
        for i in ints {
            query = query.bind(i);
        }
        Ok(query.fetch_all(store.reader()).await?)
    }
}

/// `feedback f` read through `index`, a range of the window's time: SQLite's planner, without
/// statistics, would read a supervisor's `department IN (...)` through a department index
/// instead, every item of the department (seconds at a million items); PostgreSQL plans from
/// its statistics.
fn ranged(store: &Store, index: &str) -> String {
    match store.dialect() {
        Dialect::Sqlite => format!("feedback f INDEXED BY {index}"),
        Dialect::Postgres => "feedback f".to_string(),
    }
}

/// The span `[since, now)` in microseconds.
#[derive(Clone, Copy)]
struct Span {
    since: i64,
    now: i64,
}

fn count(row: &AnyRow, col: &str) -> StoreResult<u64> {
    Ok(get::<i64>(row, col)?.max(0) as u64)
}

/// The start of a post, on one line, at most [`EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// Which time ends a latency: the first reply, or the resolution.
#[derive(Clone, Copy)]
enum Measure {
    FirstResponse,
    Resolution,
}

impl Measure {
    fn column(self) -> &'static str {
        match self {
            Measure::FirstResponse => "f.first_reply_at",
            Measure::Resolution => "f.resolved_at",
        }
    }

    /// The index of the items in order of the time that ends the latency.
    fn index(self) -> &'static str {
        match self {
            Measure::FirstResponse => "feedback_first_reply",
            Measure::Resolution => "feedback_resolved",
        }
    }
}

/// Where the windowed measures come from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    /// The copy of the window's items in memory (metrics_mirror.rs): what the API serves.
    Mirror,
    /// SQL over the tables: the reference the copy is checked against, slow at scale.
    Tables,
}

impl Store {
    /// The summary of `q` as seen by a caller who sees `scope`, at the store's now.
    pub async fn metrics_summary(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
    ) -> StoreResult<MetricsSummary> {
        self.summary_from(q, scope, Source::Mirror).await
    }

    /// The same summary with every windowed measure computed by SQL from the tables: the
    /// reference that tests and the benchmark compare [`Store::metrics_summary`] with (seconds at
    /// a million items).
    pub async fn metrics_summary_from_tables(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
    ) -> StoreResult<MetricsSummary> {
        self.summary_from(q, scope, Source::Tables).await
    }

    async fn summary_from(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
        source: Source,
    ) -> StoreResult<MetricsSummary> {
        let now = self.now();
        let span = Span {
            since: now - q.window.seconds() * SECOND,
            now,
        };
        let items = Items::new(q, scope);
        let slice = q.window.trend_slice_seconds() * SECOND;
        let windowed = async {
            match source {
                Source::Mirror => {
                    let sel = Selection {
                        query: q,
                        scope,
                        since: span.since,
                        now: span.now,
                    };
                    let mut w = self.windowed_from_mirror(sel, slice).await?;
                    let customers = std::mem::take(&mut w.customers);
                    let (detractors, helpers) = self.with_roles(&customers).await?;
                    Ok((w, detractors, helpers))
                }
                Source::Tables => self.windowed_from_tables(&items, span, slice).await,
            }
        };
        let (windowed, identities, departments, queue, (sla, agents)) = tokio::try_join!(
            windowed,
            self.identity_shares(span),
            self.departments_in(q, scope),
            self.queue_counts(&items),
            self.sla_and_loads(q, scope, &items, span),
        )?;
        let (w, detractors, helpers) = windowed;
        let agent_names: HashMap<String, String> = self
            .agent_names()
            .await?
            .into_iter()
            .collect::<HashMap<_, _>>();
        let whole = |m: &Latencies| m.get(&(String::new(), 0)).copied().unwrap_or_default();
        let (fr, res) = (&w.first_response, &w.resolution);
        let by_department = departments
            .iter()
            .map(|(id, name)| group(id, name, &fr.by_department, &res.by_department))
            .collect();
        let by_agent = keys(&fr.by_agent, &res.by_agent)
            .into_iter()
            .map(|id| {
                let name = agent_names.get(&id).cloned().unwrap_or_else(|| id.clone());
                group(&id, &name, &fr.by_agent, &res.by_agent)
            })
            .collect();
        let by_channel = keys(&fr.by_channel, &res.by_channel)
            .into_iter()
            .map(|c| group(&c, &c, &fr.by_channel, &res.by_channel))
            .collect();
        let slices = q.window.seconds() * SECOND / slice;
        let response_trend = departments
            .iter()
            .map(|(id, _)| DepartmentTrend {
                department: id.clone(),
                p50_secs: (0..slices)
                    .map(|s| w.trend.get(&(id.clone(), s)).and_then(|l| l.p50_secs))
                    .collect(),
            })
            .collect();
        let linked = identities
            .into_iter()
            .zip(w.linked_feedback)
            .map(|((at, identities), feedback)| LinkedShare {
                at,
                identities,
                feedback,
            })
            .collect();
        Ok(MetricsSummary {
            window: q.window,
            since: micros_to_time(span.since),
            generated_at: micros_to_time(span.now),
            first_response: whole(&fr.overall),
            resolution: whole(&res.overall),
            by_department,
            by_agent,
            by_channel,
            trend_slice_secs: q.window.trend_slice_seconds(),
            response_trend,
            sla: SlaSummary {
                breach_share: w.breach_share,
                ..sla
            },
            queue,
            volume: w.volume,
            linked,
            sentiment: w.sentiment,
            detractors,
            helpers,
            agents,
        })
    }

    /// The windowed measures by SQL over the tables (the reference, see [`Source`]).
    async fn windowed_from_tables(
        &self,
        items: &Items,
        span: Span,
        slice: i64,
    ) -> StoreResult<(Windowed, Vec<ActiveCustomer>, Vec<ActiveCustomer>)> {
        let latency = |m: Measure, key: &'static str, slice: Option<i64>| {
            self.latencies(items, span, m, key, slice)
        };
        let (overall_fr, overall_res, dept_fr, dept_res, agent_fr, agent_res) = tokio::try_join!(
            latency(Measure::FirstResponse, "''", None),
            latency(Measure::Resolution, "''", None),
            latency(Measure::FirstResponse, "f.department", None),
            latency(Measure::Resolution, "f.department", None),
            latency(Measure::FirstResponse, "f.assignee", None),
            latency(Measure::Resolution, "f.assignee", None),
        )?;
        let (chan_fr, chan_res, trend, breach_share, volume, days) = tokio::try_join!(
            latency(Measure::FirstResponse, "f.channel", None),
            latency(Measure::Resolution, "f.channel", None),
            latency(Measure::FirstResponse, "f.department", Some(slice)),
            self.breach_share(items, span),
            self.volume(items, span),
            self.days(items, span),
        )?;
        let (detractors, helpers) = tokio::try_join!(
            self.active_customers(items, span, CustomerRole::Detractor),
            self.active_customers(items, span, CustomerRole::Helper),
        )?;
        let (sentiment, linked_feedback) = days;
        let windowed = Windowed {
            first_response: Grouped {
                overall: overall_fr,
                by_department: dept_fr,
                by_agent: agent_fr,
                by_channel: chan_fr,
            },
            resolution: Grouped {
                overall: overall_res,
                by_department: dept_res,
                by_agent: agent_res,
                by_channel: chan_res,
            },
            trend,
            breach_share,
            volume,
            sentiment,
            linked_feedback,
            customers: Vec::new(),
        };
        Ok((windowed, detractors, helpers))
    }

    /// The detractors and helpers among `customers` (by items, most first), at most 10 each.
    async fn with_roles(
        &self,
        customers: &[(String, u64)],
    ) -> StoreResult<(Vec<ActiveCustomer>, Vec<ActiveCustomer>)> {
        // Roles are stored as a JSON list; the ones asked for are ours (no quote in them).
        let rows = sqlx::query(
            "SELECT id, first_name, last_name, roles FROM customers \
             WHERE roles LIKE '%\"detractor\"%' OR roles LIKE '%\"helper\"%'",
        )
        .fetch_all(self.reader())
        .await?;
        let mut with_role: HashMap<String, (String, String)> = HashMap::new();
        for row in &rows {
            let first: String = get(row, "first_name")?;
            let last: String = get(row, "last_name")?;
            let name = format!("{first} {last}").trim().to_string();
            with_role.insert(get(row, "id")?, (name, get(row, "roles")?));
        }
        let pick = |role: CustomerRole| {
            let tag = format!("\"{}\"", role.as_str());
            customers
                .iter()
                .filter_map(|(id, n)| {
                    let (name, roles) = with_role.get(id)?;
                    roles.contains(&tag).then(|| ActiveCustomer {
                        customer_id: id.clone(),
                        name: name.clone(),
                        items: *n,
                    })
                })
                .take(10)
                .collect()
        };
        Ok((pick(CustomerRole::Detractor), pick(CustomerRole::Helper)))
    }

    /// Nearest-rank p50 and p90 of `measure` over the items it ended in the window, by `key`
    /// (an SQL expression; `''` for all) and, with `slice`, by slice of the window.
    async fn latencies(
        &self,
        items: &Items,
        span: Span,
        measure: Measure,
        key: &str,
        slice: Option<i64>,
    ) -> StoreResult<Latencies> {
        let end = measure.column();
        let (since, now) = (items.int(1), items.int(2));
        let bucket = match slice {
            Some(_) => format!("({end} - {since}) / {}", items.int(3)),
            None => "CAST(0 AS BIGINT)".to_string(),
        };
        // rank = ceil(n * p / 100): the first row whose rn * 100 >= n * p.
        let sql = format!(
            "WITH s AS (SELECT {key} AS k, {bucket} AS b, \
               CASE WHEN {end} < f.received_at THEN 0 ELSE ({end} - f.received_at) / {SECOND} END AS d \
               FROM {} WHERE {} AND {end} >= {since} AND {end} < {now} AND {key} IS NOT NULL), \
             r AS (SELECT k, b, d, ROW_NUMBER() OVER (PARTITION BY k, b ORDER BY d) AS rn, \
               COUNT(*) OVER (PARTITION BY k, b) AS n FROM s) \
             SELECT k, b, n, MIN(CASE WHEN rn * 100 >= n * 50 THEN d END) AS p50, \
               MIN(CASE WHEN rn * 100 >= n * 90 THEN d END) AS p90 FROM r GROUP BY k, b, n",
            ranged(self, measure.index()),
            items.filter
        );
        let mut ints = vec![span.since, span.now];
        ints.extend(slice);
        let rows = items.fetch(self, &sql, ints).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    (get::<String>(row, "k")?, get::<i64>(row, "b")?),
                    Latency {
                        count: count(row, "n")?,
                        p50_secs: get(row, "p50")?,
                        p90_secs: get(row, "p90")?,
                    },
                ))
            })
            .collect()
    }

    /// The share of the items due in the window that were not answered (first reply or
    /// resolution) by their due time.
    async fn breach_share(&self, items: &Items, span: Span) -> StoreResult<Option<f64>> {
        let answered = "CASE WHEN f.first_reply_at IS NULL THEN f.resolved_at \
             WHEN f.resolved_at IS NULL OR f.first_reply_at < f.resolved_at THEN f.first_reply_at \
             ELSE f.resolved_at END";
        let (since, until) = (items.int(1), items.int(2));
        let sql = format!(
            "SELECT COUNT(*) AS due, COALESCE(SUM(CASE WHEN ({answered}) IS NULL OR ({answered}) > f.sla_due_at \
             THEN 1 ELSE 0 END), 0) AS late FROM {} \
             WHERE {} AND f.sla_due_at >= {since} AND f.sla_due_at < {until}",
            ranged(self, "feedback_sla_due"),
            items.filter
        );
        let rows = items.fetch(self, &sql, vec![span.since, span.now]).await?;
        match rows.first() {
            Some(row) => Ok(share(count(row, "late")?, count(row, "due")?)),
            None => Ok(None),
        }
    }

    /// The SLA's present state (all but the breach share) and the agents' loads, both from the
    /// items awaiting an answer now (backlog.rs).
    async fn sla_and_loads(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
        items: &Items,
        span: Span,
    ) -> StoreResult<(SlaSummary, Vec<AgentLoad>)> {
        let (awaiting, list, agents) = tokio::try_join!(
            self.awaiting(items, span.now),
            self.breached_rows(q, scope, span.now),
            self.agents_in(q, scope),
        )?;
        let sla = SlaSummary {
            open: awaiting.open,
            breached_now: awaiting.breached,
            due_within_1h: awaiting.due_within_1h,
            due_within_4h: awaiting.due_within_4h,
            due_later: awaiting.open
                - awaiting.breached
                - awaiting.due_within_1h
                - awaiting.due_within_4h,
            breach_share: None,
            breached: list.iter().map(breached_item).collect::<StoreResult<_>>()?,
        };
        let loads = agents
            .into_iter()
            .map(|a| {
                let (open, breached) = awaiting.by_assignee.get(&a.id).copied().unwrap_or_default();
                AgentLoad {
                    agent_id: a.id,
                    name: a.name,
                    availability: a.availability,
                    open,
                    breached,
                }
            })
            .collect();
        Ok((sla, loads))
    }

    async fn volume(&self, items: &Items, span: Span) -> StoreResult<Vec<HourVolume>> {
        let (since, now) = (items.int(1), items.int(2));
        let f = &items.filter;
        let window = ranged(self, "feedback_window");
        let inbound_sql = format!(
            "SELECT (f.received_at - {since}) / {HOUR} AS h, COUNT(*) AS n FROM {window} \
             WHERE {f} AND f.received_at >= {since} AND f.received_at < {now} GROUP BY 1"
        );
        // Without a filter no reply needs its item: the index of replies alone answers.
        let join = match items.everything {
            true => "",
            false => match self.dialect() {
                // The replies' range first: SQLite must not start from the items.
                Dialect::Sqlite => "CROSS JOIN feedback f ON f.id = r.feedback_id",
                Dialect::Postgres => "JOIN feedback f ON f.id = r.feedback_id",
            },
        };
        let replies_sql = format!(
            "SELECT (r.created_at - {since}) / {HOUR} AS h, COUNT(*) AS n FROM replies r {join} \
             WHERE {f} AND r.created_at >= {since} AND r.created_at < {now} GROUP BY 1"
        );
        let ints = vec![span.since, span.now];
        let (inbound, replies) = tokio::try_join!(
            items.fetch(self, &inbound_sql, ints.clone()),
            items.fetch(self, &replies_sql, ints),
        )?;
        let hours = periods(span.since, span.now, HOUR);
        let mut volume: Vec<HourVolume> = (0..hours)
            .map(|h| HourVolume {
                hour: micros_to_time(span.since + h * HOUR),
                inbound: 0,
                replies: 0,
            })
            .collect();
        for (rows, inbound) in [(&inbound, true), (&replies, false)] {
            for row in rows {
                let h = get::<i64>(row, "h")?;
                if let Some(v) = usize::try_from(h).ok().and_then(|h| volume.get_mut(h)) {
                    let n = count(row, "n")?;
                    if inbound {
                        v.inbound = n;
                    } else {
                        v.replies = n;
                    }
                }
            }
        }
        Ok(volume)
    }

    /// Sentiment per day and channel, and per day the share of items whose author is linked.
    async fn days(
        &self,
        items: &Items,
        span: Span,
    ) -> StoreResult<(Vec<DaySentiment>, Vec<Option<f64>>)> {
        let (since, now) = (items.int(1), items.int(2));
        let sql = format!(
            "SELECT (f.received_at - {since}) / {DAY} AS d, f.channel, f.sentiment_label AS label, \
             COUNT(*) AS n, SUM(f.sentiment) AS total, \
             COALESCE(SUM(CASE WHEN f.customer_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS linked \
             FROM {} WHERE {} AND f.received_at >= {since} AND f.received_at < {now} \
             GROUP BY 1, 2, 3",
            ranged(self, "feedback_window"),
            items.filter
        );
        let rows = items.fetch(self, &sql, vec![span.since, span.now]).await?;
        let days = periods(span.since, span.now, DAY);
        let mut per_day = vec![(0u64, 0u64); days as usize];
        let mut by_day: std::collections::BTreeMap<(i64, Channel), (DaySentiment, f64)> =
            Default::default();
        for row in &rows {
            let d: i64 = get(row, "d")?;
            let channel: Channel = super::rows::parse(row, "channel")?;
            let label: SentimentLabel = super::rows::parse(row, "label")?;
            let n = count(row, "n")?;
            let total: f64 = get(row, "total")?;
            if let Some(p) = usize::try_from(d).ok().and_then(|d| per_day.get_mut(d)) {
                p.0 += n;
                p.1 += count(row, "linked")?;
            }
            let (day, sum) = by_day.entry((d, channel)).or_insert_with(|| {
                (
                    DaySentiment {
                        day: micros_to_time(span.since + d * DAY),
                        channel,
                        negative: 0,
                        neutral: 0,
                        positive: 0,
                        mean: None,
                    },
                    0.0,
                )
            });
            match label {
                SentimentLabel::Negative => day.negative += n,
                SentimentLabel::Neutral => day.neutral += n,
                SentimentLabel::Positive => day.positive += n,
            }
            *sum += total;
        }
        let sentiment = by_day
            .into_values()
            .map(|(mut day, sum)| {
                let n = day.negative + day.neutral + day.positive;
                day.mean = (n > 0).then(|| sum / n as f64);
                day
            })
            .collect();
        let linked = per_day.into_iter().map(|(n, l)| share(l, n)).collect();
        Ok((sentiment, linked))
    }

    /// The organisation's linked-identity share at the end of each day of the window.
    async fn identity_shares(&self, span: Span) -> StoreResult<Vec<(DateTime<Utc>, Option<f64>)>> {
        let before = |col: &str| format!("SELECT COUNT(*) AS n FROM identities WHERE {col} < $1");
        let per_day = |col: &str| {
            format!(
                "SELECT ({col} - $1) / {DAY} AS d, COUNT(*) AS n FROM identities \
                 WHERE {col} >= $1 AND {col} < $2 GROUP BY 1"
            )
        };
        let run = |sql: String, ints: Vec<i64>| async move {
            let mut query = sqlx::query(&sql);
            for i in ints {
                query = query.bind(i);
            }
            query.fetch_all(self.reader()).await
        };
        let (seen0, linked0, seen, linked) = tokio::try_join!(
            run(before("first_seen_at"), vec![span.since]),
            run(before("linked_at"), vec![span.since]),
            run(per_day("first_seen_at"), vec![span.since, span.now]),
            run(per_day("linked_at"), vec![span.since, span.now]),
        )?;
        let days = periods(span.since, span.now, DAY) as usize;
        let cumulative = |base: &[AnyRow], rows: &[AnyRow]| -> StoreResult<Vec<u64>> {
            let mut per = vec![0u64; days];
            for row in rows {
                let d: i64 = get(row, "d")?;
                if let Some(p) = usize::try_from(d).ok().and_then(|d| per.get_mut(d)) {
                    *p += count(row, "n")?;
                }
            }
            let mut total = match base.first() {
                Some(row) => count(row, "n")?,
                None => 0,
            };
            Ok(per
                .into_iter()
                .map(|n| {
                    total += n;
                    total
                })
                .collect())
        };
        let seen = cumulative(&seen0, &seen)?;
        let linked = cumulative(&linked0, &linked)?;
        Ok((0..days)
            .map(|d| {
                let at = (span.since + (d as i64 + 1) * DAY).min(span.now);
                (micros_to_time(at), share(linked[d], seen[d]))
            })
            .collect())
    }

    /// Customers with `role`, by their items in the window, most active first (at most 10).
    async fn active_customers(
        &self,
        items: &Items,
        span: Span,
        role: CustomerRole,
    ) -> StoreResult<Vec<ActiveCustomer>> {
        let (since, now) = (items.int(1), items.int(2));
        // The window's items first: SQLite must not start from the customers.
        let join = match self.dialect() {
            Dialect::Sqlite => "CROSS JOIN",
            Dialect::Postgres => "JOIN",
        };
        // The role is one of ours (no quote can be in it); roles are stored as a JSON list.
        let sql = format!(
            "SELECT c.id, c.first_name, c.last_name, COUNT(*) AS n FROM {} \
             {join} customers c ON c.id = f.customer_id \
             WHERE {} AND f.received_at >= {since} AND f.received_at < {now} AND c.roles LIKE '%\"{}\"%' \
             GROUP BY c.id, c.first_name, c.last_name ORDER BY n DESC, c.id LIMIT 10",
            ranged(self, "feedback_window"),
            items.filter,
            role.as_str()
        );
        items
            .fetch(self, &sql, vec![span.since, span.now])
            .await?
            .iter()
            .map(|row| {
                let first: String = get(row, "first_name")?;
                let last: String = get(row, "last_name")?;
                Ok(ActiveCustomer {
                    customer_id: get(row, "id")?,
                    name: format!("{first} {last}").trim().to_string(),
                    items: count(row, "n")?,
                })
            })
            .collect()
    }

    /// The departments in scope (narrowed to the query's), by id.
    async fn departments_in(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(self
            .departments()
            .await?
            .into_iter()
            .filter(|d| scope.allows(&d.id) && q.department.as_ref().is_none_or(|x| *x == d.id))
            .map(|d| (d.id, d.name))
            .collect())
    }

    async fn agent_names(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT id, name FROM agents")
            .fetch_all(self.reader())
            .await?)
    }

    /// The non-admin agents of the departments in scope (narrowed to the query's), by name.
    async fn agents_in(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
    ) -> StoreResult<Vec<Agent>> {
        let departments: Vec<String> = self
            .departments_in(q, scope)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut agents: Vec<Agent> = self
            .agents()
            .await?
            .into_iter()
            .filter(|a| a.role != AgentRole::Admin)
            .filter(|a| a.departments.iter().any(|d| departments.contains(d)))
            .filter(|a| q.agent.as_ref().is_none_or(|x| *x == a.id))
            .collect();
        agents.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(agents)
    }
}

fn breached_item(row: &AnyRow) -> StoreResult<BreachedItem> {
    Ok(BreachedItem {
        feedback_id: get(row, "id")?,
        department: get(row, "department")?,
        assignee: get(row, "assignee")?,
        channel: super::rows::parse(row, "channel")?,
        priority: super::rows::parse(row, "priority")?,
        sla_due_at: super::rows::time(row, "sla_due_at")?,
        author_handle: get(row, "handle")?,
        excerpt: excerpt(&get::<String>(row, "text")?),
    })
}

/// The keys of either measure's groups, sorted.
fn keys(a: &Latencies, b: &Latencies) -> Vec<String> {
    let mut keys: Vec<String> = a.keys().chain(b.keys()).map(|(k, _)| k.clone()).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn group(key: &str, name: &str, fr: &Latencies, res: &Latencies) -> GroupLatency {
    let at = (key.to_string(), 0);
    GroupLatency {
        key: key.to_string(),
        name: name.to_string(),
        first_response: fr.get(&at).copied().unwrap_or_default(),
        resolution: res.get(&at).copied().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_one_line_of_at_most_80_characters() {
        assert_eq!(excerpt("  two\nlines\t here "), "two lines here");
        let long = "é".repeat(200);
        assert_eq!(excerpt(&long).chars().count(), 80);
    }

    #[test]
    fn filters_number_their_placeholders_after_the_scope() {
        let q = MetricsQuery {
            department: Some("support".into()),
            agent: Some("ag_a".into()),
            channel: Some(Channel::X),
            ..Default::default()
        };
        let items = Items::new(
            &q,
            &DepartmentScope::only(&["support".into(), "billing".into()]),
        );
        assert_eq!(
            items.filter,
            "f.department IN ($1,$2) AND f.department = $3 AND f.assignee = $4 AND f.channel = $5"
        );
        assert_eq!(items.int(1), "$6");
        assert_eq!(items.texts, ["support", "billing", "support", "ag_a", "x"]);
    }
}
