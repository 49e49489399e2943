//! The runtime: one step of the console (a message in, the reducer, its effects run) used by the
//! terminal loop (`app`) and by the headless tests alike, so no test copies the loop.
//!
//! Backend calls run as tasks that answer with a `Msg` on the loop's channel; drafts are written
//! at once (small files: nothing is lost if the console stops right after); the terminal's own
//! effects ($EDITOR, OSC 52 copy, quit) are handed back to whoever owns the terminal.

use super::drafts;
use super::effect::{Effect, UnsavedDrafts};
use super::lint::CompiledRules;
use super::model::draft::Draft;
use super::model::{Model, MAX_INITIAL_ITEMS};
use super::msg::Msg;
use super::theme::{ColorDepth, Theme};
use super::update::update;
use crate::client::{ClientError, CrmBackend, FeedbackQuery, Outbox};
use crate::domain::api::NewReply;
use crate::domain::Visibility;
use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// What only the owner of the terminal can do.
#[derive(Debug, Clone, PartialEq)]
pub enum TerminalEffect {
    Quit,
    /// OSC 52 copy.
    Copy(String),
    /// Suspend the console and edit a part of the draft in $EDITOR.
    OpenEditor {
        feedback_id: String,
        part: Visibility,
        text: String,
    },
}

/// One step: `msg` through the reducer, then every effect run; the terminal's are returned.
#[must_use]
pub fn step(model: &mut Model, runner: &Runner, msg: Msg) -> Vec<TerminalEffect> {
    let effects = update(model, msg);
    run_effects(model, runner, effects)
}

/// Runs `effects` (and those of any message a synchronous effect feeds back, such as drafts
/// that could not be written); returns the terminal's effects, in order.
#[must_use]
pub fn run_effects(
    model: &mut Model,
    runner: &Runner,
    effects: Vec<Effect>,
) -> Vec<TerminalEffect> {
    let mut queue = VecDeque::from(effects);
    let mut terminal = Vec::new();
    while let Some(effect) = queue.pop_front() {
        match effect {
            Effect::Quit => terminal.push(TerminalEffect::Quit),
            Effect::Copy(text) => terminal.push(TerminalEffect::Copy(text)),
            Effect::OpenEditor {
                feedback_id,
                part,
                text,
            } => terminal.push(TerminalEffect::OpenEditor {
                feedback_id,
                part,
                text,
            }),
            Effect::SaveDrafts(items) => {
                if let Err(unsaved) = runner.save_drafts(&items) {
                    queue.extend(update(model, Msg::DraftsNotSaved(unsaved)));
                }
            }
            other => runner.spawn(other),
        }
    }
    terminal
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
    /// Writes drafts now; without a drafts directory there is nothing to write to.
    pub fn save_drafts(&self, items: &[(String, Option<Draft>)]) -> Result<(), UnsavedDrafts> {
        match &self.drafts_dir {
            Some(dir) => save_drafts_now(dir, items),
            None => Ok(()),
        }
    }

    /// Runs `fut` as a task and sends its message to the loop.
    fn answer(&self, fut: impl Future<Output = Msg> + Send + 'static) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(fut.await);
        });
    }

    /// Runs a background effect. The terminal's effects and draft saves are `run_effects`'.
    pub fn spawn(&self, effect: Effect) {
        let b = self.backend.clone();
        match effect {
            Effect::LoadMe => self.answer(async move { Msg::Me(b.me().await) }),
            Effect::LoadAgents => self.answer(async move { Msg::Agents(b.agents().await) }),
            Effect::LoadDepartments => {
                self.answer(async move { Msg::Departments(b.departments().await) })
            }
            Effect::LoadTeam(q) => {
                self.answer(async move { Msg::Team(b.metrics_summary(&q).await) })
            }
            Effect::CreateFeedback(new) => {
                self.answer(async move { Msg::Created(b.create_feedback(&new).await) })
            }
            Effect::DrainOutbox => self.drain_outbox(),
            Effect::DropOutbox(key) => self.drop_outbox(key),
            Effect::Wake { after_ms, wake } => self.answer(async move {
                tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
                Msg::Wake(wake)
            }),
            Effect::SendReply {
                feedback_id,
                key,
                reply,
            } => self.send_reply(feedback_id, key, reply),
            Effect::SetPresence { feedback_id, state } => {
                tokio::spawn(async move {
                    if let Err(e) = b.set_presence(&feedback_id, state).await {
                        tracing::debug!("presence not sent: {e}");
                    }
                });
            }
            Effect::LoadRules => self.answer(async move { Msg::Rules(load_rules(b).await) }),
            Effect::LoadTheme(name) => self.load_theme(name),
            Effect::Log(line) => tracing::info!("{line}"),
            Effect::SaveDrafts(_) | Effect::OpenEditor { .. } | Effect::Copy(_) | Effect::Quit => {
                tracing::warn!("an effect of the loop reached the background runner");
            }
            // Listed, not `_`: a new effect must be given a place here.
            e @ (Effect::LoadThread(_)
            | Effect::LoadFeedback { .. }
            | Effect::LoadCustomer(_)
            | Effect::LoadHistory(_)
            | Effect::LoadTransactions(_)
            | Effect::Patch { .. }) => self.load(e),
            e @ (Effect::SearchCustomers(_)
            | Effect::LoadMatches(_)
            | Effect::LinkIdentity { .. }) => self.search(e),
        }
    }

    /// The effects that fetch or change one thing and answer with it.
    fn load(&self, effect: Effect) {
        let b = self.backend.clone();
        match effect {
            Effect::LoadThread(id) => self.answer(async move {
                let result = b.feedback(&id).await;
                Msg::Thread { id, result }
            }),
            Effect::LoadFeedback { generation, cursor } => self.answer(async move {
                let q = FeedbackQuery {
                    assignee: Some("any".into()),
                    limit: Some(PAGE.min(MAX_INITIAL_ITEMS as u32)),
                    cursor,
                    ..Default::default()
                };
                let result = b.list_feedback(&q).await;
                Msg::FeedbackPage { generation, result }
            }),
            Effect::LoadCustomer(id) => self.answer(async move {
                let result = b.customer(&id).await;
                Msg::Customer { id, result }
            }),
            Effect::LoadHistory(id) => self.answer(async move {
                let result = b.customer_history(&id).await;
                Msg::History { id, result }
            }),
            Effect::LoadTransactions(id) => self.answer(async move {
                let result = b.customer_transactions(&id).await;
                Msg::Transactions { id, result }
            }),
            Effect::Patch {
                feedback_id,
                version,
                patch,
            } => self.answer(async move {
                let result = b.patch_feedback(&feedback_id, version, &patch).await;
                Msg::Patched {
                    feedback_id,
                    result,
                }
            }),
            // `spawn` sends only the effects above.
            _ => {}
        }
    }

    /// The link picker's lookups and the link itself.
    fn search(&self, effect: Effect) {
        let b = self.backend.clone();
        match effect {
            Effect::SearchCustomers(query) => self.answer(async move {
                let result = b.search_customers(&query).await;
                Msg::CustomerSearch { query, result }
            }),
            Effect::LoadMatches(identity_id) => self.answer(async move {
                let result = b.identity_matches(&identity_id).await;
                Msg::Matches {
                    identity_id,
                    result,
                }
            }),
            Effect::LinkIdentity {
                identity_id,
                customer_id,
            } => self.answer(async move {
                let result = b.link_identity(&identity_id, &customer_id).await;
                Msg::Linked {
                    identity_id,
                    customer_id,
                    result,
                }
            }),
            // `spawn` sends only the effects above.
            _ => {}
        }
    }

    fn drain_outbox(&self) {
        let (Some(outbox), b) = (self.outbox.clone(), self.backend.clone()) else {
            return;
        };
        self.answer(async move { Msg::Drained(outbox.drain(b.as_ref()).await) });
    }

    fn drop_outbox(&self, key: String) {
        let Some(outbox) = self.outbox.clone() else {
            return;
        };
        tokio::task::spawn_blocking(move || {
            if let Err(e) = outbox.remove(&key) {
                tracing::warn!("{e}");
            }
        });
    }

    fn send_reply(&self, feedback_id: String, key: String, reply: NewReply) {
        let (outbox, b) = (self.outbox.clone(), self.backend.clone());
        self.answer(async move {
            let result = match outbox {
                Some(outbox) => deliver_durably(outbox, b, &feedback_id, &key, reply).await,
                None => b.send_reply(&feedback_id, &key, &reply).await,
            };
            Msg::ReplySent {
                feedback_id,
                key,
                result,
            }
        });
    }

    fn load_theme(&self, name: String) {
        let (dir, depth) = (self.config_dir.clone(), self.depth);
        self.answer(async move {
            let (theme, warnings) =
                tokio::task::spawn_blocking(move || Theme::load(&name, dir.as_deref(), depth))
                    .await
                    .unwrap_or_else(|e| (Theme::default(), vec![e.to_string()]));
            Msg::ThemeLoaded { theme, warnings }
        });
    }
}

/// Durable first: on disk (fsync) before the request goes out, so a dead backend, a crash or a
/// restart loses nothing; the key makes every later attempt (a drain) harmless.
async fn deliver_durably(
    outbox: Arc<Outbox>,
    b: Arc<dyn CrmBackend>,
    feedback_id: &str,
    key: &str,
    reply: NewReply,
) -> Result<crate::domain::Reply, ClientError> {
    let (o, fid, k) = (outbox.clone(), feedback_id.to_string(), key.to_string());
    let queued = tokio::task::spawn_blocking(move || o.enqueue_with_key(&k, &fid, reply)).await;
    match queued {
        Ok(Ok(_)) => outbox.deliver(b.as_ref(), key).await,
        Ok(Err(e)) => Err(ClientError::Protocol(format!(
            "not written to the outbox: {e}"
        ))),
        Err(e) => Err(ClientError::Protocol(e.to_string())),
    }
}

/// The server's rulebook, compiled off the async threads.
async fn load_rules(b: Arc<dyn CrmBackend>) -> Result<Arc<CompiledRules>, String> {
    let src = b.rules().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || CompiledRules::compile(&src))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map(Arc::new)
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
