//! Effects: what `update` asks the world to do. Backend calls run as tasks and answer with a
//! `Msg` on the loop's channel; terminal effects ($EDITOR, OSC 52 copy, quit) are run by the loop
//! itself because they need the terminal.

use super::drafts;
use super::lint::CompiledRules;
use super::model::{Draft, Level, MAX_INITIAL_ITEMS};
use super::theme::{ColorDepth, Theme};
use super::update::Msg;
use crate::client::{CrmBackend, FeedbackQuery};
use crate::domain::api::{FeedbackPatch, NewReply};
use crate::domain::{PresenceState, Visibility};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadMe,
    LoadAgents,
    LoadFeedback {
        generation: u64,
        cursor: Option<String>,
    },
    LoadCustomer(String),
    LoadHistory(String),
    LoadTransactions(String),
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
    Quit,
}

/// What effect tasks need.
#[derive(Clone)]
pub struct Runner {
    pub backend: Arc<dyn CrmBackend>,
    pub tx: UnboundedSender<Msg>,
    pub drafts_dir: Option<PathBuf>,
    pub config_dir: Option<PathBuf>,
    pub depth: ColorDepth,
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
                tokio::spawn(async move {
                    let result = b.send_reply(&feedback_id, &key, &reply).await;
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
                    if let Err(e) = save_drafts_now(&dir, &items) {
                        send(Msg::Notice {
                            level: Level::Error,
                            text: format!("draft not saved: {e}"),
                        });
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

/// Write drafts synchronously (on quit and signals, before the terminal is restored).
pub fn save_drafts_now(
    dir: &std::path::Path,
    items: &[(String, Option<Draft>)],
) -> Result<(), String> {
    let mut first_err = None;
    for (id, d) in items {
        if let Err(e) = drafts::save(dir, id, d.as_ref()) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
