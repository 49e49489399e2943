//! Each organisation's learned triage model, shared by every server instance through the
//! database: a version and the serialised state, replaced with optimistic concurrency.

use super::db::Store;
use super::error::StoreResult;
use super::time::now_micros;

impl Store {
    /// The stored model of `org`: its version and state, if it learned anything yet.
    pub async fn triage_model(&self, org: &str) -> StoreResult<Option<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT version, state FROM triage_models WHERE org = $1")
                .bind(org)
                .fetch_optional(self.reader())
                .await?,
        )
    }

    /// The version of the stored model of `org` (0: none), cheap enough to poll.
    pub async fn triage_model_version(&self, org: &str) -> StoreResult<i64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM triage_models WHERE org = $1")
            .bind(org)
            .fetch_optional(self.reader())
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Stores `state` as version `expected + 1` if the stored version is still `expected`;
    /// false when another instance got there first (reload and learn again).
    pub async fn save_triage_model(
        &self,
        org: &str,
        expected: i64,
        state: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = if expected == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT version FROM triage_models WHERE org = $1")
                    .bind(org)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_some() {
                false
            } else {
                sqlx::query("INSERT INTO triage_models (org, version, state, updated_at) VALUES ($1, 1, $2, $3)")
                    .bind(org)
                    .bind(state)
                    .bind(now_micros())
                    .execute(&mut *tx)
                    .await?;
                true
            }
        } else {
            let r = sqlx::query("UPDATE triage_models SET version = version + 1, state = $1, updated_at = $2 WHERE org = $3 AND version = $4")
                .bind(state)
                .bind(now_micros())
                .bind(org)
                .bind(expected)
                .execute(&mut *tx)
                .await?;
            r.rows_affected() == 1
        };
        self.commit(tx, None).await?;
        Ok(done)
    }

    /// How many corrections agents of `org` made.
    pub async fn triage_correction_count(&self, org: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM triage_corrections WHERE org = $1")
                .bind(org)
                .fetch_one(self.reader())
                .await?,
        )
    }
}
