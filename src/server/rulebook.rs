//! The rulebook in force on the server: served at `GET /v1/rules`, used to re-check every reply
//! at delivery, and reloaded when its file changes (file-system notifications through `notify`,
//! debounced: an editor's save is several events) or on SIGHUP. A broken file is refused with a
//! log line and the previous rulebook stays in force; consoles learn of a new version from the
//! `rules.updated` event.

use super::store::Store;
use crate::domain::EventName;
use crate::rules::Rulebook;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long file events must settle before one reload.
const SETTLE: Duration = Duration::from_millis(250);

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

/// The file (or the directory's `*.toml` file) an event names concerns the rulebook.
fn concerns(rules: &Path, is_dir: bool, changed: &Path) -> bool {
    if is_dir {
        changed.extension().is_some_and(|e| e == "toml")
    } else {
        changed.file_name() == rules.file_name()
    }
}

/// Watches the rulebook: a directory itself, a file through its directory (editors save by
/// writing a new file and renaming it over the old one, which a watch on the file itself
/// would lose). Each settled batch of changes sends one `()`.
fn watch_rules(
    path: &Path,
    changed: mpsc::UnboundedSender<()>,
) -> notify::Result<notify_debouncer_mini::Debouncer<notify::RecommendedWatcher>> {
    use notify::RecursiveMode;
    let is_dir = path.is_dir();
    let watched = if is_dir {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let rules = path.to_path_buf();
    let mut debouncer = notify_debouncer_mini::new_debouncer(
        SETTLE,
        move |events: notify_debouncer_mini::DebounceEventResult| {
            if let Ok(events) = events {
                if events.iter().any(|e| concerns(&rules, is_dir, &e.path)) {
                    let _ = changed.send(());
                }
            }
        },
    )?;
    debouncer
        .watcher()
        .watch(&watched, RecursiveMode::NonRecursive)?;
    Ok(debouncer)
}

/// Reloads the rulebook when its file changes, and on SIGHUP.
pub fn spawn_reloader(rules: Arc<RulesInForce>, store: Store, mut shutdown: watch::Receiver<bool>) {
    let Some(path) = rules.path.clone() else {
        return;
    };
    tokio::spawn(async move {
        let (tx, mut changes) = mpsc::unbounded_channel();
        let _watcher = match watch_rules(&path, tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot watch the rulebook for changes; send SIGHUP to reload it");
                None
            }
        };
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
            tokio::select! {
                Some(()) = changes.recv() => {}
                _ = hangup => {}
                _ = super::shutdown::stopped(&mut shutdown) => return,
            }
            // Changes that came meanwhile are covered by this reload.
            while changes.try_recv().is_ok() {}
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
