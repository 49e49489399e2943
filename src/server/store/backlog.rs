//! The present state of the open work in the team summary: the items awaiting an answer by
//! time left, the breached list, the queue by status and priority, each agent's open load.
//! These cover the whole backlog whatever the window, and a heavy backlog is hundreds of
//! thousands of overdue items, so none of them reads the backlog item by item (issue 14's
//! target, migration 0010):
//!
//! - Counts of items by status come from `feedback_tally` on SQLite (a row per department,
//!   assignee, channel, status and priority, kept by triggers on every write); PostgreSQL,
//!   which has no tally (see its 0010), counts the items through the partial indexes.
//! - What is overdue is what awaits less what is not yet due, and what is not yet due is the
//!   end of the partial index `feedback_awaiting` in due order: at most an SLA's worth of intake.
//! - The breached list walks items awaiting an answer in due order and stops at 50: one walk
//!   of an index per department of the scope (or for the agent, or for everything), merged by
//!   the database as the queue's walks are (queue.rs). On SQLite the index is named
//!   (`INDEXED BY`): without statistics its planner read `feedback_sla` as one run per status
//!   and sorted every overdue item.

use super::db::{Dialect, Store};
use super::error::StoreResult;
use super::metrics::Items;
use super::queue::{merge_walks, walked_from};
use super::rows::get;
use super::scope::DepartmentScope;
use crate::domain::metrics::*;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// Statuses of items awaiting an answer (what routing counts as load, what an SLA runs on),
/// written as the partial indexes' condition is, so that both planners may use them.
pub(super) const AWAITING: &str = "f.status IN ('new','open','pending')";
/// Items in the breached list at most.
const BREACHED_LIST: i64 = 50;
/// Most departments merged walk by walk; a scope of more walks every awaiting item.
const MAX_MERGED: usize = 32;
const HOUR: i64 = 3_600 * 1_000_000;

/// The items awaiting an answer: in all (with time left by band), and per assignee.
#[derive(Debug, Default)]
pub(super) struct Awaiting {
    pub open: u64,
    pub breached: u64,
    pub due_within_1h: u64,
    pub due_within_4h: u64,
    /// Open and breached items per agent.
    pub by_assignee: HashMap<String, (u64, u64)>,
}

/// Where items are counted, as `FROM` and the count of a row: SQLite's tally holds `n` items a
/// row; PostgreSQL counts the items (awaiting ones through the partial indexes).
fn counted(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        Dialect::Sqlite => ("feedback_tally f", "SUM(f.n)"),
        Dialect::Postgres => ("feedback f", "COUNT(*)"),
    }
}

/// The unassigned items have no agent: NULL in `feedback`, `''` in the tally.
fn agent_of(row: &AnyRow) -> StoreResult<Option<String>> {
    Ok(get::<Option<String>>(row, "a")?.filter(|a| !a.is_empty()))
}

fn count(row: &AnyRow, col: &str) -> StoreResult<u64> {
    Ok(get::<i64>(row, col)?.max(0) as u64)
}

impl Store {
    /// The items of `items` awaiting an answer at `now`.
    pub(super) async fn awaiting(&self, items: &Items, now: i64) -> StoreResult<Awaiting> {
        let (from, n) = counted(self.dialect());
        let f = &items.filter;
        let open_sql = format!(
            "SELECT f.assignee AS a, COALESCE({n}, 0) AS n FROM {from} \
             WHERE {f} AND {AWAITING} GROUP BY f.assignee"
        );
        let (at, in_1h, in_4h) = (items.int(1), items.int(2), items.int(3));
        let not_due_sql = format!(
            "SELECT f.assignee AS a, COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN f.sla_due_at < {in_1h} THEN 1 ELSE 0 END), 0) AS h1, \
             COALESCE(SUM(CASE WHEN f.sla_due_at >= {in_1h} AND f.sla_due_at < {in_4h} THEN 1 ELSE 0 END), 0) AS h4 \
             FROM {} WHERE {f} AND {AWAITING} AND f.sla_due_at >= {at} GROUP BY f.assignee",
            walked_from(self.dialect(), "feedback_awaiting")
        );
        let (open, not_due) = tokio::try_join!(
            items.fetch(self, &open_sql, Vec::new()),
            items.fetch(self, &not_due_sql, vec![now, now + HOUR, now + 4 * HOUR]),
        )?;
        let mut all = Awaiting::default();
        let mut per: HashMap<Option<String>, (u64, u64)> = HashMap::new();
        for row in &open {
            let n = count(row, "n")?;
            all.open += n;
            per.entry(agent_of(row)?).or_default().0 += n;
        }
        let mut not_due_total = 0;
        for row in &not_due {
            let n = count(row, "n")?;
            not_due_total += n;
            all.due_within_1h += count(row, "h1")?;
            all.due_within_4h += count(row, "h4")?;
            per.entry(agent_of(row)?).or_default().1 += n;
        }
        all.breached = all.open.saturating_sub(not_due_total);
        all.by_assignee = per
            .into_iter()
            .filter_map(|(a, (open, not_due))| Some((a?, (open, open.saturating_sub(not_due)))))
            .collect();
        Ok(all)
    }

    /// Open work (every status but `resolved`) by status and priority, zero counts left out.
    pub(super) async fn queue_counts(&self, items: &Items) -> StoreResult<Vec<QueueCount>> {
        let (from, n) = counted(self.dialect());
        let sql = format!(
            "SELECT f.status, f.priority, {n} AS n FROM {from} \
             WHERE {} AND f.status <> 'resolved' GROUP BY f.status, f.priority",
            items.filter
        );
        let mut queue = Vec::new();
        for row in items.fetch(self, &sql, Vec::new()).await? {
            let count = count(&row, "n")?;
            if count > 0 {
                queue.push(QueueCount {
                    status: super::rows::parse(&row, "status")?,
                    priority: super::rows::parse(&row, "priority")?,
                    count,
                });
            }
        }
        queue.sort_by_key(|c| (c.status, c.priority));
        Ok(queue)
    }

    /// The rows of the breached list: items awaiting an answer past their due time at `now`,
    /// longest overdue first (then by id), at most [`BREACHED_LIST`].
    pub(super) async fn breached_rows(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
        now: i64,
    ) -> StoreResult<Vec<AnyRow>> {
        let (items, sql) = breached_sql(self.dialect(), q, scope);
        items.fetch(self, &sql, vec![now, BREACHED_LIST]).await
    }

    /// `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) of the breached list, as text
    /// (tests assert that no step sorts the overdue items).
    pub async fn explain_breached(
        &self,
        q: &MetricsQuery,
        scope: &DepartmentScope,
    ) -> StoreResult<String> {
        let (items, sql) = breached_sql(self.dialect(), q, scope);
        let (prefix, column) = match self.dialect() {
            Dialect::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
            Dialect::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        };
        let rows = items
            .fetch(
                self,
                &format!("{prefix}{sql}"),
                vec![self.now(), BREACHED_LIST],
            )
            .await?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| get::<String>(r, column))
            .collect::<StoreResult<_>>()?;
        Ok(lines.join("\n"))
    }
}

/// The walks of the breached list: the agent's items, or one per department of the scope, or
/// every awaiting item.
fn breached_walks(q: &MetricsQuery, scope: &DepartmentScope) -> (&'static str, Vec<String>) {
    if q.agent.is_some() {
        return ("feedback_awaiting_assignee", Vec::new());
    }
    let departments = match (&q.department, scope) {
        (Some(d), _) => vec![d.clone()],
        (None, DepartmentScope::Only(list)) if list.len() <= MAX_MERGED => list.clone(),
        _ => Vec::new(),
    };
    match departments.is_empty() {
        true => ("feedback_awaiting", Vec::new()),
        false => ("feedback_awaiting_department", departments),
    }
}

/// The breached list's SQL with its arguments (the filters' texts and the arms' departments;
/// then `now` and the limit as integers).
fn breached_sql(dialect: Dialect, q: &MetricsQuery, scope: &DepartmentScope) -> (Items, String) {
    let mut items = Items::new(q, scope);
    let (index, arms) = breached_walks(q, scope);
    let arm_marks: Vec<String> = arms.iter().map(|d| items.text(d)).collect();
    let (now, limit) = (items.int(1), items.int(2));
    // SQLite must not reorder the join: the walk of `feedback` is what gives the order.
    let join = match dialect {
        Dialect::Sqlite => "CROSS JOIN",
        Dialect::Postgres => "JOIN",
    };
    let select = |department: Option<&String>| {
        let arm = department.map_or(String::new(), |d| format!(" AND f.department = {d}"));
        format!(
            "SELECT f.id AS id, f.department, f.assignee, f.channel, f.priority, \
             f.sla_due_at AS sla_due_at, i.handle, SUBSTR(f.text, 1, 400) AS text \
             FROM {} {join} identities i ON i.id = f.author_identity_id \
             WHERE {}{arm} AND {AWAITING} AND f.sla_due_at < {now}",
            walked_from(dialect, index),
            items.filter
        )
    };
    const ORDER: &str = "ORDER BY sla_due_at, id";
    let sql = if arm_marks.len() <= 1 {
        format!("{} {ORDER} LIMIT {limit}", select(arm_marks.first()))
    } else {
        let arms: Vec<String> = arm_marks.iter().map(|d| select(Some(d))).collect();
        merge_walks(dialect, arms, ORDER, ORDER, &limit)
    };
    (items, sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breached_list_walks_the_agent_the_departments_or_everything() {
        let all = MetricsQuery::default();
        assert_eq!(
            breached_walks(&all, &DepartmentScope::All),
            ("feedback_awaiting", vec![])
        );
        let two = DepartmentScope::only(&["a".into(), "b".into()]);
        assert_eq!(
            breached_walks(&all, &two),
            ("feedback_awaiting_department", vec!["a".into(), "b".into()])
        );
        let one = MetricsQuery {
            department: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(
            breached_walks(&one, &two),
            ("feedback_awaiting_department", vec!["b".into()])
        );
        let agent = MetricsQuery {
            agent: Some("ag_a".into()),
            ..Default::default()
        };
        assert_eq!(
            breached_walks(&agent, &two),
            ("feedback_awaiting_assignee", vec![])
        );
    }

    #[test]
    fn merged_arms_bind_their_departments_after_the_filters() {
        let two = DepartmentScope::only(&["a".into(), "b".into()]);
        let (items, sql) = breached_sql(Dialect::Sqlite, &MetricsQuery::default(), &two);
        assert_eq!(items.texts, ["a", "b", "a", "b"]);
        assert!(sql.contains("f.department = $3") && sql.contains("f.department = $4"));
        assert!(sql.contains("f.sla_due_at < $5") && sql.ends_with("LIMIT $6"));
        assert_eq!(
            sql.matches("INDEXED BY feedback_awaiting_department")
                .count(),
            2
        );
    }
}
