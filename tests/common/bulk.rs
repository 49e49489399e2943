//! Fast bulk seeding of feedback items straight into a store's database (multi-row INSERTs in
//! one transaction), for the queue tests that need planner-sized tables and for
//! benches/queue_load.rs. Rows are what the server writes for an item (search words included,
//! through the library's own `stored_words`), without messages or history, which the queue
//! does not read. Used by tests/queue.rs and the bench through `#[path]`.
#![allow(dead_code)]

use earshot::domain::{Channel, FeedbackStatus};
use earshot::server::store::stored_words;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

/// One item as the queue sees it.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub department: String,
    pub status: FeedbackStatus,
    pub assignee: Option<String>,
    pub channel: Channel,
    pub customer: Option<String>,
    pub text: String,
    pub received_at: i64,
}

/// Rows per INSERT statement (25 values each: well under both stores' parameter limits).
const ROWS_PER_STATEMENT: usize = 400;

/// Opens the store's database as a plain pool: `db` is a SQLite path or a `postgres://` URL.
pub async fn pool(db: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    let url = if db.starts_with("postgres") {
        db.to_string()
    } else {
        format!("sqlite://{db}")
    };
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("bulk pool connects")
}

/// The identity every bulk item is written by (one per store; created if missing).
pub const AUTHOR: &str = "id_bulk_author";

/// Inserts `items` in one transaction, then refreshes the planner's statistics on PostgreSQL.
pub async fn insert(db: &str, items: &[Item]) {
    let pool = pool(db).await;
    let postgres = db.starts_with("postgres");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO identities (id, network, handle, display_name, verified, customer_id) \
         SELECT $1, 'x', '@bulk_author', 'Bulk Author', 0, NULL \
         WHERE NOT EXISTS (SELECT 1 FROM identities WHERE id = $1)",
    )
    .bind(AUTHOR)
    .execute(&mut *tx)
    .await
    .expect("author");
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO feedback (id, channel, origin, author_identity_id, customer_id, text, thread_id, url, \
             external_id, received_at, sentiment, department, assignee, status, priority, sla_due_at, version, \
             unassigned_reason, sentiment_label, sentiment_confidence, kind, urgency, cues, corrected, search_text) VALUES ",
        );
        for (n, _) in chunk.iter().enumerate() {
            let b = n * 10;
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},'{AUTHOR}',${},${},${},NULL,NULL,${},0,${},${},${},'normal',${},1,NULL,'neutral',0.5,'other','','[]',0,${})",
                b + 1, b + 2, b + 3, b + 4, b + 5, b + 1, b + 6, b + 7, b + 8, b + 9, b + 6, b + 10
            ));
        }
        let mut q = sqlx::query(&sql);
        for it in chunk {
            q = q
                .bind(it.id.clone())
                .bind(it.channel.as_str())
                .bind(it.channel.origin().as_str())
                .bind(it.customer.clone())
                .bind(it.text.clone())
                .bind(it.received_at)
                .bind(it.department.clone())
                .bind(it.assignee.clone())
                .bind(it.status.as_str());
            q = q.bind(stored_words(&it.text));
        }
        q.execute(&mut *tx).await.expect("bulk insert");
    }
    tx.commit().await.expect("commit");
    if postgres {
        (&pool).execute("ANALYZE feedback").await.expect("analyze");
    }
    pool.close().await;
}

/// SplitMix64: a fixed, fast sequence of pseudo-random numbers (the same on every run).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
