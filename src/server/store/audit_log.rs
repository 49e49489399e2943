//! Reading the audit log back (`GET /v1/audit`, `earshot audit`), newest first, keyset-paginated
//! on the entry id (ids only grow, so a page boundary never moves).
//!
//! What a supervisor may read ([`AuditScope::Departments`]): entries about the objects of their
//! departments (an item, a reply to one, an agent who works there, the department itself), and
//! entries by the (non-admin) agents of their departments unless the entry is about an item or a
//! reply of another department. Admins read everything.

use super::db::Store;
use super::error::StoreResult;
use super::rows::get;
use super::time::micros_to_time;
use crate::domain::api::AuditEntry;

/// Whose entries a reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    All,
    Departments(Vec<String>),
}

/// Filters of the audit read-out; every one given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The acting agent's id.
    pub actor: Option<String>,
    /// The start of the action (`agent.` matches `agent.add` and `agent.revoke`).
    pub action_prefix: Option<String>,
    /// The object's id, exactly.
    pub object: Option<String>,
    /// Entries at or after this time (microseconds).
    pub since: Option<i64>,
    /// Entries before this time (microseconds).
    pub until: Option<i64>,
    /// Entries older than this id (the page cursor).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// `%` and `_` are LIKE wildcards; a prefix filter means them literally.
fn like_prefix(prefix: &str) -> String {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("{escaped}%")
}

/// A value bound to a numbered placeholder.
enum Arg {
    Text(String),
    Int(i64),
}

/// SQL text with `$N` placeholders and their values, in order.
#[derive(Default)]
struct Query {
    sql: String,
    args: Vec<Arg>,
}

impl Query {
    /// Adds a value and returns its placeholder.
    fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }
}

impl Store {
    pub async fn audit_log(
        &self,
        scope: &AuditScope,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditEntry>> {
        let mut q = Query {
            sql: "SELECT a.id, a.at, a.agent_id, a.action, a.target, a.outcome, a.detail \
                  FROM audit_log a WHERE 1=1"
                .into(),
            args: Vec::new(),
        };
        if let AuditScope::Departments(departments) = scope {
            if departments.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = departments
                .iter()
                .map(|d| q.arg(Arg::Text(d.clone())))
                .collect();
            // The same placeholders are used several times (both drivers allow it).
            let mine = marks.join(",");
            let items = |cond: &str| {
                format!(
                    "(SELECT f.id FROM feedback f WHERE f.department {cond} ({mine}) \
                     UNION SELECT r.id FROM replies r JOIN feedback f ON f.id = r.feedback_id \
                     WHERE f.department {cond} ({mine}))"
                )
            };
            q.sql.push_str(&format!(
                " AND (a.target IN {ours} \
                   OR a.target IN (SELECT d.agent_id FROM agent_departments d WHERE d.department_id IN ({mine})) \
                   OR a.target IN ({mine}) \
                   OR (a.agent_id IN (SELECT d.agent_id FROM agent_departments d JOIN agents g ON g.id = d.agent_id \
                                      WHERE g.role <> 'admin' AND d.department_id IN ({mine})) \
                       AND a.target NOT IN {theirs}))",
                ours = items("IN"),
                theirs = items("NOT IN"),
            ));
        }
        if let Some(actor) = &filter.actor {
            let p = q.arg(Arg::Text(actor.clone()));
            q.sql.push_str(&format!(" AND a.agent_id = {p}"));
        }
        if let Some(prefix) = &filter.action_prefix {
            let p = q.arg(Arg::Text(like_prefix(prefix)));
            q.sql
                .push_str(&format!(" AND a.action LIKE {p} ESCAPE '\\'"));
        }
        if let Some(object) = &filter.object {
            let p = q.arg(Arg::Text(object.clone()));
            q.sql.push_str(&format!(" AND a.target = {p}"));
        }
        if let Some(since) = filter.since {
            let p = q.arg(Arg::Int(since));
            q.sql.push_str(&format!(" AND a.at >= {p}"));
        }
        if let Some(until) = filter.until {
            let p = q.arg(Arg::Int(until));
            q.sql.push_str(&format!(" AND a.at < {p}"));
        }
        if let Some(before) = filter.before_id {
            let p = q.arg(Arg::Int(before));
            q.sql.push_str(&format!(" AND a.id < {p}"));
        }
        let p = q.arg(Arg::Int(filter.limit));
        q.sql.push_str(&format!(" ORDER BY a.id DESC LIMIT {p}"));
        let mut query = sqlx::query(&q.sql);
        for a in q.args {
            query = match a {
                Arg::Text(s) => query.bind(s),
                Arg::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: get(row, "id")?,
                    at: micros_to_time(get(row, "at")?),
                    actor: get(row, "agent_id")?,
                    action: get(row, "action")?,
                    object: get(row, "target")?,
                    outcome: get(row, "outcome")?,
                    detail: get(row, "detail")?,
                })
            })
            .collect()
    }
}
