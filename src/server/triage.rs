//! The organisation's triage model on the server: the built-in model plus what agents'
//! corrections taught it. A correction is learned in memory at once (items arriving next use
//! it) and stored in the database by a background task moments later, so that every instance
//! (PostgreSQL) loads it; the same task picks up what other instances learned within a few
//! seconds.

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
    /// Held while the model is read from or written to the store, so that a save and a reload
    /// never interleave (a reload re-applies what is pending; a save drains it).
    io: Arc<tokio::sync::Mutex<()>>,
    /// Wakes the saver when a correction was learned.
    learned: Arc<tokio::sync::Notify>,
}

#[derive(Default)]
struct Loaded {
    /// The stored version `model` was built on.
    version: i64,
    /// The stored model plus `pending`.
    model: OrgModel,
    /// Corrections learned into `model` and not yet stored, oldest first.
    pending: Vec<(String, SentimentLabel)>,
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

    /// Loads the stored model if it is newer than the one in memory, with this instance's
    /// corrections not yet stored learned again on top of it.
    pub async fn refresh(&self, store: &Store) -> StoreResult<()> {
        let _io = self.io.lock().await;
        self.reload(store).await
    }

    async fn reload(&self, store: &Store) -> StoreResult<()> {
        let version = store.triage_model_version(ORG).await?;
        if version <= self.read().version {
            return Ok(());
        }
        if let Some((version, state)) = store.triage_model(ORG).await? {
            match OrgModel::from_json(&state) {
                Ok(mut model) => {
                    let mut l = self.write();
                    if version > l.version {
                        for (text, label) in &l.pending {
                            model.learn(builtin(), text, *label);
                        }
                        l.version = version;
                        l.model = model;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stored triage model does not parse"),
            }
        }
        Ok(())
    }

    /// Learns one correction at once, in memory: items arriving from now on use it. The saver
    /// stores it (with whatever else was learned meanwhile) moments later, off the request.
    /// Why not store it here: the stored model is the whole state, megabytes after thousands of
    /// corrections (`eval_triage` prints its size), too much to write inside an agent's PATCH.
    pub fn learn(&self, text: &str, label: SentimentLabel) -> Learned {
        let started = Instant::now();
        let before = {
            let mut l = self.write();
            l.pending.push((text.to_string(), label));
            l.model.learn(builtin(), text, label)
        };
        self.learned.notify_one();
        Learned {
            predicted_before: before,
            took: started.elapsed(),
        }
    }

    /// Stores what is pending as the next version; when another instance stored first, reloads
    /// theirs (our pending corrections learned again on top) and tries again.
    pub async fn save(&self, store: &Store) -> StoreResult<()> {
        let _io = self.io.lock().await;
        for _ in 0..5 {
            // The saver calls this every tick: nothing pending costs no copy of the model. The
            // copy is serialised outside the lock, so learning waits for the copy only.
            let (version, model, saving) = {
                let l = self.read();
                if l.pending.is_empty() {
                    return Ok(());
                }
                (l.version, l.model.clone(), l.pending.len())
            };
            let state = model.to_json();
            if store.save_triage_model(ORG, version, &state).await? {
                let mut l = self.write();
                // Only this task changes `version` and drains `pending` (under `io`).
                l.version = version + 1;
                l.pending.drain(..saving);
                return Ok(());
            }
            self.reload(store).await?;
        }
        Err(super::store::StoreError::Conflict(
            "the triage model changed under us five times".into(),
        ))
    }

    /// Keeps this instance's model current with what other instances learned, and stores what
    /// this one learned as soon as it learned it; at shutdown, stores what is left.
    pub fn spawn_refresher(&self, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.save(&store).await {
                    tracing::warn!(error = %e, "storing the triage model (kept in memory, tried again)");
                }
                if let Err(e) = engine.refresh(&store).await {
                    tracing::debug!(error = %e, "triage model refresh");
                }
                tokio::select! {
                    _ = tokio::time::sleep(REFRESH_EVERY) => {}
                    _ = engine.learned.notified() => {}
                    _ = super::shutdown::stopped(&mut stop) => {
                        if let Err(e) = engine.save(&store).await {
                            tracing::warn!(error = %e, "storing the triage model at shutdown");
                        }
                        return;
                    }
                }
            }
        });
    }
}
