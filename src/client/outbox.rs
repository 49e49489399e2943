//! The durable outbox: a reply is written to disk (fsync) before it is sent, and stays there,
//! queued, until the backend has it. Nothing an agent sends is lost to a dead backend, a
//! crash or a restart, and nothing is delivered twice: every entry carries its own
//! `Idempotency-Key`, reused on every attempt, so the server answers a repeat with the stored
//! result.
//!
//! One JSON file per entry (`$XDG_DATA_HOME/earshot/outbox/<key>.json`), written atomically and
//! privately. States: `queued` → `sent`, or `queued` → `failed` (with the reason: the rules
//! refused it, the item is gone...). [`Outbox::drain`] sends what is queued through any
//! [`CrmBackend`].

use super::backend::{ClientError, CrmBackend};
use super::fsutil::{
    decode_file_stem, encode_file_stem, read_json_or_quarantine, remove_durably,
    write_private_atomic, UnreadableFile,
};
use crate::backoff::Backoff;
use crate::domain::api::NewReply;
use crate::domain::Reply;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// After this many attempts that failed in ways that are not the network's fault (the server
/// answered something unexpected), an entry is marked failed rather than retried forever.
pub const MAX_ATTEMPTS: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be delivered (or delivered, but the answer never arrived).
    Queued,
    /// The backend accepted it.
    Sent,
    /// The backend refused it for good; `last_error` says why.
    Failed,
}

/// One reply on its way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The `Idempotency-Key` of every attempt.
    pub key: String,
    pub feedback_id: String,
    pub reply: NewReply,
    pub state: OutboxState,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why the last attempt did not deliver it (or why it failed for good).
    #[serde(default)]
    pub last_error: Option<String>,
    /// The server's reply id, once sent.
    #[serde(default)]
    pub reply_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("outbox entry {path} could not be read ({message}); moved aside")]
    Corrupt {
        path: PathBuf,
        kept_at: Option<PathBuf>,
        message: String,
    },
    #[error("no outbox entry with key {0}")]
    NotFound(String),
    #[error("idempotency keys are 1 to 200 characters of A-Z a-z 0-9 . _ : -, not {0:?}")]
    BadKey(String),
}

impl From<UnreadableFile> for OutboxError {
    fn from(e: UnreadableFile) -> Self {
        match e {
            UnreadableFile::Io { path, message } => OutboxError::Io { path, message },
            UnreadableFile::Corrupt {
                path,
                kept_at,
                message,
            } => OutboxError::Corrupt {
                path,
                kept_at,
                message,
            },
        }
    }
}

/// What one [`Outbox::drain`] did.
#[derive(Debug, Default)]
pub struct DrainReport {
    /// Delivered now: `(key, the server's reply)`.
    pub sent: Vec<(String, Reply)>,
    /// Refused for good now: `(key, reason)`.
    pub failed: Vec<(String, String)>,
    /// Still queued after this drain.
    pub remaining: usize,
    /// Why the drain stopped early (the backend is unreachable, rate limiting, the token).
    pub stopped: Option<ClientError>,
    /// When to try again, if the backend said.
    pub retry_after: Option<Duration>,
    /// Entries that could not be read (moved aside).
    pub problems: Vec<OutboxError>,
}

/// A directory of outbox entries.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    /// One drain at a time in this process (the keys make a concurrent one harmless anyway).
    draining: tokio::sync::Mutex<()>,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn check_key(key: &str) -> Result<(), OutboxError> {
    let ok = (1..=200).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(OutboxError::BadKey(crate::text::sanitize_inline(key)))
    }
}

impl Outbox {
    /// The outbox in `dir`, created (0700) when missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, OutboxError> {
        let dir = dir.into();
        super::fsutil::create_private_dir(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(Outbox {
            dir,
            draining: tokio::sync::Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh idempotency key: 128 random bits.
    pub fn new_key() -> String {
        format!("es-{:032x}", rand::random::<u128>())
    }

    fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.json", encode_file_stem(key)))
    }

    fn write(&self, entry: &OutboxEntry) -> Result<(), OutboxError> {
        let path = self.path_for(&entry.key);
        let json = serde_json::to_vec_pretty(entry).map_err(|e| io_err(&path, e))?;
        write_private_atomic(&path, &json).map_err(|e| io_err(&path, e))
    }

    /// Queues a reply under a new key; on return it is on disk (fsync), ready to send.
    pub fn enqueue(&self, feedback_id: &str, reply: NewReply) -> Result<OutboxEntry, OutboxError> {
        self.enqueue_with_key(&Self::new_key(), feedback_id, reply)
    }

    /// Queues a reply under `key`. The same key again returns the entry already there,
    /// unchanged (an idempotent enqueue).
    pub fn enqueue_with_key(
        &self,
        key: &str,
        feedback_id: &str,
        reply: NewReply,
    ) -> Result<OutboxEntry, OutboxError> {
        check_key(key)?;
        if let Some(existing) = self.get(key)? {
            return Ok(existing);
        }
        let now = Utc::now();
        let entry = OutboxEntry {
            key: key.to_string(),
            feedback_id: feedback_id.to_string(),
            reply,
            state: OutboxState::Queued,
            attempts: 0,
            created_at: now,
            updated_at: now,
            last_error: None,
            reply_id: None,
        };
        self.write(&entry)?;
        Ok(entry)
    }

    /// The entry with `key`, if any (a corrupt one is moved aside and reported).
    pub fn get(&self, key: &str) -> Result<Option<OutboxEntry>, OutboxError> {
        check_key(key)?;
        Ok(read_json_or_quarantine(&self.path_for(key))?)
    }

    /// Every entry, oldest first, and the files that could not be read (moved aside).
    pub fn entries(&self) -> Result<(Vec<OutboxEntry>, Vec<OutboxError>), OutboxError> {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        let listing = std::fs::read_dir(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') || decode_file_stem(stem).is_none() {
                continue;
            }
            match read_json_or_quarantine::<OutboxEntry>(&item.path()) {
                Ok(Some(e)) => entries.push(e),
                Ok(None) => {}
                Err(e) => problems.push(e.into()),
            }
        }
        entries.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok((entries, problems))
    }

    /// The queued entries, oldest first: what still has to be delivered.
    pub fn pending(&self) -> Result<Vec<OutboxEntry>, OutboxError> {
        Ok(self
            .entries()?
            .0
            .into_iter()
            .filter(|e| e.state == OutboxState::Queued)
            .collect())
    }

    fn update(
        &self,
        key: &str,
        f: impl FnOnce(&mut OutboxEntry),
    ) -> Result<OutboxEntry, OutboxError> {
        let mut entry = self
            .get(key)?
            .ok_or_else(|| OutboxError::NotFound(key.to_string()))?;
        f(&mut entry);
        entry.updated_at = Utc::now();
        self.write(&entry)?;
        Ok(entry)
    }

    /// The backend has it, stored as `reply_id`.
    pub fn mark_sent(&self, key: &str, reply_id: &str) -> Result<OutboxEntry, OutboxError> {
        self.update(key, |e| {
            e.state = OutboxState::Sent;
            e.last_error = None;
            e.reply_id = Some(reply_id.to_string());
        })
    }

    /// The backend refused it for good, for `reason`.
    pub fn mark_failed(&self, key: &str, reason: &str) -> Result<OutboxEntry, OutboxError> {
        self.update(key, |e| {
            e.state = OutboxState::Failed;
            e.last_error = Some(reason.to_string());
        })
    }

    /// Drops an entry (a failed one the agent dismissed, a sent one no longer shown).
    pub fn remove(&self, key: &str) -> Result<(), OutboxError> {
        check_key(key)?;
        let path = self.path_for(key);
        remove_durably(&path).map_err(|e| io_err(&path, e))
    }

    /// Removes sent entries last updated more than `age` ago; returns how many.
    pub fn prune_sent(&self, age: Duration) -> Result<usize, OutboxError> {
        let cutoff = chrono::Duration::from_std(age)
            .ok()
            .and_then(|age| Utc::now().checked_sub_signed(age))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut n = 0;
        for e in self.entries()?.0 {
            if e.state == OutboxState::Sent && e.updated_at < cutoff {
                self.remove(&e.key)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Sends every queued entry, oldest first, each with its own key.
    ///
    /// - Delivered: marked sent.
    /// - Refused (422 and the like: the rules, validation), not found, or a conflict: marked
    ///   failed with the reason; the drain goes on with the next entry.
    /// - Unreachable, rate limited, or unauthorized: the entry stays queued with the error and
    ///   the drain stops (the next entries would meet the same); call again later (on
    ///   [`StreamItem::Connected`](super::backend::StreamItem::Connected), or see
    ///   [`drain_with_retry`](Self::drain_with_retry)).
    /// - Anything else: stays queued and is retried next time, up to [`MAX_ATTEMPTS`].
    pub async fn drain(&self, backend: &dyn CrmBackend) -> DrainReport {
        let _one_at_a_time = self.draining.lock().await;
        let mut report = DrainReport::default();
        let pending = match self.entries() {
            Ok((entries, problems)) => {
                report.problems = problems;
                entries
                    .into_iter()
                    .filter(|e| e.state == OutboxState::Queued)
                    .collect::<Vec<_>>()
            }
            Err(e) => {
                report.problems.push(e);
                return report;
            }
        };
        let total = pending.len();
        for (i, entry) in pending.into_iter().enumerate() {
            // Count the attempt before making it: a crash mid-send still shows it was tried.
            let entry = match self.update(&entry.key, |e| e.attempts += 1) {
                Ok(e) => e,
                Err(e) => {
                    report.problems.push(e);
                    continue;
                }
            };
            let key = entry.key.clone();
            let outcome = backend
                .send_reply(&entry.feedback_id, &key, &entry.reply)
                .await;
            let recorded = match outcome {
                Ok(reply) => {
                    let recorded = self.mark_sent(&key, &reply.id);
                    report.sent.push((key.clone(), reply));
                    recorded
                }
                Err(err) if err.is_final() => {
                    let reason = err.to_string();
                    report.failed.push((key.clone(), reason.clone()));
                    self.mark_failed(&key, &reason)
                }
                Err(err) if err.keeps_queued() => {
                    if let ClientError::RateLimited(secs) = err {
                        report.retry_after = Some(Duration::from_secs(secs));
                    }
                    let noted = self.update(&key, |e| e.last_error = Some(err.to_string()));
                    report.stopped = Some(err);
                    report.remaining = total - i;
                    if let Err(e) = noted {
                        report.problems.push(e);
                    }
                    return report;
                }
                // Protocol: an answer we could not read; tried again, a bounded number of times.
                Err(err) => {
                    let reason = err.to_string();
                    if entry.attempts >= MAX_ATTEMPTS {
                        report.failed.push((key.clone(), reason.clone()));
                        self.mark_failed(
                            &key,
                            &format!("gave up after {} attempts: {reason}", entry.attempts),
                        )
                    } else {
                        report.remaining += 1;
                        self.update(&key, |e| e.last_error = Some(reason))
                    }
                }
            };
            if let Err(e) = recorded {
                report.problems.push(e);
            }
        }
        report
    }

    /// Sends one queued entry now (the console's send right after [`enqueue_with_key`](
    /// Self::enqueue_with_key)) and records the outcome as [`drain`](Self::drain) does: sent,
    /// failed for good (refused, not found, conflict), or still queued with the error (the
    /// backend is unreachable...: a later drain delivers it under the same key).
    pub async fn deliver(&self, backend: &dyn CrmBackend, key: &str) -> Result<Reply, ClientError> {
        let entry = self
            .update(key, |e| e.attempts += 1)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        if entry.state != OutboxState::Queued {
            tracing::debug!("outbox entry {key} is {:?}; sending again", entry.state);
        }
        let outcome = backend
            .send_reply(&entry.feedback_id, key, &entry.reply)
            .await;
        let recorded = match &outcome {
            Ok(reply) => self.mark_sent(key, &reply.id),
            Err(err) if err.is_final() => self.mark_failed(key, &err.to_string()),
            Err(err) => self.update(key, |e| e.last_error = Some(err.to_string())),
        };
        if let Err(e) = recorded {
            tracing::warn!("{e}");
        }
        outcome
    }

    /// [`drain`](Self::drain) again, with backoff, while the backend is unreachable or rate
    /// limiting, at most `rounds` times; returns the last report.
    pub async fn drain_with_retry(
        &self,
        backend: &dyn CrmBackend,
        rounds: u32,
        mut backoff: Backoff,
    ) -> DrainReport {
        let mut report = self.drain(backend).await;
        for _ in 1..rounds.max(1) {
            let retry = matches!(
                report.stopped,
                Some(ClientError::Unreachable(_) | ClientError::RateLimited(_))
            );
            if !retry {
                break;
            }
            let delay = backoff
                .next_delay()
                .max(report.retry_after.unwrap_or_default());
            tokio::time::sleep(delay).await;
            report = self.drain(backend).await;
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{FeedbackQuery, RulebookSource, StreamItem};
    use crate::domain::api::{
        FeedbackDetail, FeedbackPatch, IdentityMatches, Me, NewFeedback, Page,
    };
    use crate::domain::*;
    use futures::stream::BoxStream;
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    /// A backend whose `send_reply` answers from a script, and remembers every call.
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<VecDeque<Result<(), ClientError>>>,
        calls: Mutex<Vec<(String, String)>>,
        /// Keys the "server" has delivered: a repeat returns the stored reply.
        delivered: Mutex<HashMap<String, Reply>>,
    }

    impl Scripted {
        fn answering(answers: Vec<Result<(), ClientError>>) -> Self {
            Scripted {
                answers: Mutex::new(answers.into()),
                ..Default::default()
            }
        }
    }

    fn unused<T>() -> Result<T, ClientError> {
        Err(ClientError::Protocol("not used in this test".into()))
    }

    #[async_trait::async_trait]
    impl CrmBackend for Scripted {
        async fn me(&self) -> Result<Me, ClientError> {
            unused()
        }
        async fn list_feedback(&self, _: &FeedbackQuery) -> Result<Page<Feedback>, ClientError> {
            unused()
        }
        async fn feedback(&self, _: &str) -> Result<FeedbackDetail, ClientError> {
            unused()
        }
        async fn create_feedback(&self, _: &NewFeedback) -> Result<Feedback, ClientError> {
            unused()
        }
        async fn patch_feedback(
            &self,
            _: &str,
            _: i64,
            _: &FeedbackPatch,
        ) -> Result<Feedback, ClientError> {
            unused()
        }
        async fn send_reply(
            &self,
            feedback_id: &str,
            key: &str,
            reply: &NewReply,
        ) -> Result<Reply, ClientError> {
            self.calls
                .lock()
                .unwrap()
                .push((feedback_id.to_string(), key.to_string()));
            self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))?;
            let mut delivered = self.delivered.lock().unwrap();
            let n = delivered.len();
            Ok(delivered
                .entry(key.to_string())
                .or_insert_with(|| Reply {
                    id: format!("rp_{n}"),
                    feedback_id: feedback_id.to_string(),
                    agent_id: "ag_1".into(),
                    parts: reply.parts.clone(),
                    overrides: reply.overrides.clone(),
                    messages: vec![],
                    created_at: Utc::now(),
                })
                .clone())
        }
        async fn set_presence(&self, _: &str, _: PresenceState) -> Result<(), ClientError> {
            unused()
        }
        async fn customer(&self, _: &str) -> Result<Customer, ClientError> {
            unused()
        }
        async fn customer_history(&self, _: &str) -> Result<Page<HistoryEntry>, ClientError> {
            unused()
        }
        async fn customer_transactions(&self, _: &str) -> Result<Page<Transaction>, ClientError> {
            unused()
        }
        async fn search_customers(&self, _: &str) -> Result<Page<Customer>, ClientError> {
            unused()
        }
        async fn link_identity(&self, _: &str, _: &str) -> Result<Identity, ClientError> {
            unused()
        }
        async fn identity_matches(&self, _: &str) -> Result<IdentityMatches, ClientError> {
            unused()
        }
        async fn agents(&self) -> Result<Vec<Agent>, ClientError> {
            unused()
        }
        async fn departments(&self) -> Result<Vec<Department>, ClientError> {
            unused()
        }
        async fn rules(&self) -> Result<RulebookSource, ClientError> {
            unused()
        }
        fn events(&self, _: Option<i64>) -> BoxStream<'static, StreamItem> {
            Box::pin(futures::stream::empty())
        }
    }

    fn reply(body: &str) -> NewReply {
        NewReply {
            parts: vec![ReplyPart {
                visibility: Visibility::Public,
                body: body.into(),
            }],
            overrides: vec![],
            rulebook_version: None,
            base_message_id: None,
        }
    }

    fn down() -> ClientError {
        ClientError::Unreachable("connection refused".into())
    }

    #[tokio::test]
    async fn queued_replies_survive_a_restart_and_are_delivered_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = {
            let outbox = Outbox::open(dir.path()).unwrap();
            let e = outbox.enqueue("fb_1", reply("We're on it")).unwrap();
            assert_eq!(e.state, OutboxState::Queued);
            // The backend is down: the reply stays queued, with why.
            let r = outbox.drain(&Scripted::answering(vec![Err(down())])).await;
            assert_eq!(r.stopped, Some(down()));
            assert_eq!(r.remaining, 1);
            let p = outbox.pending().unwrap();
            assert_eq!(
                (p[0].attempts, p[0].last_error.as_deref()),
                (1, Some("backend unreachable: connection refused"))
            );
            e.key
        };
        // The console restarts; the backend is back.
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.pending().unwrap().len(), 1);
        let backend = Scripted::default();
        let r = outbox.drain(&backend).await;
        assert_eq!(r.sent.len(), 1);
        assert_eq!(r.sent[0].0, key);
        assert!(r.stopped.is_none());
        assert!(outbox.pending().unwrap().is_empty());
        let sent = outbox.get(&key).unwrap().unwrap();
        assert_eq!(
            (sent.state, sent.reply_id.as_deref(), sent.attempts),
            (OutboxState::Sent, Some("rp_0"), 2)
        );
        // Draining again sends nothing.
        let r = outbox.drain(&backend).await;
        assert!(r.sent.is_empty());
        assert_eq!(backend.calls.lock().unwrap().len(), 1);
        assert_eq!(backend.calls.lock().unwrap()[0], ("fb_1".to_string(), key));
    }

    #[tokio::test]
    async fn a_lost_answer_is_retried_with_the_same_key() {
        // Delivered, but the answer was lost (timeout): the retry carries the same key and the
        // server answers with the stored reply: one delivery.
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let e = outbox.enqueue("fb_1", reply("hello")).unwrap();
        let backend = Scripted::default();
        backend.send_reply("fb_1", &e.key, &e.reply).await.unwrap();
        let r = outbox.drain(&backend).await;
        assert_eq!(r.sent[0].1.id, "rp_0");
        assert_eq!(backend.delivered.lock().unwrap().len(), 1);
        let calls = backend.calls.lock().unwrap();
        assert!(calls.iter().all(|(_, k)| *k == e.key));
    }

    #[tokio::test]
    async fn a_refusal_fails_that_entry_with_its_reason_and_the_drain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let a = outbox
            .enqueue_with_key("k-a", "fb_1", reply("full refund guaranteed"))
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let b = outbox.enqueue_with_key("k-b", "fb_2", reply("ok")).unwrap();
        let refused = ClientError::Refused {
            detail: "rule no-refund-promises".into(),
            problem: Default::default(),
        };
        let r = outbox
            .drain(&Scripted::answering(vec![Err(refused), Ok(())]))
            .await;
        assert_eq!(
            r.failed,
            vec![(
                "k-a".to_string(),
                "refused: rule no-refund-promises".to_string()
            )]
        );
        assert_eq!(r.sent.len(), 1);
        assert_eq!(r.sent[0].0, b.key);
        let a = outbox.get(&a.key).unwrap().unwrap();
        assert_eq!(a.state, OutboxState::Failed);
        assert_eq!(
            a.last_error.as_deref(),
            Some("refused: rule no-refund-promises")
        );
        assert!(outbox.pending().unwrap().is_empty());
        outbox.remove("k-a").unwrap();
        assert_eq!(outbox.entries().unwrap().0.len(), 1);
    }

    #[tokio::test]
    async fn rate_limits_stop_the_drain_and_say_when() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.enqueue_with_key("k1", "fb_1", reply("a")).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        outbox.enqueue_with_key("k2", "fb_1", reply("b")).unwrap();
        let backend = Scripted::answering(vec![Err(ClientError::RateLimited(3))]);
        let r = outbox.drain(&backend).await;
        assert_eq!(
            (r.retry_after, r.remaining, r.sent.len()),
            (Some(Duration::from_secs(3)), 2, 0)
        );
        assert_eq!(backend.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn drain_with_retry_waits_out_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.enqueue("fb_1", reply("a")).unwrap();
        let backend = Scripted::answering(vec![Err(down()), Err(down())]);
        let r = outbox
            .drain_with_retry(
                &backend,
                5,
                Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
            )
            .await;
        assert_eq!(r.sent.len(), 1);
        assert_eq!(backend.calls.lock().unwrap().len(), 3);
        let e = &outbox.entries().unwrap().0[0];
        assert_eq!((e.state, e.attempts), (OutboxState::Sent, 3));
    }

    #[tokio::test]
    async fn unexpected_errors_are_retried_then_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.enqueue_with_key("k1", "fb_1", reply("a")).unwrap();
        let odd = || Err(ClientError::Protocol("unexpected HTTP 500".into()));
        for _ in 0..MAX_ATTEMPTS - 1 {
            let r = outbox.drain(&Scripted::answering(vec![odd()])).await;
            assert_eq!(r.remaining, 1);
        }
        let r = outbox.drain(&Scripted::answering(vec![odd()])).await;
        assert_eq!(r.failed.len(), 1);
        assert!(r.failed[0].1.contains("HTTP 500"));
        assert_eq!(
            outbox.get("k1").unwrap().unwrap().state,
            OutboxState::Failed
        );
    }

    #[tokio::test]
    async fn corrupt_entries_are_moved_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.enqueue_with_key("good", "fb_1", reply("a")).unwrap();
        std::fs::write(dir.path().join("bad.json"), b"{\"key\":").unwrap();
        let r = outbox.drain(&Scripted::default()).await;
        assert_eq!(r.sent.len(), 1);
        assert_eq!(r.problems.len(), 1);
        assert!(matches!(
            &r.problems[0],
            OutboxError::Corrupt {
                kept_at: Some(_),
                ..
            }
        ));
        assert!(outbox.entries().unwrap().1.is_empty());
    }

    #[test]
    fn keys_are_checked_and_enqueue_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let k = Outbox::new_key();
        assert!(check_key(&k).is_ok());
        assert_ne!(k, Outbox::new_key());
        let first = outbox.enqueue_with_key(&k, "fb_1", reply("one")).unwrap();
        let again = outbox.enqueue_with_key(&k, "fb_1", reply("two")).unwrap();
        assert_eq!(first, again);
        for bad in ["", "has space", "new\nline", "../x", &"k".repeat(201)] {
            assert!(
                matches!(
                    outbox.enqueue_with_key(bad, "fb", reply("x")),
                    Err(OutboxError::BadKey(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            outbox.mark_sent("nope", "rep_1"),
            Err(OutboxError::NotFound(_))
        ));
        outbox.mark_failed(&k, "dismissed").unwrap();
        assert!(outbox.pending().unwrap().is_empty());
        outbox.mark_sent(&k, "rep_1").unwrap();
        assert_eq!(outbox.prune_sent(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(outbox.prune_sent(Duration::ZERO).unwrap(), 1);
        assert!(outbox.entries().unwrap().0.is_empty());
    }
}
