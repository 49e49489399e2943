//! Effects: what `update` asks the world to do. Backend calls run as tasks and answer with a
//! `Msg` on the loop's channel; terminal effects ($EDITOR, OSC 52 copy, quit) are run by the loop
//! itself because they need the terminal.

use super::drafts;
use super::lint::CompiledRules;
use super::model::{Draft, MAX_INITIAL_ITEMS};
use super::msg::Msg;
use super::theme::{ColorDepth, Theme};
use crate::client::{ClientError, CrmBackend, FeedbackQuery, Outbox};
use crate::domain::api::{FeedbackPatch, NewFeedback, NewReply};
use crate::domain::{PresenceState, Visibility};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadMe,
    LoadAgents,
    LoadDepartments,
    /// `GET /v1/feedback/{id}`: the item and its thread.
    LoadThread(String),
    /// Log offline feedback (`POST /v1/feedback`).
    CreateFeedback(NewFeedback),
    /// Send what the outbox still has queued (at start, on reconnect).
    DrainOutbox,
    /// Forget an outbox entry (its text went back to the composer).
    DropOutbox(String),
    /// Answer with `Msg::Wake(wake)` after `after_ms`.
    Wake {
        after_ms: u64,
        wake: Wake,
    },
    LoadFeedback {
        generation: u64,
        cursor: Option<String>,
    },
    LoadCustomer(String),
    LoadHistory(String),
    LoadTransactions(String),
    /// Write the reply to the outbox (fsync), then send it under `key`.
    SendReply {
        feedback_id: String,
        key: String,
        reply: NewReply,
    },
    Patch {
        feedback_id: String,
        version: i64,
        patch: FeedbackPatch,
    },
    SetPresence {
        feedback_id: String,
        state: PresenceState,
    },
    SearchCustomers(String),
    /// The server's suggestions for linking this identity.
    LoadMatches(String),
    LinkIdentity {
        identity_id: String,
        customer_id: String,
    },
    LoadRules,
    LoadTheme(String),
    /// Suspend the terminal, edit `text` in $EDITOR, resume.
    OpenEditor {
        feedback_id: String,
        part: Visibility,
        text: String,
    },
    /// OSC 52 copy to the terminal's clipboard.
    Copy(String),
    /// Write these drafts (None deletes the file).
    SaveDrafts(Vec<(String, Option<Draft>)>),
    /// A line for the log (never customer text).
    Log(String),
    /// `GET /v1/metrics/summary` for the Team screen.
    LoadTeam(crate::domain::metrics::MetricsQuery),
    Quit,
}

impl Effect {
    /// Whether the effect changes data on the server: never run by a read-only console.
    pub fn changes_data(&self) -> bool {
        matches!(
            self,
            Effect::CreateFeedback(_)
                | Effect::DrainOutbox
                | Effect::SendReply { .. }
                | Effect::Patch { .. }
                | Effect::SetPresence { .. }
                | Effect::LinkIdentity { .. }
        )
    }
}

/// Timers `update` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Wake {
    /// The selection has rested on an item: announce `viewing`, load its thread.
    Settled { feedback_id: String, seq: u64 },
    /// The Team screen's debounced refetch after events.
    TeamRefresh,
}

/// What effect tasks need.
#[derive(Clone)]
pub struct Runner {
    pub backend: Arc<dyn CrmBackend>,
    pub tx: UnboundedSender<Msg>,
    pub drafts_dir: Option<PathBuf>,
    pub config_dir: Option<PathBuf>,
    pub depth: ColorDepth,
    /// The durable outbox (`<data dir>/outbox`); without one, replies are sent directly.
    pub outbox: Option<Arc<Outbox>>,
}

/// Page size of the initial fetch.
const PAGE: u32 = 500;

impl Runner {
    /// Run a background effect. Terminal effects are not handled here (see `app`).
    pub fn spawn(&self, effect: Effect) {
        let b = self.backend.clone();
        let tx = self.tx.clone();
        let send = move |m: Msg| {
            let _ = tx.send(m);
        };
        match effect {
            Effect::LoadMe => {
                tokio::spawn(async move { send(Msg::Me(b.me().await)) });
            }
            Effect::LoadAgents => {
                tokio::spawn(async move { send(Msg::Agents(b.agents().await)) });
            }
            Effect::LoadDepartments => {
                tokio::spawn(async move { send(Msg::Departments(b.departments().await)) });
            }
            Effect::LoadTeam(q) => {
                tokio::spawn(async move { send(Msg::Team(b.metrics_summary(&q).await)) });
            }
            Effect::LoadThread(id) => {
                tokio::spawn(async move {
                    let result = b.feedback(&id).await;
                    send(Msg::Thread { id, result })
                });
            }
            Effect::CreateFeedback(new) => {
                tokio::spawn(async move { send(Msg::Created(b.create_feedback(&new).await)) });
            }
            Effect::DrainOutbox => {
                let Some(outbox) = self.outbox.clone() else {
                    return;
                };
                tokio::spawn(async move {
                    let report = outbox.drain(b.as_ref()).await;
                    send(Msg::Drained(report))
                });
            }
            Effect::DropOutbox(key) => {
                let Some(outbox) = self.outbox.clone() else {
                    return;
                };
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = outbox.remove(&key) {
                        tracing::warn!("{e}");
                    }
                });
            }
            Effect::Wake { after_ms, wake } => {
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
                    send(Msg::Wake(wake))
                });
            }
            Effect::LoadFeedback { generation, cursor } => {
                tokio::spawn(async move {
                    let q = FeedbackQuery {
                        assignee: Some("any".into()),
                        limit: Some(PAGE.min(MAX_INITIAL_ITEMS as u32)),
                        cursor,
                        ..Default::default()
                    };
                    send(Msg::FeedbackPage {
                        generation,
                        result: b.list_feedback(&q).await,
                    })
                });
            }
            Effect::LoadCustomer(id) => {
                tokio::spawn(async move {
                    let result = b.customer(&id).await;
                    send(Msg::Customer { id, result })
                });
            }
            Effect::LoadHistory(id) => {
                tokio::spawn(async move {
                    let result = b.customer_history(&id).await;
                    send(Msg::History { id, result })
                });
            }
            Effect::LoadTransactions(id) => {
                tokio::spawn(async move {
                    let result = b.customer_transactions(&id).await;
                    send(Msg::Transactions { id, result })
                });
            }
            Effect::SendReply {
                feedback_id,
                key,
                reply,
            } => {
                let outbox = self.outbox.clone();
                tokio::spawn(async move {
                    let result = match outbox {
                        // Durable first: on disk (fsync) before the request goes out, so a
                        // dead backend, a crash or a restart loses nothing; the key makes every
                        // later attempt (a drain) harmless.
                        Some(outbox) => {
                            let (o, fid, k) = (outbox.clone(), feedback_id.clone(), key.clone());
                            let queued = tokio::task::spawn_blocking(move || {
                                o.enqueue_with_key(&k, &fid, reply)
                            })
                            .await;
                            match queued {
                                Ok(Ok(_)) => outbox.deliver(b.as_ref(), &key).await,
                                Ok(Err(e)) => Err(ClientError::Protocol(format!(
                                    "not written to the outbox: {e}"
                                ))),
                                Err(e) => Err(ClientError::Protocol(e.to_string())),
                            }
                        }
                        None => b.send_reply(&feedback_id, &key, &reply).await,
                    };
                    send(Msg::ReplySent {
                        feedback_id,
                        key,
                        result,
                    })
                });
            }
            Effect::Patch {
                feedback_id,
                version,
                patch,
            } => {
                tokio::spawn(async move {
                    let result = b.patch_feedback(&feedback_id, version, &patch).await;
                    send(Msg::Patched {
                        feedback_id,
                        result,
                    })
                });
            }
            Effect::SetPresence { feedback_id, state } => {
                tokio::spawn(async move {
                    if let Err(e) = b.set_presence(&feedback_id, state).await {
                        tracing::debug!("presence not sent: {e}");
                    }
                });
            }
            Effect::SearchCustomers(query) => {
                tokio::spawn(async move {
                    let result = b.search_customers(&query).await;
                    send(Msg::CustomerSearch { query, result })
                });
            }
            Effect::LoadMatches(identity_id) => {
                tokio::spawn(async move {
                    let result = b.identity_matches(&identity_id).await;
                    send(Msg::Matches {
                        identity_id,
                        result,
                    })
                });
            }
            Effect::LinkIdentity {
                identity_id,
                customer_id,
            } => {
                tokio::spawn(async move {
                    let result = b.link_identity(&identity_id, &customer_id).await;
                    send(Msg::Linked {
                        identity_id,
                        customer_id,
                        result,
                    })
                });
            }
            Effect::LoadRules => {
                tokio::spawn(async move {
                    let result = match b.rules().await {
                        Ok(src) => {
                            tokio::task::spawn_blocking(move || CompiledRules::compile(&src))
                                .await
                                .map_err(|e| e.to_string())
                                .and_then(|r| r)
                                .map(Arc::new)
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    send(Msg::Rules(result))
                });
            }
            Effect::LoadTheme(name) => {
                let dir = self.config_dir.clone();
                let depth = self.depth;
                tokio::spawn(async move {
                    let (theme, warnings) = tokio::task::spawn_blocking(move || {
                        Theme::load(&name, dir.as_deref(), depth)
                    })
                    .await
                    .unwrap_or_else(|e| (Theme::default(), vec![e.to_string()]));
                    send(Msg::ThemeLoaded { theme, warnings })
                });
            }
            Effect::SaveDrafts(items) => {
                let Some(dir) = self.drafts_dir.clone() else {
                    return;
                };
                tokio::task::spawn_blocking(move || {
                    if let Err(unsaved) = save_drafts_now(&dir, &items) {
                        send(Msg::DraftsNotSaved(unsaved));
                    }
                });
            }
            Effect::Log(line) => tracing::info!("{line}"),
            Effect::OpenEditor { .. } | Effect::Copy(_) | Effect::Quit => {
                tracing::warn!("terminal effect reached the background runner");
            }
        }
    }
}

/// Drafts that could not be written, and why (a full disk, a directory gone read-only). They
/// stay in memory and are retried; on exit their text is printed rather than lost.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsavedDrafts {
    pub items: Vec<(String, Option<Draft>)>,
    pub error: String,
}

/// Write drafts synchronously (on quit and signals, before the terminal is restored).
pub fn save_drafts_now(
    dir: &std::path::Path,
    items: &[(String, Option<Draft>)],
) -> Result<(), UnsavedDrafts> {
    let mut unsaved = UnsavedDrafts {
        items: Vec::new(),
        error: String::new(),
    };
    for (id, d) in items {
        if let Err(e) = drafts::save(dir, id, d.as_ref()) {
            if unsaved.items.is_empty() {
                unsaved.error = e;
            }
            unsaved.items.push((id.clone(), d.clone()));
        }
    }
    if unsaved.items.is_empty() {
        Ok(())
    } else {
        Err(unsaved)
    }
}
