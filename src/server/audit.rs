//! The audit of refused requests, bounded so that refusals cannot fill the disk.
//!
//! Every refused mutation is worth knowing about, but not at any cost: an attacker without a
//! token can send thousands of requests a second with 60 kB paths. So what is written is bounded
//! by design, never by the attacker's bytes:
//! - the action is the method and the route *template* (`POST /v1/feedback/{id}/replies`), never
//!   the raw path; the target (an item id) is cut to [`MAX_TARGET`] bytes;
//! - refusals without a valid token are never written one by one: they are counted per route
//!   and status and written as one `refusals.summary` row per key and [`WINDOW`];
//! - an authenticated agent gets [`DETAILED_PER_WINDOW`] detailed rows per window; beyond that
//!   its refusals are counted into the summary too.
//!
//! Summaries are written by the first refusal after a window ends and when the server stops.

use super::store::Store;
use axum::http::{Method, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);
pub const DETAILED_PER_WINDOW: u32 = 30;
pub const MAX_TARGET: usize = 128;
/// Distinct summary keys kept per window; more are folded into one "other" key.
const MAX_KEYS: usize = 256;

/// Who made a request, filled in by the `Auth` extractor once the token is known to be valid, so
/// that the audit middleware need not authenticate the token a second time.
#[derive(Clone, Default)]
pub struct Caller(Arc<OnceLock<String>>);

impl Caller {
    pub fn set(&self, agent_id: &str) {
        let _ = self.0.set(agent_id.to_string());
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// One refusal: who (if the token was valid), what, on which object, and the status.
pub struct Refusal<'a> {
    pub agent: Option<&'a str>,
    pub method: &'a Method,
    /// The route template, or a fixed label such as `(no route)`.
    pub route: &'a str,
    pub target: &'a str,
    pub status: StatusCode,
}

#[derive(Clone)]
pub struct RefusalLog {
    store: Store,
    window: Arc<Mutex<Window>>,
}

struct Window {
    started: Instant,
    detailed: HashMap<String, u32>,
    /// (agent or "anonymous", action, status) → count.
    counted: BTreeMap<(String, String, u16), u64>,
}

impl Window {
    fn new() -> Window {
        Window {
            started: Instant::now(),
            detailed: HashMap::new(),
            counted: BTreeMap::new(),
        }
    }

    fn count(&mut self, who: &str, action: String, status: u16) {
        let mut key = (who.to_string(), action, status);
        if !self.counted.contains_key(&key) && self.counted.len() >= MAX_KEYS {
            key = ("*".into(), "other".into(), 0);
        }
        *self.counted.entry(key).or_default() += 1;
    }
}

/// What to write for one refusal, decided under the lock and written after it.
enum Decision {
    Detailed,
    Counted,
}

impl RefusalLog {
    pub fn new(store: Store) -> RefusalLog {
        RefusalLog {
            store,
            window: Arc::new(Mutex::new(Window::new())),
        }
    }

    pub async fn record(&self, r: Refusal<'_>) {
        // The method too is the caller's bytes (hyper takes any token as a method): only the
        // standard ones are named, and the route is cut.
        let action = format!("{} {}", method_label(r.method), cut(r.route, MAX_TARGET));
        let (decision, ended) = {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            let ended = if w.started.elapsed() >= WINDOW {
                Some(std::mem::replace(&mut *w, Window::new()))
            } else {
                None
            };
            let decision = match r.agent {
                Some(agent) => {
                    let n = w.detailed.entry(agent.to_string()).or_default();
                    if *n < DETAILED_PER_WINDOW {
                        *n += 1;
                        Decision::Detailed
                    } else {
                        w.count(agent, action.clone(), r.status.as_u16());
                        Decision::Counted
                    }
                }
                None => {
                    w.count("anonymous", action.clone(), r.status.as_u16());
                    Decision::Counted
                }
            };
            (decision, ended)
        };
        if let Some(ended) = ended {
            self.write_summary(ended).await;
        }
        if let Decision::Detailed = decision {
            let target = cut(r.target, MAX_TARGET);
            if let Err(e) = self
                .store
                .audit(r.agent, &action, target, "refused", r.status.as_str())
                .await
            {
                tracing::warn!(error = %e, "cannot audit a refused request");
            }
        }
    }

    /// Writes what the current window counted (at shutdown, and by tests).
    pub async fn flush(&self) {
        let ended = {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *w, Window::new())
        };
        self.write_summary(ended).await;
    }

    async fn write_summary(&self, window: Window) {
        let seconds = window.started.elapsed().as_secs().max(1);
        for ((who, action, status), count) in window.counted {
            let agent = (who != "anonymous" && who != "*").then_some(who.as_str());
            let detail = format!("{count} x {status} in {seconds} s");
            if let Err(e) = self
                .store
                .audit(agent, "refusals.summary", &action, "refused", &detail)
                .await
            {
                tracing::warn!(error = %e, "cannot write the refusal summary");
                return;
            }
        }
    }
}

/// A standard method by name; anything else as `OTHER`.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("aé", 2), "a");
    }

    #[test]
    fn a_made_up_method_is_not_written_as_it_came() {
        let long = Method::from_bytes("X".repeat(10_000).as_bytes()).unwrap();
        assert_eq!(method_label(&long), "OTHER");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }

    #[test]
    fn a_full_window_folds_new_keys_into_other() {
        let mut w = Window::new();
        for i in 0..(MAX_KEYS + 10) {
            w.count("anonymous", format!("POST /{i}"), 401);
        }
        assert_eq!(w.counted.len(), MAX_KEYS + 1);
        assert_eq!(w.counted[&("*".to_string(), "other".to_string(), 0)], 10);
    }
}
