//! The rulebook in force on the server: served at `GET /v1/rules`, used to re-check every reply
//! at delivery, and reloaded when its file changes or on SIGHUP. A broken file is refused with a
//! log line and the previous rulebook stays in force; consoles learn of a new version from the
//! `rules.updated` event.

use super::store::Store;
use crate::domain::EventName;
use crate::rules::Rulebook;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// How often the rulebook file is looked at for changes.
const POLL: Duration = Duration::from_secs(2);

pub struct RulesInForce {
    current: RwLock<Arc<Rulebook>>,
    path: Option<PathBuf>,
}

impl RulesInForce {
    /// Loads the rulebook at `path`, or the embedded default.
    pub fn load(path: Option<&Path>) -> Result<RulesInForce, String> {
        let rulebook = match path {
            Some(p) => Rulebook::load(p).map_err(|e| e.to_string())?,
            None => Rulebook::from_toml_str(crate::rules::DEFAULT_RULEBOOK, "rules/default.toml")
                .map_err(|e| e.to_string())?,
        };
        Ok(RulesInForce {
            current: RwLock::new(Arc::new(rulebook)),
            path: path.map(Path::to_path_buf),
        })
    }

    pub fn current(&self) -> Arc<Rulebook> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads from the file; on success swaps it in and announces it. Returns the new version.
    pub async fn reload(&self, store: &Store) -> Result<String, String> {
        let Some(path) = &self.path else {
            return Err("the embedded rulebook has no file to reload".into());
        };
        let rulebook = Rulebook::load(path).map_err(|e| e.to_string())?;
        let version = rulebook.version().to_string();
        let id = rulebook.id().to_string();
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(rulebook),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(rulebook),
        }
        let data = crate::domain::event_payload::RulesUpdated {
            id,
            version: version.clone(),
        };
        if let Err(e) = store.publish(EventName::RulesUpdated, None, &data).await {
            tracing::warn!(error = %e, "could not announce the new rulebook");
        }
        Ok(version)
    }
}

/// Newest modification time of the file, or of the `*.toml` files of a directory.
fn modified(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .max()
}

/// Watches the rulebook file (polling: simple, and works on every filesystem) and SIGHUP.
pub fn spawn_reloader(rules: Arc<RulesInForce>, store: Store, mut shutdown: watch::Receiver<bool>) {
    let Some(path) = rules.path.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mut seen = modified(&path);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hangup = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = std::future::pending::<()>();
            let forced = tokio::select! {
                _ = tokio::time::sleep(POLL) => false,
                _ = hangup => true,
                _ = super::stopped(&mut shutdown) => return,
            };
            let now = modified(&path);
            if !forced && now == seen {
                continue;
            }
            seen = now;
            match rules.reload(&store).await {
                Ok(version) => {
                    tracing::info!(path = %path.display(), %version, "rulebook reloaded")
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "rulebook refused; the previous one stays in force")
                }
            }
        }
    });
}
