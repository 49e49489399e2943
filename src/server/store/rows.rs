//! Turning database rows into domain values. Stored enums are their API names, lists are JSON
//! text, money is a decimal string: a value that does not parse is `StoreError::Corrupt`, never a
//! panic.

use super::dialect::Dialect;
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
    named(col, &get::<String>(row, col)?)
}

/// A stored enum's value (the text of column or field `col`), or `Corrupt` naming it.
fn named<T: FromStr>(col: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col}: bad value '{value}'")))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    decoded(col, &get::<String>(row, col)?)
}

/// The JSON text of column or field `col`, decoded, or `Corrupt` naming it.
fn decoded<T: serde::de::DeserializeOwned>(col: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
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

/// An item's columns, as `name, expression` pairs of a JSON object.
const FEEDBACK_FIELDS: &str = "'id', f.id, 'channel', f.channel, 'origin', f.origin, \
     'customer_id', f.customer_id, 'text', f.text, 'thread_id', f.thread_id, 'url', f.url, \
     'received_at', f.received_at, 'department', f.department, 'assignee', f.assignee, \
     'status', f.status, 'priority', f.priority, 'sla_due_at', f.sla_due_at, 'version', f.version, \
     'unassigned_reason', f.unassigned_reason, 'sentiment_label', f.sentiment_label, \
     'kind', f.kind, 'urgency', f.urgency, 'cues', f.cues, 'corrected', f.corrected, \
     'i_id', i.id, 'i_network', i.network, 'i_handle', i.handle, \
     'i_display_name', i.display_name, 'i_verified', i.verified, 'i_customer_id', i.customer_id, \
     'thread_messages', (SELECT COUNT(*) FROM messages tm JOIN feedback tf ON tf.id = tm.feedback_id \
      WHERE tm.thread_id = f.thread_id AND tf.department = f.department), \
     'author_roles', (SELECT c.roles FROM customers c WHERE c.id = COALESCE(f.customer_id, i.customer_id))";

/// An item's two scores as exact text: SQLite writes a REAL into JSON with only 15 significant
/// digits, which would not give back the stored value; `printf('%!.17g')` (SQLite) and
/// `::text` (PostgreSQL, shortest exact digits since version 12) do, and Rust parses them back
/// to the same bits (`scores_print_back_to_the_same_bits` tests SQLite's).
fn exact_score(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("printf('%!.17g', {column})"),
        Dialect::Postgres => format!("{column}::text"),
    }
}

/// The select list of an item (`feedback f` joined with its author `identities i`): its
/// columns as one JSON object (`item`), built by the database. One value per row instead of
/// thirty: sqlx's SQLite driver copies every value of a row on its worker thread and again
/// into an `AnyRow`, and that copying, not the SQL, was most of a queue page's cost (issue
/// 15's read profile).
pub(super) fn feedback_columns(dialect: Dialect) -> String {
    let fields = format!(
        "{FEEDBACK_FIELDS}, 'sentiment', {}, 'sentiment_confidence', {}",
        exact_score(dialect, "f.sentiment"),
        exact_score(dialect, "f.sentiment_confidence")
    );
    match dialect {
        Dialect::Sqlite => format!("json_object({fields}) AS item"),
        Dialect::Postgres => format!("json_build_object({fields})::text AS item"),
    }
}

/// A whole page of items as one value: `inner` (a query whose rows have `item` and the sort
/// key `k_at`, `k_id`) wrapped so that the database joins the items into one JSON array,
/// `page` (NULL for no items). The driver then hands over one row instead of one per item (on
/// SQLite each row is a message from the connection's worker thread, and a wake-up).
///
/// The array must be in the order of the queries' `ORDER BY` and cursors, which compare ids
/// with the database's collation. PostgreSQL orders it in the aggregate (its text order need
/// not be the bytes'). SQLite compares text as bytes (BINARY), which Rust can do exactly, so
/// [`page`] sorts it there: an aggregate `ORDER BY` would cost SQLite a temporary B-tree,
/// which the plan tests rightly refuse.
pub(super) fn one_page(dialect: Dialect, inner: &str) -> String {
    let joined = match dialect {
        Dialect::Sqlite => "group_concat(p.item, ',')",
        Dialect::Postgres => "string_agg(p.item, ',' ORDER BY p.k_at DESC, p.k_id DESC)",
    };
    format!("SELECT '[' || {joined} || ']' AS page FROM ({inner}) p")
}

/// The `item` object of [`feedback_columns`], as stored (enums by name, times in
/// microseconds, lists as text).
#[derive(serde::Deserialize)]
struct FeedbackRecord {
    id: String,
    channel: String,
    origin: String,
    customer_id: Option<String>,
    text: String,
    thread_id: String,
    url: Option<String>,
    received_at: i64,
    department: String,
    assignee: Option<String>,
    status: String,
    priority: String,
    sla_due_at: i64,
    version: i64,
    unassigned_reason: Option<String>,
    sentiment_label: Option<String>,
    kind: String,
    urgency: String,
    cues: String,
    corrected: i64,
    i_id: String,
    i_network: String,
    i_handle: String,
    i_display_name: String,
    i_verified: i64,
    i_customer_id: Option<String>,
    thread_messages: i64,
    author_roles: Option<String>,
    sentiment: String,
    sentiment_confidence: String,
}

/// An item from a row of [`feedback_columns`].
pub(super) fn feedback(row: &AnyRow) -> StoreResult<Feedback> {
    let item: String = get(row, "item")?;
    record(decoded("item", &item)?)
}

/// The items of a row of [`one_page`], in queue order (newest first; the same time, the
/// greater id first).
pub(super) fn page(row: &AnyRow, dialect: Dialect) -> StoreResult<Vec<Feedback>> {
    let Some(text) = get::<Option<String>>(row, "page")? else {
        return Ok(Vec::new());
    };
    let mut records: Vec<FeedbackRecord> = decoded("page", &text)?;
    if dialect == Dialect::Sqlite {
        records.sort_unstable_by(|a, b| {
            (b.received_at, b.id.as_bytes()).cmp(&(a.received_at, a.id.as_bytes()))
        });
    }
    records.into_iter().map(record).collect()
}

fn record(r: FeedbackRecord) -> StoreResult<Feedback> {
    let sentiment: f64 = named("sentiment", &r.sentiment)?;
    Ok(Feedback {
        author: Identity {
            id: r.i_id,
            network: named("i_network", &r.i_network)?,
            handle: r.i_handle,
            display_name: r.i_display_name,
            verified: r.i_verified != 0,
            customer_id: r.i_customer_id,
        },
        channel: named("channel", &r.channel)?,
        origin: named("origin", &r.origin)?,
        id: r.id,
        customer_id: r.customer_id,
        text: r.text,
        thread_id: r.thread_id,
        url: r.url,
        received_at: micros_to_time(r.received_at),
        sentiment,
        sentiment_label: match r.sentiment_label {
            Some(l) => named("sentiment_label", &l)?,
            None => SentimentLabel::from_score(sentiment),
        },
        sentiment_confidence: named("sentiment_confidence", &r.sentiment_confidence)?,
        kind: named("kind", &r.kind)?,
        urgency: r
            .urgency
            .split(',')
            .filter(|x| !x.is_empty())
            .map(|x| named::<UrgencyCue>("urgency", x))
            .collect::<StoreResult<Vec<_>>>()?,
        cues: decoded("cues", &r.cues)?,
        corrected: r.corrected != 0,
        department: r.department,
        assignee: r.assignee,
        status: named("status", &r.status)?,
        priority: named("priority", &r.priority)?,
        sla_due_at: micros_to_time(r.sla_due_at),
        version: r.version,
        unassigned_reason: r.unassigned_reason,
        thread_messages: u32::try_from(r.thread_messages).unwrap_or(u32::MAX),
        author_roles: roles("author_roles", r.author_roles.as_deref())?,
    })
}

/// One item by id, inside the caller's transaction.
pub(crate) async fn load_feedback(tx: &mut SqlTx<'static, Any>, id: &str) -> StoreResult<Feedback> {
    let dialect = match tx.backend_name() {
        "PostgreSQL" => Dialect::Postgres,
        _ => Dialect::Sqlite,
    };
    let row = sqlx::query(&format!(
        "SELECT {} FROM feedback f JOIN identities i ON i.id = f.author_identity_id WHERE f.id = $1",
        feedback_columns(dialect)
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("feedback {id}")))?;
    feedback(&row)
}

/// A customer's roles from a joined column: none when there is no customer (NULL).
pub(super) fn roles_or_none(row: &AnyRow, col: &str) -> StoreResult<Vec<CustomerRole>> {
    roles(col, get::<Option<String>>(row, col)?.as_deref())
}

/// A customer's roles from their JSON text: none when there is no customer (NULL).
fn roles(col: &str, text: Option<&str>) -> StoreResult<Vec<CustomerRole>> {
    text.map_or(Ok(Vec::new()), |t| decoded(col, t))
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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use sqlx::{Connection, Row};

    /// SQLite's `printf('%!.17g')`, which a page's scores are read through, gives back every
    /// bit of the stored double once Rust parses it: scores of the range triage writes
    /// (-1..1 and 0..1), tiny ones, and the awkward cases.
    #[tokio::test]
    async fn scores_print_back_to_the_same_bits() {
        let mut conn = sqlx::sqlite::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
        let mut values: Vec<f64> = vec![
            0.0,
            1.0,
            -1.0,
            0.1,
            -0.12345678901234568,
            1.0 / 3.0,
            0.05,
            -0.05,
            f64::EPSILON,
            1.0 - f64::EPSILON,
            -1.0 + f64::EPSILON / 2.0,
            5e-324,
            1e-300,
        ];
        values.extend((0..20_000).map(|_| rng.gen_range(-1.0..=1.0)));
        values.extend((0..5_000).map(|_| rng.gen::<f64>() * 10f64.powi(-rng.gen_range(0..20))));
        for x in values {
            let row = sqlx::query("SELECT printf('%!.17g', ?1) AS t")
                .bind(x)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let text: String = row.get("t");
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e} printed as {text}");
        }
    }
}
