//! The organisation's triage model on the server: the built-in model plus what agents'
//! corrections taught it, persisted in the database so that every instance (PostgreSQL) loads
//! it; a background refresh picks up what other instances learned within a few seconds.

use super::store::{Store, StoreResult};
use crate::domain::SentimentLabel;
use crate::triage::{builtin, OrgModel, Triage};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The reference server serves one organisation per database.
pub const ORG: &str = "default";

/// How often an instance looks for what other instances learned.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone, Default)]
pub struct TriageEngine {
    inner: Arc<RwLock<Loaded>>,
}

#[derive(Default)]
struct Loaded {
    version: i64,
    model: OrgModel,
}

/// What `GET /v1/triage/model` reports.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ModelStatus {
    pub org: String,
    /// Corrections the model learned from.
    pub corrections: u64,
    /// Accuracy on corrections before each was learned (prequential): none learned yet is null.
    pub prequential_accuracy: Option<f64>,
    pub version: i64,
    /// What the built-in model was trained on.
    pub builtin: String,
}

/// What learning one correction did.
#[derive(Debug, Clone)]
pub struct Learned {
    pub predicted_before: SentimentLabel,
    pub took: Duration,
}

impl TriageEngine {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Triage with the organisation's model.
    pub fn classify(&self, text: &str) -> Triage {
        self.read().model.classify(builtin(), text)
    }

    pub fn status(&self) -> ModelStatus {
        let l = self.read();
        ModelStatus {
            org: ORG.to_string(),
            corrections: l.model.corrections,
            prequential_accuracy: l.model.accuracy(),
            version: l.version,
            builtin: builtin().trained_on.clone(),
        }
    }

    /// Loads the stored model if it is newer than the one in memory.
    pub async fn refresh(&self, store: &Store) -> StoreResult<()> {
        let version = store.triage_model_version(ORG).await?;
        if version <= self.read().version {
            return Ok(());
        }
        if let Some((version, state)) = store.triage_model(ORG).await? {
            match OrgModel::from_json(&state) {
                Ok(model) => {
                    let mut l = self.write();
                    if version > l.version {
                        *l = Loaded { version, model };
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stored triage model does not parse"),
            }
        }
        Ok(())
    }

    /// Learns one correction and stores the result; another instance's concurrent learning is
    /// not lost (the store refuses a stale version, and we reload and learn again).
    pub async fn learn(
        &self,
        store: &Store,
        text: &str,
        label: SentimentLabel,
    ) -> StoreResult<Learned> {
        for _ in 0..5 {
            self.refresh(store).await?;
            let (version, mut model) = {
                let l = self.read();
                (l.version, l.model.clone())
            };
            let started = Instant::now();
            let before = model.learn(builtin(), text, label);
            let took = started.elapsed();
            if store
                .save_triage_model(ORG, version, &model.to_json())
                .await?
            {
                let mut l = self.write();
                if version + 1 > l.version {
                    *l = Loaded {
                        version: version + 1,
                        model,
                    };
                }
                return Ok(Learned {
                    predicted_before: before,
                    took,
                });
            }
        }
        Err(super::store::StoreError::Conflict(
            "the triage model changed under us five times".into(),
        ))
    }

    /// Keeps this instance's model current with what other instances learned.
    pub fn spawn_refresher(&self, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.refresh(&store).await {
                    tracing::debug!(error = %e, "triage model refresh");
                }
                tokio::select! {
                    _ = tokio::time::sleep(REFRESH_EVERY) => {}
                    _ = super::stopped(&mut stop) => return,
                }
            }
        });
    }
}
