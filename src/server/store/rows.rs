//! Turning database rows into domain values. Stored enums are their API names, lists are JSON
//! text, money is a decimal string: a value that does not parse is `StoreError::Corrupt`, never a
//! panic.

use super::error::{StoreError, StoreResult};
use super::time::micros_to_time;
use crate::domain::*;
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction as SqlTx};
use std::str::FromStr;

pub(super) fn get<T>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(col)
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(super) fn parse<T: FromStr>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col}: bad value '{s}'")))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let s: String = get(row, col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(super) fn time(row: &AnyRow, col: &str) -> StoreResult<chrono::DateTime<chrono::Utc>> {
    Ok(micros_to_time(get::<i64>(row, col)?))
}

pub(super) fn flag(row: &AnyRow, col: &str) -> StoreResult<bool> {
    Ok(get::<i64>(row, col)? != 0)
}

pub(super) fn money(row: &AnyRow, amount_col: &str, currency_col: &str) -> StoreResult<Money> {
    let amount: String = get(row, amount_col)?;
    let amount = Decimal::from_str(&amount)
        .map_err(|e| StoreError::Corrupt(format!("{amount_col}: {e}")))?;
    Ok(Money {
        amount,
        currency: get(row, currency_col)?,
    })
}

/// Columns: identities.* (prefixed with `i_` when joined).
pub(super) fn identity(row: &AnyRow, prefix: &str) -> StoreResult<Identity> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Identity {
        id: get(row, &c("id"))?,
        network: parse(row, &c("network"))?,
        handle: get(row, &c("handle"))?,
        display_name: get(row, &c("display_name"))?,
        verified: flag(row, &c("verified"))?,
        customer_id: get(row, &c("customer_id"))?,
    })
}

pub(super) const FEEDBACK_COLUMNS: &str = "f.id, f.channel, f.origin, f.customer_id, f.text, f.thread_id, f.url, \
     f.received_at, f.sentiment, f.department, f.assignee, f.status, f.priority, f.sla_due_at, f.version, f.unassigned_reason, \
     f.sentiment_label, f.sentiment_confidence, f.kind, f.urgency, f.cues, f.corrected, \
     i.id AS i_id, i.network AS i_network, i.handle AS i_handle, i.display_name AS i_display_name, \
     i.verified AS i_verified, i.customer_id AS i_customer_id, \
     (SELECT COUNT(*) FROM messages tm JOIN feedback tf ON tf.id = tm.feedback_id \
      WHERE tm.thread_id = f.thread_id AND tf.department = f.department) AS thread_messages, \
     (SELECT c.roles FROM customers c WHERE c.id = COALESCE(f.customer_id, i.customer_id)) AS author_roles";

pub(super) fn feedback(row: &AnyRow) -> StoreResult<Feedback> {
    let sentiment: f64 = get(row, "sentiment")?;
    Ok(Feedback {
        id: get(row, "id")?,
        channel: parse(row, "channel")?,
        origin: parse(row, "origin")?,
        author: identity(row, "i_")?,
        customer_id: get(row, "customer_id")?,
        text: get(row, "text")?,
        thread_id: get(row, "thread_id")?,
        url: get(row, "url")?,
        received_at: time(row, "received_at")?,
        sentiment,
        sentiment_label: match get::<Option<String>>(row, "sentiment_label")? {
            Some(l) => l
                .parse()
                .map_err(|e: UnknownValue| StoreError::Corrupt(e.to_string()))?,
            None => SentimentLabel::from_score(sentiment),
        },
        sentiment_confidence: get(row, "sentiment_confidence")?,
        kind: parse(row, "kind")?,
        urgency: {
            let u: String = get(row, "urgency")?;
            u.split(',')
                .filter(|x| !x.is_empty())
                .map(|x| x.parse::<UrgencyCue>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
        },
        cues: {
            let c: String = get(row, "cues")?;
            serde_json::from_str(&c).map_err(|e| StoreError::Corrupt(e.to_string()))?
        },
        corrected: flag(row, "corrected")?,
        department: get(row, "department")?,
        assignee: get(row, "assignee")?,
        status: parse(row, "status")?,
        priority: parse(row, "priority")?,
        sla_due_at: time(row, "sla_due_at")?,
        version: get(row, "version")?,
        unassigned_reason: get(row, "unassigned_reason")?,
        thread_messages: u32::try_from(get::<i64>(row, "thread_messages")?).unwrap_or(u32::MAX),
        author_roles: roles_or_none(row, "author_roles")?,
    })
}

/// One item by id, inside the caller's transaction.
pub(crate) async fn load_feedback(tx: &mut SqlTx<'static, Any>, id: &str) -> StoreResult<Feedback> {
    let row = sqlx::query(&format!(
        "SELECT {FEEDBACK_COLUMNS} FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE f.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("feedback {id}")))?;
    feedback(&row)
}

/// A customer's roles from a joined column: none when there is no customer (NULL).
pub(super) fn roles_or_none(row: &AnyRow, col: &str) -> StoreResult<Vec<CustomerRole>> {
    match get::<Option<String>>(row, col)? {
        Some(r) => {
            serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
        }
        None => Ok(Vec::new()),
    }
}

pub(super) fn message(row: &AnyRow) -> StoreResult<Message> {
    Ok(Message {
        id: get(row, "id")?,
        thread_id: get(row, "thread_id")?,
        feedback_id: get(row, "feedback_id")?,
        direction: parse(row, "direction")?,
        visibility: parse(row, "visibility")?,
        channel: parse(row, "channel")?,
        address: get(row, "address")?,
        author: get(row, "author")?,
        body: get(row, "body")?,
        delivery_status: parse(row, "delivery_status")?,
        status_reason: get(row, "status_reason")?,
        reply_id: get(row, "reply_id")?,
        created_at: time(row, "created_at")?,
    })
}

pub(super) fn transaction(row: &AnyRow) -> StoreResult<Transaction> {
    Ok(Transaction {
        id: get(row, "id")?,
        customer_id: get(row, "customer_id")?,
        kind: parse(row, "kind")?,
        reference: get(row, "reference")?,
        description: get(row, "description")?,
        amount: money(row, "amount", "currency")?,
        occurred_at: time(row, "occurred_at")?,
    })
}

/// A customer without identities and trend; `customers::customer` fills those in.
pub(super) fn customer(row: &AnyRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: get(row, "id")?,
        external_id: get(row, "external_id")?,
        first_name: get(row, "first_name")?,
        last_name: get(row, "last_name")?,
        emails: json(row, "emails")?,
        phones: json(row, "phones")?,
        tier: get(row, "tier")?,
        lifetime_value: money(row, "ltv_amount", "ltv_currency")?,
        preferences: Preferences {
            language: get(row, "language")?,
            preferred_channel: parse(row, "preferred_channel")?,
            consents: Consents {
                email: flag(row, "consent_email")?,
                sms: flag(row, "consent_sms")?,
                whatsapp: flag(row, "consent_whatsapp")?,
                social_dm: flag(row, "consent_social_dm")?,
            },
        },
        tags: json(row, "tags")?,
        roles: json(row, "roles")?,
        identities: Vec::new(),
        sentiment_trend: Vec::new(),
        created_at: time(row, "created_at")?,
    })
}
