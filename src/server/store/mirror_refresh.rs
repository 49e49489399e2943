//! Keeping the metrics copy (`metrics_mirror.rs`) true to the database: loading it, reading the
//! change log, pruning the log. The `Store` side of the copy, in a file of its own so that
//! `metrics_mirror.rs`, whose `MirrorCell` the `Store` holds, does not import the `Store`.

use super::db::{Dialect, Store};
use super::error::{StoreError, StoreResult};
use super::metrics_mirror::{
    replies_by_item, Mirror, MirrorCell, Selection, Windowed, CHUNK, COLUMNS, DAY, MAX_CHANGES,
    REACH,
};
use sqlx::any::AnyRow;
use std::collections::HashMap;
use std::sync::Arc;

impl Store {
    /// Loads the copy of the window's items now rather than at the first summary (the server
    /// calls it at start, in the background).
    pub async fn warm_metrics(&self) -> StoreResult<()> {
        self.refresh_mirror(self.now() - REACH).await
    }

    /// The windowed measures of `sel`, from the copy brought up to date first.
    pub(super) async fn windowed_from_mirror(
        &self,
        sel: Selection<'_>,
        slice: i64,
    ) -> StoreResult<Windowed> {
        self.refresh_mirror(sel.since).await?;
        let cell: Arc<MirrorCell> = self.metrics_mirror.clone();
        let (q, scope) = (sel.query.clone(), sel.scope.clone());
        let (since, now) = (sel.since, sel.now);
        tokio::task::spawn_blocking(move || {
            let guard = cell.mirror.read().unwrap_or_else(|p| p.into_inner());
            let sel = Selection {
                query: &q,
                scope: &scope,
                since,
                now,
            };
            guard.as_ref().map(|m| m.windowed(&sel, slice))
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("the summary's ranking failed: {e}")))?
        .ok_or_else(|| StoreError::Invalid("the summary's copy is not loaded".into()))
    }

    /// Brings the copy up to date with the change log, or loads it whole when there is none yet,
    /// it cannot reach back to `since`, it fell behind the pruned log, or too much changed.
    async fn refresh_mirror(&self, since: i64) -> StoreResult<()> {
        let cell = self.metrics_mirror.clone();
        let _one = cell.refreshing.lock().await;
        let state = {
            let m = cell.mirror.read().unwrap_or_else(|p| p.into_inner());
            m.as_ref().map(|m| (m.cursor, m.horizon))
        };
        let now = self.now();
        let (min, max): (Option<i64>, Option<i64>) =
            // Two subqueries: SQLite answers a lone MIN or MAX from the end of the key, but
            // both in one select scan the whole log.
            sqlx::query_as("SELECT (SELECT MIN(seq) FROM metrics_changes), (SELECT MAX(seq) FROM metrics_changes)")
                .fetch_one(self.reader())
                .await?;
        let (min, max) = (min.unwrap_or(0), max.unwrap_or(0));
        let whole = match state {
            None => true,
            Some((cursor, horizon)) => {
                since < horizon || (min > cursor + 1 && cursor < max) || max - cursor > MAX_CHANGES
            }
        };
        if whole {
            let horizon = since.min(now - REACH);
            let fresh = self.load_mirror(max, horizon).await?;
            *cell.mirror.write().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
            return Ok(());
        }
        let (cursor, horizon) = state.expect("loaded");
        if max > cursor {
            self.catch_up(&cell, cursor, max).await?;
        }
        // Once a day, forget the items that fell out of every window.
        if now - REACH - horizon > DAY {
            let mut m = cell.mirror.write().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = m.as_mut() {
                m.evict_before(now - REACH);
            }
        }
        Ok(())
    }

    /// Every item with a time after `horizon`, as of change `cursor` (read before the items, so
    /// that a change made while loading is read again after).
    async fn load_mirror(&self, cursor: i64, horizon: i64) -> StoreResult<Mirror> {
        // One pass over the table: an OR of four index ranges would fetch most rows four times.
        let latest = match self.dialect() {
            Dialect::Sqlite => "MAX(received_at, sla_due_at, COALESCE(first_reply_at, 0), COALESCE(resolved_at, 0))",
            Dialect::Postgres => "GREATEST(received_at, sla_due_at, first_reply_at, resolved_at)",
        };
        let sql = format!("SELECT {COLUMNS} FROM feedback WHERE {latest} >= $1");
        let items = sqlx::query(&sql)
            .bind(horizon)
            .fetch_all(self.reader())
            .await?;
        let reply_rows =
            sqlx::query("SELECT feedback_id, created_at FROM replies WHERE created_at >= $1")
                .bind(horizon)
                .fetch_all(self.reader())
                .await?;
        let mut replies = replies_by_item(&reply_rows)?;
        let mut mirror = Mirror::empty(cursor, horizon);
        mirror.apply(&[], &items, &mut replies)?;
        // Replies in reach on items that are not (an old item answered again).
        let rest: Vec<String> = replies.keys().cloned().collect();
        for chunk in rest.chunks(CHUNK) {
            let (rows, mut more) = self.items_by_id(chunk).await?;
            mirror.apply(&[], &rows, &mut more)?;
        }
        Ok(mirror)
    }

    /// Reads the items changed after `cursor` up to `max` again.
    async fn catch_up(&self, cell: &MirrorCell, cursor: i64, max: i64) -> StoreResult<()> {
        let changed: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT feedback_id FROM metrics_changes WHERE seq > $1 AND seq <= $2",
        )
        .bind(cursor)
        .bind(max)
        .fetch_all(self.reader())
        .await?;
        let mut read = Vec::new();
        for chunk in changed.chunks(CHUNK) {
            read.push((chunk, self.items_by_id(chunk).await?));
        }
        let mut m = cell.mirror.write().unwrap_or_else(|p| p.into_inner());
        let Some(m) = m.as_mut() else {
            return Ok(());
        };
        for (ids, (rows, mut replies)) in read {
            m.apply(ids, &rows, &mut replies)?;
        }
        m.cursor = max;
        Ok(())
    }

    /// The rows of `ids` and all their replies' times.
    async fn items_by_id(
        &self,
        ids: &[String],
    ) -> StoreResult<(Vec<AnyRow>, HashMap<String, Vec<i64>>)> {
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let marks = marks.join(",");
        let items_sql = format!("SELECT {COLUMNS} FROM feedback WHERE id IN ({marks})");
        let replies_sql =
            format!("SELECT feedback_id, created_at FROM replies WHERE feedback_id IN ({marks})");
        let mut items = sqlx::query(&items_sql);
        let mut replies = sqlx::query(&replies_sql);
        for id in ids {
            items = items.bind(id.as_str());
            replies = replies.bind(id.as_str());
        }
        let (items, reply_rows) = tokio::try_join!(
            items.fetch_all(self.reader()),
            replies.fetch_all(self.reader())
        )?;
        Ok((items, replies_by_item(&reply_rows)?))
    }

    /// Drops the change log but its newest `keep` rows (an instance that had not read the rest
    /// loads its copy whole).
    pub async fn prune_metrics_changes(&self, keep: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM metrics_changes WHERE seq <= (SELECT MAX(seq) FROM metrics_changes) - $1",
        )
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        self.commit(tx, None).await?;
        Ok(done.rows_affected())
    }
}
