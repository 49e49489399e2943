//! The queue (`GET /v1/feedback`): newest first, keyset-paginated, and every page read in index
//! order, whatever the caller's role and filter, so that no page sorts the rows below its
//! cursor (a full load then costs as many index steps as it returns items).
//!
//! Each filter picks one index that holds its rows in `(received_at, id)` order (`Walk`); what
//! the index does not cover is checked on the rows as the walk passes them. A scope of several
//! departments is one walk per department, merged by the database (SQLite's `MERGE (UNION
//! ALL)` of co-routines, PostgreSQL's `Merge Append`), which reads only the rows that reach the
//! page. On SQLite the walk's index is named (`INDEXED BY`): its planner has no statistics and
//! would otherwise read `department IN (...)` through an index and sort. PostgreSQL plans from
//! its statistics.
//!
//! Text search (`q`, see search.rs) goes through the stores' own text indexes, but neither
//! planner can tell how many items a word matches (FTS5 gives no estimate; PostgreSQL's for a
//! prefix it has no statistics on made it walk every row for a word that matches nothing), so
//! the choice is made here, the same on both: the walk checks at most `SCAN_BUDGET` rows for
//! the words (a common word fills a page within them); when those hold less than a page, the
//! page comes from the text index's matches (FTS5, or the GIN index), sorted: a word that rare
//! has few of them.

use super::db::{Dialect, Store};
use super::error::StoreResult;
use super::feedback::FeedbackFilter;
use super::rows::{self, feedback_columns, one_page};
use super::search::TextQuery;
use crate::domain::Feedback;

/// Most departments merged walk by walk; a scope of more walks every item and filters.
const MAX_MERGED: usize = 32;
/// Rows a SQLite text search checks in queue order before it asks the FTS5 index.
pub const SCAN_BUDGET: i64 = 4096;

/// The index a page walks, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Every item: `(received_at, id)`.
    Received,
    /// Every item of a status: `(status, received_at, id)`.
    Status,
    /// One department: `(department, received_at, id)`.
    Department,
    /// One department's items of a status: `(department, status, received_at, id)`.
    DepartmentStatus,
    /// One agent's items, or the unassigned ones: `(assignee, received_at, id)`.
    Assignee,
    /// One customer's items: `(customer_id, received_at, id)`.
    Customer,
}

impl Walk {
    pub fn index(self) -> &'static str {
        match self {
            Walk::Received => "feedback_received",
            Walk::Status => "feedback_status",
            Walk::Department => "feedback_queue",
            Walk::DepartmentStatus => "feedback_queue_status",
            Walk::Assignee => "feedback_assignee_queue",
            Walk::Customer => "feedback_customer",
        }
    }
}

/// How a filter is read: the index, and the department of each merged walk (none: one walk
/// with the departments, if any, checked per row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub walk: Walk,
    pub arms: Vec<String>,
}

impl Plan {
    /// The most selective index that still yields queue order: a customer's or an agent's
    /// items are few next to a department's, so those walks check the departments per row.
    pub fn of(filter: &FeedbackFilter) -> Plan {
        let one_walk = |walk| Plan {
            walk,
            arms: Vec::new(),
        };
        if filter.customer_id.is_some() {
            return one_walk(Walk::Customer);
        }
        if filter.assignee.is_some() {
            return one_walk(Walk::Assignee);
        }
        match &filter.departments {
            Some(list) if list.len() <= MAX_MERGED => Plan {
                walk: if filter.status.is_some() {
                    Walk::DepartmentStatus
                } else {
                    Walk::Department
                },
                arms: list.clone(),
            },
            _ if filter.status.is_some() => one_walk(Walk::Status),
            _ => one_walk(Walk::Received),
        }
    }
}

/// The columns a page returns, plus the sort key under names a compound ORDER BY can use.
fn page_columns(dialect: Dialect) -> String {
    format!(
        "{}, f.received_at AS k_at, f.id AS k_id",
        feedback_columns(dialect)
    )
}

const ORDER: &str = "ORDER BY f.received_at DESC, f.id DESC";

impl Store {
    /// One page of the queue, newest first.
    pub async fn list_feedback(&self, filter: &FeedbackFilter) -> StoreResult<Vec<Feedback>> {
        if filter.departments.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        match filter.q.as_deref().and_then(TextQuery::parse) {
            None => self.fetch(walk_query(self.dialect(), filter)).await,
            Some(t) if t.is_empty() => Ok(Vec::new()),
            Some(t) => {
                let page = self
                    .fetch(scan_query(self.dialect(), filter, &t, SCAN_BUDGET))
                    .await?;
                if page.len() as i64 >= filter.limit {
                    return Ok(page);
                }
                self.fetch(index_query(self.dialect(), filter, &t)).await
            }
        }
    }

    /// The `EXPLAIN` (PostgreSQL) or `EXPLAIN QUERY PLAN` (SQLite) of the statements a page of
    /// `filter` runs, as text (tests assert the indexes): the walk, or with `q` the scan of
    /// common words and the text index's query for rare ones. `no_seq_scan` plans PostgreSQL as
    /// for a table too big to read whole (`enable_seqscan = off` for this transaction only).
    pub async fn explain_list(
        &self,
        filter: &FeedbackFilter,
        no_seq_scan: bool,
    ) -> StoreResult<Vec<String>> {
        let d = self.dialect();
        let queries = match filter.q.as_deref().and_then(TextQuery::parse) {
            None => vec![walk_query(d, filter)],
            Some(t) => vec![
                scan_query(d, filter, &t, SCAN_BUDGET),
                index_query(d, filter, &t),
            ],
        };
        let (prefix, column) = match d {
            Dialect::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
            Dialect::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        };
        let mut tx = self.reader().begin().await?;
        if no_seq_scan && d == Dialect::Postgres {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await?;
        }
        let mut plans = Vec::new();
        for q in queries {
            let sql = format!("{prefix}{}", q.sql);
            let rows = q.bind_all(sqlx::query(&sql)).fetch_all(&mut *tx).await?;
            let lines: Vec<String> = rows
                .iter()
                .map(|r| rows::get::<String>(r, column))
                .collect::<StoreResult<_>>()?;
            plans.push(lines.join("\n"));
        }
        tx.rollback().await?;
        Ok(plans)
    }

    /// The items of a page's statement (one row: see [`rows::one_page`]).
    async fn fetch(&self, q: SqlBuilder) -> StoreResult<Vec<Feedback>> {
        let row = q
            .bind_all(sqlx::query(&q.sql))
            .fetch_one(self.reader())
            .await?;
        rows::page(&row, self.dialect())
    }
}

/// The conditions every walk of `filter` checks (all but a merged walk's own department).
fn conditions(q: &mut SqlBuilder, filter: &FeedbackFilter, plan: &Plan) -> Vec<String> {
    let mut conds = Vec::new();
    if let (Some(depts), true) = (&filter.departments, plan.arms.is_empty()) {
        let marks: Vec<String> = depts.iter().map(|d| q.text(d)).collect();
        conds.push(format!("f.department IN ({})", marks.join(",")));
    }
    if let Some(status) = filter.status {
        conds.push(format!("f.status = {}", q.text(status.as_str())));
    }
    match &filter.assignee {
        Some(Some(agent)) => conds.push(format!("f.assignee = {}", q.text(agent))),
        Some(None) => conds.push("f.assignee IS NULL".into()),
        None => {}
    }
    if let Some(channel) = filter.channel {
        conds.push(format!("f.channel = {}", q.text(channel.as_str())));
    }
    if let Some(c) = &filter.customer_id {
        conds.push(format!("f.customer_id = {}", q.text(c)));
    }
    if let Some((at, id)) = &filter.before {
        let at = q.int(*at);
        let id = q.text(id);
        conds.push(format!("(f.received_at, f.id) < ({at}, {id})"));
    }
    conds
}

/// The walk of `filter` in queue order, `select`ed, at most `limit` rows: one SELECT, or one
/// per department merged by a compound ORDER BY.
fn walk_sql(
    dialect: Dialect,
    q: &mut SqlBuilder,
    filter: &FeedbackFilter,
    select: &str,
    limit: i64,
) -> String {
    let plan = Plan::of(filter);
    let shared = conditions(q, filter, &plan);
    let limit = q.int(limit);
    let from = walked_from(dialect, plan.walk.index());
    let select_one = |extra: Option<String>| {
        let conds: Vec<&str> = extra
            .iter()
            .chain(shared.iter())
            .map(String::as_str)
            .collect();
        let wh = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        format!("SELECT {select} FROM {from} JOIN identities i ON i.id = f.author_identity_id{wh}")
    };
    if plan.arms.len() <= 1 {
        let extra = plan
            .arms
            .first()
            .map(|d| format!("f.department = {}", q.text(d)));
        return format!("{} {ORDER} LIMIT {limit}", select_one(extra));
    }
    let arms: Vec<String> = plan
        .arms
        .iter()
        .map(|d| select_one(Some(format!("f.department = {}", q.text(d)))))
        .collect();
    merge_walks(
        dialect,
        arms,
        ORDER,
        "ORDER BY k_at DESC, k_id DESC",
        &limit,
    )
}

/// `feedback f` for a walk of `index`; on SQLite with the index named (its planner has no
/// statistics and would pick another).
pub(super) fn walked_from(dialect: Dialect, index: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("feedback f INDEXED BY {index}"),
        Dialect::Postgres => "feedback f".to_string(),
    }
}

/// Walks of one index, one per department, merged into one result in `outer_order` (the same
/// order as `arm_order`, written with the arms' output names) and cut at `limit`. SQLite merges
/// compound arms in the outer ORDER BY's order by itself; PostgreSQL is given each arm sorted
/// and limited, which it merges (Merge Append).
pub(super) fn merge_walks(
    dialect: Dialect,
    arms: Vec<String>,
    arm_order: &str,
    outer_order: &str,
    limit: &str,
) -> String {
    let arms: Vec<String> = arms
        .into_iter()
        .map(|arm| match dialect {
            Dialect::Sqlite => arm,
            Dialect::Postgres => format!("({arm} {arm_order} LIMIT {limit})"),
        })
        .collect();
    format!("{} {outer_order} LIMIT {limit}", arms.join(" UNION ALL "))
}

fn walk_query(dialect: Dialect, filter: &FeedbackFilter) -> SqlBuilder {
    let mut q = SqlBuilder::default();
    let walk = walk_sql(
        dialect,
        &mut q,
        filter,
        &page_columns(dialect),
        filter.limit,
    );
    q.sql = one_page(dialect, &walk);
    q
}

/// The items the `keys` subquery names (at most a page), in queue order.
fn rows_of(dialect: Dialect, keys: String) -> String {
    format!(
        "SELECT {} FROM feedback f JOIN identities i ON i.id = f.author_identity_id \
         WHERE f.id IN ({keys}) {ORDER}",
        page_columns(dialect)
    )
}

/// Common words: the first `budget` rows of the walk, checked for the words (SQLite: `instr`
/// over the stored words; PostgreSQL: the row's tsvector against the tsquery).
fn scan_query(
    dialect: Dialect,
    filter: &FeedbackFilter,
    text: &TextQuery,
    budget: i64,
) -> SqlBuilder {
    let mut q = SqlBuilder::default();
    let (words, checks) = match dialect {
        Dialect::Sqlite => {
            let checks: Vec<String> = text
                .spaced_words()
                .map(|w| format!("instr(' ' || c.s, {}) > 0", q.text(&w)))
                .collect();
            ("f.search_text", checks.join(" AND "))
        }
        Dialect::Postgres => (
            "f.search",
            format!("c.s @@ {}::tsquery", q.text(&text.tsquery())),
        ),
    };
    let walk = walk_sql(
        dialect,
        &mut q,
        filter,
        &format!("f.id AS k_id, f.received_at AS k_at, {words} AS s"),
        budget,
    );
    let limit = q.int(filter.limit);
    let rows = rows_of(dialect, format!(
        "SELECT c.k_id FROM ({walk}) c WHERE {checks} ORDER BY c.k_at DESC, c.k_id DESC LIMIT {limit}"
    ));
    q.sql = one_page(dialect, &rows);
    q
}

/// Rare words: the text index's matches (FTS5, or the GIN index), checked for the filter, the
/// newest page of them. PostgreSQL reads the matches in a materialised CTE, so that its
/// planner cannot turn the query back into a walk that checks every row.
fn index_query(dialect: Dialect, filter: &FeedbackFilter, text: &TextQuery) -> SqlBuilder {
    let mut q = SqlBuilder::default();
    let all = Plan {
        walk: Walk::Received,
        arms: Vec::new(),
    };
    let matches = match dialect {
        Dialect::Sqlite => format!("s.feedback_fts MATCH {}", q.text(&text.fts5())),
        Dialect::Postgres => format!("f.search @@ {}::tsquery", q.text(&text.tsquery())),
    };
    let mut conds = vec![matches];
    conds.extend(conditions(&mut q, filter, &all));
    let conds = conds.join(" AND ");
    let limit = q.int(filter.limit);
    let rows = match dialect {
        Dialect::Sqlite => rows_of(
            dialect,
            format!(
                "SELECT f.id FROM feedback_fts s CROSS JOIN feedback f ON f.rowid = s.rowid \
             WHERE {conds} {ORDER} LIMIT {limit}"
            ),
        ),
        Dialect::Postgres => format!(
            "WITH m AS MATERIALIZED (SELECT f.id, f.received_at FROM feedback f WHERE {conds}) {}",
            rows_of(
                dialect,
                format!("SELECT m.id FROM m ORDER BY m.received_at DESC, m.id DESC LIMIT {limit}")
            )
        ),
    };
    q.sql = one_page(dialect, &rows);
    q
}

enum QueryArg {
    Text(String),
    Int(i64),
}

/// SQL text with numbered `$N` placeholders and the values that go with them (a placeholder
/// may be used more than once: every merged walk shares the filter's).
#[derive(Default)]
struct SqlBuilder {
    sql: String,
    args: Vec<QueryArg>,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl SqlBuilder {
    fn push(&mut self, value: QueryArg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    fn text(&mut self, value: &str) -> String {
        self.push(QueryArg::Text(value.to_string()))
    }

    fn int(&mut self, value: i64) -> String {
        self.push(QueryArg::Int(value))
    }

    fn bind_all<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        for a in &self.args {
            query = match a {
                QueryArg::Text(s) => query.bind(s.clone()),
                QueryArg::Int(i) => query.bind(*i),
            };
        }
        query
    }
}
