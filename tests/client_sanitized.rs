//! `Sanitized<HttpBackend>` over the real wire: hostile text posted to the real server comes back
//! as the server stored it through the bare `HttpBackend`, and clean, field by field, through
//! the wrapper the console is given (answers, errors and events alike). A second test poisons
//! every string of every answer the real server gives (a CRM that sends anything) and checks that
//! nothing hostile gets through the wrapper.

mod common;

use common::*;
use earshot::client::{ClientError, CrmBackend, FeedbackQuery, HttpBackend, Sanitized, StreamItem};
use earshot::domain::api::{FeedbackPatch, NewFeedback, NewReply, Page};
use earshot::domain::event_payload::{EventPayload, TypedEvent};
use earshot::domain::problem::ProblemExtension;
use earshot::domain::*;
// Not the harness's `Reply` (an HTTP answer).
use earshot::domain::Reply;
use earshot::text::{is_forbidden, sanitize, sanitize_inline};
use futures::stream::{BoxStream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

const TEXT: &str = "Refund \u{1b}[2J\u{1b}]0;pwned\u{7}now\n\u{202e}gnp.exe\u{202c} 👨\u{200d}👩\u{200d}👧 \u{9b}31m\tdone \u{1b}P1$qm\u{1b}\\";
const HANDLE: &str = "@eve\u{1b}[31m\u{200b}\u{2066}x";
const NAME: &str = "Eve\n\u{1b}]52;c;cm0gLXJm\u{7}lyn\u{feff}";
const URL: &str = "https://x.example/eve/status/1\u{1b}]8;;https://evil.example/\u{1b}\\";

fn hostile(s: &str) -> bool {
    s.chars()
        .any(|c| is_forbidden(c) || matches!(c, '\u{200b}' | '\u{feff}'))
}

/// Every string of `v` as JSON, with its JSON pointer.
fn strings(v: &serde_json::Value, at: String, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::String(s) => out.push((at, s.clone())),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, format!("{at}/{i}"), out);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                strings(x, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn assert_clean<T: Serialize>(what: &str, v: &T) {
    let mut out = Vec::new();
    strings(&serde_json::to_value(v).unwrap(), String::new(), &mut out);
    for (at, s) in out {
        assert!(!hostile(&s), "{what}{at} = {s:?}");
    }
}

fn assert_clean_error(what: &str, e: &ClientError) {
    let text = e.to_string();
    assert!(!hostile(&text) && !text.contains('\n'), "{what}: {text:?}");
    match e {
        ClientError::Stale { changes, .. } => assert_clean(what, changes),
        ClientError::Refused { problem, .. } => {
            assert!(!hostile(&problem.kind), "{what}: {problem:?}");
            assert_clean(what, &problem.errors);
            match &problem.extension {
                ProblemExtension::RuleViolation(r) => assert_clean(what, r),
                ProblemExtension::StaleThread(s) => assert_clean(what, s),
                ProblemExtension::RulebookChanged(c) => assert_clean(what, c),
                ProblemExtension::None => {}
            }
        }
        _ => {}
    }
}

async fn next_event(
    stream: &mut BoxStream<'static, StreamItem>,
    want: impl Fn(&TypedEvent) -> bool,
) -> TypedEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(StreamItem::Event(e))) if want(&e) => return e,
            Ok(Some(_)) => {}
            other => panic!("no such event: {other:?}"),
        }
    }
}

fn new_feedback() -> NewFeedback {
    NewFeedback {
        channel: Channel::X,
        text: TEXT.into(),
        author_handle: HANDLE.into(),
        author_name: Some(NAME.into()),
        customer_id: None,
        thread_id: None,
        url: Some(URL.into()),
        received_at: None,
        external_id: None,
        parent_external_id: None,
    }
}

/// The console's own cleaning of an item (tui::model::clean_feedback / clean_identity): the text
/// multi-line, the author's handle and name, the url, department and assignee on one line.
fn assert_cleaned_as_the_console_did(f: &Feedback) {
    assert_eq!(f.text, sanitize(TEXT));
    assert!(f.text.contains('\n') && f.text.contains("👨\u{200d}👩\u{200d}👧"));
    assert_eq!(f.author.handle, sanitize_inline(HANDLE));
    assert_eq!(f.author.display_name, sanitize_inline(NAME));
    assert_eq!(f.url.as_deref(), Some(sanitize_inline(URL).as_str()));
    assert_eq!(f.department, sanitize_inline(&f.department));
    assert_clean("feedback", f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feedback_posted_to_the_real_server_reads_back_clean_through_the_wrapper() {
    let s = start().await;
    let raw = HttpBackend::new(&s.base, SAM).unwrap();
    let b = Sanitized::new(HttpBackend::new(&s.base, SAM).unwrap());
    let mut events = b.events(None);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .unwrap(),
        Some(StreamItem::Connected)
    );

    let created = b.create_feedback(&new_feedback()).await.unwrap();
    assert_cleaned_as_the_console_did(&created);
    let id = created.id.clone();

    // The wire carries the text as the customer wrote it; the bare backend hands it over so.
    let bare = raw.feedback(&id).await.unwrap();
    assert_eq!(bare.feedback.text, TEXT);
    assert_eq!(bare.feedback.author.handle, HANDLE);
    assert!(hostile(&bare.thread[0].body));

    let event = next_event(
        &mut events,
        |e| matches!(&e.payload, EventPayload::FeedbackCreated(f) if f.id == id),
    )
    .await;
    let EventPayload::FeedbackCreated(f) = &event.payload else {
        unreachable!()
    };
    assert_cleaned_as_the_console_did(f);

    let page = b
        .list_feedback(&FeedbackQuery {
            limit: Some(50),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_clean("list", &page.items);
    assert_cleaned_as_the_console_did(page.items.iter().find(|f| f.id == id).unwrap());

    let detail = b.feedback(&id).await.unwrap();
    assert_cleaned_as_the_console_did(&detail.feedback);
    assert_clean("detail", &detail);
    // The console's clean_message: the body multi-line, author and address on one line.
    let m = &detail.thread[0];
    assert_eq!(m.body, sanitize(TEXT));
    assert_eq!(m.author, sanitize_inline(&bare.thread[0].author));
    assert_eq!(m.address, sanitize_inline(&bare.thread[0].address));

    let patched = b
        .patch_feedback(
            &id,
            detail.feedback.version,
            &FeedbackPatch {
                status: Some(FeedbackStatus::Pending),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_cleaned_as_the_console_did(&patched);
    let event = next_event(
        &mut events,
        |e| matches!(&e.payload, EventPayload::FeedbackUpdated(f) if f.id == id),
    )
    .await;
    let EventPayload::FeedbackUpdated(f) = &event.payload else {
        unreachable!()
    };
    assert_cleaned_as_the_console_did(f);

    // Linked to a customer: the identity, the profile and the timeline quote the customer.
    let identity = b.link_identity(&created.author.id, "cu_ann").await.unwrap();
    assert_eq!(identity.handle, sanitize_inline(HANDLE));
    assert_eq!(identity.display_name, sanitize_inline(NAME));
    let customer = b.customer("cu_ann").await.unwrap();
    assert_clean("customer", &customer);
    let linked = customer
        .identities
        .iter()
        .find(|i| i.id == created.author.id)
        .expect("the identity is linked");
    assert_eq!(linked.handle, sanitize_inline(HANDLE));
    assert!(raw
        .customer("cu_ann")
        .await
        .unwrap()
        .identities
        .iter()
        .any(|i| i.handle == HANDLE));
    let history = b.customer_history("cu_ann").await.unwrap();
    assert_clean("history", &history);
    assert!(history
        .items
        .iter()
        .any(|h| h.feedback_id.as_deref() == Some(id.as_str())));
    assert_clean(
        "matches",
        &b.identity_matches(&created.author.id).await.unwrap(),
    );
    // The link announces the customer, in the shape the server sends (its id, decoded into
    // the typed payload), then re-announces the item (its customer changed): clean again.
    let event = next_event(
        &mut events,
        |e| matches!(&e.payload, EventPayload::CustomerUpdated(c) if c.customer_id == "cu_ann"),
    )
    .await;
    assert!(matches!(&event.payload, EventPayload::CustomerUpdated(c) if c.merged_into.is_none()));
    let event = next_event(&mut events, |e| {
        matches!(&e.payload, EventPayload::FeedbackUpdated(f) if f.id == id && f.customer_id.is_some())
    })
    .await;
    let EventPayload::FeedbackUpdated(f) = &event.payload else {
        unreachable!()
    };
    assert_cleaned_as_the_console_did(f);

    // An error quoting what it was sent.
    let err = b
        .feedback("nope\u{1b}]0;title\u{7}\u{202e}")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotFound(_)), "{err:?}");
    assert_clean_error("not found", &err);
    s.stop().await;
}

/// What a hostile CRM would send: the real server's answers with every string that can hold
/// any text (one the type still accepts with junk in front) prefixed with junk.
struct Poisoned(HttpBackend);

/// Removed whole by either kind of cleaning: a poisoned id cleaned is the server's id again.
const JUNK: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}\u{9b}31m\u{200b}\u{2066}";

/// Opaque tokens handed back to the server, never shown, and the rulebook's TOML (compiled,
/// never shown raw): left alone by the wrapper, so not poisoned here.
const OPAQUE: &[&str] = &["next_cursor", "source"];

fn poison<T: Serialize + DeserializeOwned>(v: T) -> T {
    let mut json = serde_json::to_value(&v).unwrap();
    let mut leaves = Vec::new();
    strings(&json, String::new(), &mut leaves);
    for (at, original) in leaves {
        if OPAQUE.iter().any(|k| at.ends_with(&format!("/{k}"))) {
            continue;
        }
        let poisoned = format!("{JUNK}{original}");
        *json.pointer_mut(&at).unwrap() = poisoned.clone().into();
        let kept = serde_json::from_value::<T>(json.clone())
            .ok()
            .map(|t| serde_json::to_value(t).unwrap())
            .is_some_and(|back| back.pointer(&at) == Some(&poisoned.clone().into()));
        if !kept {
            *json.pointer_mut(&at).unwrap() = original.into();
        }
    }
    serde_json::from_value(json).unwrap()
}

fn poison_error(e: ClientError) -> ClientError {
    let p = |m: String| format!("{JUNK}{m}");
    match e {
        ClientError::Unreachable(m) => ClientError::Unreachable(p(m)),
        ClientError::Unauthorized(m) => ClientError::Unauthorized(p(m)),
        ClientError::NotFound(m) => ClientError::NotFound(p(m)),
        ClientError::Conflict(m) => ClientError::Conflict(p(m)),
        ClientError::Protocol(m) => ClientError::Protocol(p(m)),
        ClientError::Stale { detail, changes } => ClientError::Stale {
            detail: p(detail),
            changes: poison(changes),
        },
        ClientError::Refused {
            detail,
            mut problem,
        } => {
            problem.kind = p(problem.kind);
            problem.errors = poison(problem.errors);
            problem.extension = match problem.extension {
                ProblemExtension::RuleViolation(r) => ProblemExtension::RuleViolation(poison(r)),
                ProblemExtension::StaleThread(s) => ProblemExtension::StaleThread(poison(s)),
                ProblemExtension::RulebookChanged(c) => {
                    ProblemExtension::RulebookChanged(poison(c))
                }
                ProblemExtension::None => ProblemExtension::None,
            };
            ClientError::Refused {
                detail: p(detail),
                problem,
            }
        }
        e @ ClientError::RateLimited(_) => e,
    }
}

fn pass<T: Serialize + DeserializeOwned>(r: Result<T, ClientError>) -> Result<T, ClientError> {
    r.map(poison).map_err(poison_error)
}

#[async_trait::async_trait]
impl CrmBackend for Poisoned {
    async fn me(&self) -> Result<api::Me, ClientError> {
        pass(self.0.me().await)
    }
    async fn list_feedback(&self, q: &FeedbackQuery) -> Result<Page<Feedback>, ClientError> {
        pass(self.0.list_feedback(q).await)
    }
    async fn feedback(&self, id: &str) -> Result<api::FeedbackDetail, ClientError> {
        pass(self.0.feedback(id).await)
    }
    async fn create_feedback(&self, new: &NewFeedback) -> Result<Feedback, ClientError> {
        pass(self.0.create_feedback(new).await)
    }
    async fn patch_feedback(
        &self,
        id: &str,
        version: i64,
        patch: &FeedbackPatch,
    ) -> Result<Feedback, ClientError> {
        pass(self.0.patch_feedback(id, version, patch).await)
    }
    async fn send_reply(
        &self,
        feedback_id: &str,
        key: &str,
        reply: &NewReply,
    ) -> Result<Reply, ClientError> {
        pass(self.0.send_reply(feedback_id, key, reply).await)
    }
    async fn set_presence(&self, id: &str, state: PresenceState) -> Result<(), ClientError> {
        self.0.set_presence(id, state).await.map_err(poison_error)
    }
    async fn customer(&self, id: &str) -> Result<Customer, ClientError> {
        pass(self.0.customer(id).await)
    }
    async fn customer_history(&self, id: &str) -> Result<Page<HistoryEntry>, ClientError> {
        pass(self.0.customer_history(id).await)
    }
    async fn customer_transactions(&self, id: &str) -> Result<Page<Transaction>, ClientError> {
        pass(self.0.customer_transactions(id).await)
    }
    async fn search_customers(&self, q: &str) -> Result<Page<Customer>, ClientError> {
        pass(self.0.search_customers(q).await)
    }
    async fn link_identity(&self, identity: &str, customer: &str) -> Result<Identity, ClientError> {
        pass(self.0.link_identity(identity, customer).await)
    }
    async fn identity_matches(&self, id: &str) -> Result<api::IdentityMatches, ClientError> {
        pass(self.0.identity_matches(id).await)
    }
    async fn agents(&self) -> Result<Vec<Agent>, ClientError> {
        pass(self.0.agents().await)
    }
    async fn departments(&self) -> Result<Vec<Department>, ClientError> {
        pass(self.0.departments().await)
    }
    async fn rules(&self) -> Result<api::RulebookSource, ClientError> {
        pass(self.0.rules().await)
    }
    async fn metrics_summary(
        &self,
        q: &metrics::MetricsQuery,
    ) -> Result<metrics::MetricsSummary, ClientError> {
        pass(self.0.metrics_summary(q).await)
    }
    fn events(&self, last: Option<i64>) -> BoxStream<'static, StreamItem> {
        self.0
            .events(last)
            .map(|item| match item {
                StreamItem::Event(mut e) => {
                    e.payload = match e.payload {
                        EventPayload::FeedbackCreated(f) => {
                            EventPayload::FeedbackCreated(poison(f))
                        }
                        EventPayload::FeedbackUpdated(f) => {
                            EventPayload::FeedbackUpdated(poison(f))
                        }
                        EventPayload::MessageCreated(m) => EventPayload::MessageCreated(poison(m)),
                        EventPayload::ReplyStatusChanged(m) => {
                            EventPayload::ReplyStatusChanged(poison(m))
                        }
                        EventPayload::PresenceChanged(p) => {
                            EventPayload::PresenceChanged(poison(p))
                        }
                        EventPayload::CustomerUpdated(c) => {
                            EventPayload::CustomerUpdated(poison(c))
                        }
                        EventPayload::RulesUpdated(r) => EventPayload::RulesUpdated(poison(r)),
                        EventPayload::StreamReset(r) => EventPayload::StreamReset(r),
                    };
                    StreamItem::Event(e)
                }
                StreamItem::Disconnected {
                    reason,
                    retry_in_ms,
                } => StreamItem::Disconnected {
                    reason: format!("{JUNK}{reason}"),
                    retry_in_ms,
                },
                StreamItem::Connected => StreamItem::Connected,
            })
            .boxed()
    }
}

fn payload_json(e: &TypedEvent) -> serde_json::Value {
    match &e.payload {
        EventPayload::FeedbackCreated(f) | EventPayload::FeedbackUpdated(f) => {
            serde_json::to_value(f)
        }
        EventPayload::MessageCreated(m) | EventPayload::ReplyStatusChanged(m) => {
            serde_json::to_value(m)
        }
        EventPayload::PresenceChanged(p) => serde_json::to_value(p),
        EventPayload::CustomerUpdated(c) => serde_json::to_value(c),
        EventPayload::RulesUpdated(r) => serde_json::to_value(r),
        EventPayload::StreamReset(r) => serde_json::to_value(r),
    }
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_string_of_every_answer_the_real_server_gives_is_cleaned() {
    let s = start().await;
    // The poisoning is real: through the bare poisoned backend, junk is everywhere.
    let bare = Poisoned(HttpBackend::new(&s.base, SAM).unwrap());
    let me = bare.me().await.unwrap();
    assert!(hostile(&me.agent.name) && hostile(&me.agent.id));

    let b = Sanitized::new(Poisoned(HttpBackend::new(&s.base, SAM).unwrap()));
    let mut events = b.events(None);
    // The stream starts at "now" once polled: connected before anything happens.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .unwrap(),
        Some(StreamItem::Connected)
    );
    assert_clean("me", &b.me().await.unwrap());
    let created = b.create_feedback(&new_feedback()).await.unwrap();
    assert_clean("create_feedback", &created);
    // The ids came back poisoned, then cleaned: the clean id is the server's own.
    let id = created.id.clone();
    assert_clean(
        "list_feedback",
        &b.list_feedback(&FeedbackQuery::default()).await.unwrap(),
    );
    let detail = b.feedback(&id).await.unwrap();
    assert_clean("feedback", &detail);
    assert_clean(
        "patch_feedback",
        &b.patch_feedback(
            &id,
            detail.feedback.version,
            &FeedbackPatch {
                status: Some(FeedbackStatus::Open),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
    );
    b.set_presence(&id, PresenceState::Viewing).await.unwrap();
    let card = NewReply {
        parts: vec![ReplyPart {
            visibility: Visibility::Direct,
            body: "Your card 4111 1111 1111 1111 is on file".into(),
        }],
        overrides: vec![],
        rulebook_version: None,
        base_message_id: None,
    };
    let refused = b.send_reply(&id, "card", &card).await.unwrap_err();
    assert!(
        matches!(&refused, ClientError::Refused { problem, .. } if matches!(problem.extension, ProblemExtension::RuleViolation(_))),
        "{refused:?}"
    );
    assert_clean_error("send_reply", &refused);
    let thanks = NewReply {
        parts: vec![ReplyPart {
            visibility: Visibility::Public,
            body: "Thanks for telling us, we are looking into it.".into(),
        }],
        ..card
    };
    match b.send_reply(&id, "thanks", &thanks).await {
        Ok(reply) => assert_clean("send_reply", &reply),
        Err(e) => assert_clean_error("send_reply", &e),
    }
    assert_clean(
        "link_identity",
        &b.link_identity(&created.author.id, "cu_ann").await.unwrap(),
    );
    assert_clean("customer", &b.customer("cu_ann").await.unwrap());
    assert_clean(
        "customer_history",
        &b.customer_history("cu_ann").await.unwrap(),
    );
    assert_clean(
        "customer_transactions",
        &b.customer_transactions("cu_ann").await.unwrap(),
    );
    assert_clean(
        "search_customers",
        &b.search_customers("ann").await.unwrap(),
    );
    assert_clean(
        "identity_matches",
        &b.identity_matches("id_stranger").await.unwrap(),
    );
    assert_clean("agents", &b.agents().await.unwrap());
    assert_clean("departments", &b.departments().await.unwrap());
    let rules = b.rules().await.unwrap();
    assert!(!hostile(&rules.id) && !hostile(&rules.version), "{rules:?}");
    assert_clean(
        "metrics_summary",
        &b.metrics_summary(&Default::default()).await.unwrap(),
    );
    for what in ["not found", "conflict"] {
        let e = match what {
            "not found" => b.customer("cu_nobody").await.unwrap_err(),
            _ => b
                .patch_feedback(
                    &id,
                    1,
                    &FeedbackPatch {
                        status: Some(FeedbackStatus::Pending),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_err(),
        };
        assert_clean_error(what, &e);
    }

    // Every event the actions above caused, poisoned and then cleaned.
    const WANTED: [&str; 3] = ["feedback.created", "feedback.updated", "presence.changed"];
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(item)) = tokio::time::timeout_at(deadline, events.next()).await {
        match item {
            StreamItem::Event(e) => {
                let mut out = Vec::new();
                strings(&payload_json(&e), String::new(), &mut out);
                for (at, text) in out {
                    assert!(!hostile(&text), "{}{at} = {text:?}", e.name());
                }
                seen.insert(e.name().as_str());
                if WANTED.iter().all(|n| seen.contains(n)) {
                    break;
                }
            }
            StreamItem::Disconnected { reason, .. } => assert!(!hostile(&reason), "{reason:?}"),
            StreamItem::Connected => {}
        }
    }
    for name in WANTED {
        assert!(seen.contains(name), "no {name} in {seen:?}");
    }
    s.stop().await;
}
