//! A customer's history timeline and the roles derived from it. Intake, identity links, replies
//! and imports all write here, so these live in a file of their own rather than in
//! `customers.rs`, which `identities.rs` would otherwise import back.

use super::error::StoreResult;
use crate::domain::*;
use sqlx::{Any, Transaction as SqlTx};

// One history row: its columns are the arguments (a struct would only rename them).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn add_history(
    tx: &mut SqlTx<'static, Any>,
    customer_id: &str,
    kind: HistoryKind,
    channel: Channel,
    summary: &str,
    feedback_id: Option<&str>,
    sentiment: Option<f64>,
    at: i64,
) -> StoreResult<()> {
    // A NULL sentiment is written as a literal, not bound: sqlx 0.8's `Any` driver binds a
    // `None::<f64>` as a PostgreSQL float4, and the statement it prepares that way then refuses
    // a float8 on the same connection ("incorrect binary data format in bind parameter 7").
    let sql = match sentiment {
        Some(_) => "INSERT INTO history (customer_id, at, kind, channel, summary, feedback_id, sentiment) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        None => "INSERT INTO history (customer_id, at, kind, channel, summary, feedback_id, sentiment) VALUES ($1,$2,$3,$4,$5,$6,NULL)",
    };
    let mut query = sqlx::query(sql)
        .bind(customer_id)
        .bind(at)
        .bind(kind.as_str())
        .bind(channel.as_str())
        .bind(summary)
        .bind(feedback_id);
    if let Some(s) = sentiment {
        query = query.bind(s);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Re-derives a customer's roles from their history and stores them; returns whether they
/// changed. Thresholds are deliberately simple and documented here:
/// - power user: at least 8 orders or a lifetime value of at least 2,000;
/// - detractor: at least 3 negative public posts;
/// - helper: at least 2 forum posts in threads started by someone else;
/// - advocate: at least 2 positive public posts.
pub(crate) async fn refresh_roles(
    tx: &mut SqlTx<'static, Any>,
    customer_id: &str,
) -> StoreResult<bool> {
    let (orders, ltv): (i64, String) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM transactions WHERE customer_id = $1 AND kind = 'order'), \
         (SELECT ltv_amount FROM customers WHERE id = $1)",
    )
    .bind(customer_id)
    .fetch_one(&mut **tx)
    .await?;
    let public = "('x','facebook','instagram','linkedin','forum','review')";
    let negative: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM feedback WHERE customer_id = $1 AND sentiment <= -0.05 AND channel IN {public}"
    ))
    .bind(customer_id)
    .fetch_one(&mut **tx)
    .await?;
    let positive: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM feedback WHERE customer_id = $1 AND sentiment >= 0.05 AND channel IN {public}"
    ))
    .bind(customer_id)
    .fetch_one(&mut **tx)
    .await?;
    let helping: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM feedback f WHERE f.customer_id = $1 AND f.channel = 'forum' AND f.thread_id <> f.id \
         AND EXISTS (SELECT 1 FROM feedback o WHERE o.id = f.thread_id AND (o.customer_id IS NULL OR o.customer_id <> $1))",
    )
    .bind(customer_id)
    .fetch_one(&mut **tx)
    .await?;
    let ltv: rust_decimal::Decimal = ltv.parse().unwrap_or_default();
    let roles = derive_roles(orders, ltv, negative, helping, positive);
    let roles = serde_json::to_string(&roles).unwrap_or_default();
    let before: String = sqlx::query_scalar("SELECT roles FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_one(&mut **tx)
        .await?;
    if before == roles {
        return Ok(false);
    }
    sqlx::query("UPDATE customers SET roles = $1 WHERE id = $2")
        .bind(roles)
        .bind(customer_id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// The roles of [`refresh_roles`] from the counts it takes.
pub(crate) fn derive_roles(
    orders: i64,
    ltv: rust_decimal::Decimal,
    negative: i64,
    helping: i64,
    positive: i64,
) -> Vec<CustomerRole> {
    let mut roles = Vec::new();
    if orders >= 8 || ltv >= rust_decimal::Decimal::from(2000) {
        roles.push(CustomerRole::PowerUser);
    }
    if negative >= 3 {
        roles.push(CustomerRole::Detractor);
    }
    if helping >= 2 {
        roles.push(CustomerRole::Helper);
    }
    if positive >= 2 {
        roles.push(CustomerRole::Advocate);
    }
    roles
}

/// A one-line summary of a text for the history timeline.
pub(crate) fn summary(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}
