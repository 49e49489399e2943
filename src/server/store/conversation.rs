//! Who wrote each message of a thread (for `GET /v1/feedback/{id}`): the post's identity and
//! customer, with the customer's roles and the post's triage, or the agent of a reply. Scoped
//! like `Store::thread`: only messages of items in the caller's departments.

use super::db::Store;
use super::error::{StoreError, StoreResult};
use super::rows::{self, get, parse, time};
use super::scope::DepartmentScope;
use crate::domain::thread::AuthoredMessage;
use crate::domain::*;

impl Store {
    /// The rows of a thread's messages that `scope` may see, in thread order, each with its
    /// author's item, identity, customer and reply; `message_columns` names the columns of the
    /// message itself that the caller decodes (it must include `m.id AS message_id`).
    async fn authored_rows(
        &self,
        thread_id: &str,
        scope: &DepartmentScope,
        message_columns: &str,
    ) -> StoreResult<Vec<sqlx::any::AnyRow>> {
        let (visible, departments) = scope.sql("f.department", 2);
        // For an outbound message `f` is the item replied to, not the author: its identity
        // columns are ignored and the agent comes from the reply.
        let sql = format!(
            "SELECT {message_columns}, r.agent_id, \
             f.kind, f.sentiment, f.sentiment_label, \
             COALESCE(f.customer_id, i.customer_id) AS author_customer_id, \
             c.first_name AS c_first_name, c.last_name AS c_last_name, c.roles AS c_roles, \
             i.id AS i_id, i.network AS i_network, i.handle AS i_handle, \
             i.display_name AS i_display_name, i.verified AS i_verified, i.customer_id AS i_customer_id \
             FROM messages m JOIN feedback f ON f.id = m.feedback_id \
             JOIN identities i ON i.id = f.author_identity_id \
             LEFT JOIN customers c ON c.id = COALESCE(f.customer_id, i.customer_id) \
             LEFT JOIN replies r ON r.id = m.reply_id \
             WHERE m.thread_id = $1 AND {visible} ORDER BY m.created_at, m.id"
        );
        let mut query = sqlx::query(&sql).bind(thread_id);
        for d in departments {
            query = query.bind(d);
        }
        Ok(query.fetch_all(self.reader()).await?)
    }

    /// The thread's messages with their authors, in thread order (the order of `thread`).
    pub async fn thread_authors(
        &self,
        thread_id: &str,
        scope: &DepartmentScope,
    ) -> StoreResult<Vec<AuthoredMessage>> {
        let columns = "m.id AS message_id, m.direction, m.visibility, m.created_at";
        let found = self.authored_rows(thread_id, scope, columns).await?;
        found.iter().map(authored).collect()
    }

    /// [`thread`](Store::thread) and [`thread_authors`](Store::thread_authors) of one thread
    /// from one statement (the same rows, in the same order: the authors' joins are on keys and
    /// drop no message), for `GET /v1/feedback/{id}`, which needs both.
    pub async fn thread_with_authors(
        &self,
        thread_id: &str,
        scope: &DepartmentScope,
    ) -> StoreResult<(Vec<Message>, Vec<AuthoredMessage>)> {
        let columns = "m.*, m.id AS message_id";
        let found = self.authored_rows(thread_id, scope, columns).await?;
        let messages = found
            .iter()
            .map(rows::message)
            .collect::<StoreResult<_>>()?;
        let authors = found.iter().map(authored).collect::<StoreResult<_>>()?;
        Ok((messages, authors))
    }
}

fn authored(row: &sqlx::any::AnyRow) -> StoreResult<AuthoredMessage> {
    let direction: Direction = parse(row, "direction")?;
    let created_at = time(row, "created_at")?;
    let message_id: String = get(row, "message_id")?;
    if direction == Direction::Outbound {
        return Ok(AuthoredMessage {
            message_id,
            direction,
            visibility: parse(row, "visibility")?,
            created_at,
            agent_id: get(row, "agent_id")?,
            identity: None,
            customer_id: None,
            customer_name: None,
            roles: Vec::new(),
            kind: FeedbackKind::Other,
            sentiment: SentimentLabel::Neutral,
        });
    }
    let customer_id: Option<String> = get(row, "author_customer_id")?;
    let first: Option<String> = get(row, "c_first_name")?;
    let last: Option<String> = get(row, "c_last_name")?;
    let roles = rows::roles_or_none(row, "c_roles")?;
    let sentiment: f64 = get(row, "sentiment")?;
    let label = match get::<Option<String>>(row, "sentiment_label")? {
        Some(l) => l
            .parse()
            .map_err(|e: UnknownValue| StoreError::Corrupt(e.to_string()))?,
        None => SentimentLabel::from_score(sentiment),
    };
    Ok(AuthoredMessage {
        message_id,
        direction,
        visibility: parse(row, "visibility")?,
        created_at,
        agent_id: None,
        identity: Some(rows::identity(row, "i_")?),
        customer_name: match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}").trim().to_string()),
            _ => None,
        },
        customer_id,
        roles,
        kind: parse(row, "kind")?,
        sentiment: label,
    })
}
