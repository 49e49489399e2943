//! The event loop. Background tasks (terminal input, the event stream, signals, a slow tick,
//! effect results) all send `Msg`s into one channel; the loop feeds them to `update`, runs the
//! effects, and draws only when the model changed, at most `FRAME` apart. An idle console
//! writes nothing to the terminal.

use super::effects::{save_drafts_now, Effect, Runner, UnsavedDrafts};
use super::model::{Level, Model};
use super::terminal::TerminalGuard;
use super::update::{self, Msg};
use super::{load_config, panes, ConsoleOptions};
use crate::client::CrmBackend;
use chrono::Utc;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;

/// Minimum time between two frames (60 fps at most).
const FRAME: Duration = Duration::from_millis(16);
/// Messages handled before a frame is drawn, when many arrive at once.
const BATCH: usize = 512;

fn spawn_input(tx: UnboundedSender<Msg>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(ev) = events.next().await {
            let msg = match ev {
                Ok(Event::Key(k)) => Msg::Key(k),
                Ok(Event::Paste(s)) => Msg::Paste(s),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(Event::Mouse(m)) => Msg::Mouse(m),
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("terminal input: {e}");
                    break;
                }
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    })
}

fn spawn_signals(tx: UnboundedSender<Msg>) -> Option<JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut hup = signal(SignalKind::hangup()).ok()?;
    let mut int = signal(SignalKind::interrupt()).ok()?;
    Some(tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
            _ = int.recv() => "SIGINT",
        };
        let _ = tx.send(Msg::Signal(name.into()));
    }))
}

fn spawn_tick(tx: UnboundedSender<Msg>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_secs(1));
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            iv.tick().await;
            if tx.send(Msg::Tick(Utc::now())).is_err() {
                break;
            }
        }
    })
}

fn spawn_events(backend: Arc<dyn CrmBackend>, tx: UnboundedSender<Msg>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut s = backend.events(None);
        while let Some(item) = s.next().await {
            if tx.send(Msg::Stream(item)).is_err() {
                break;
            }
        }
    })
}

/// Run $EDITOR (or $VISUAL, else vi) on `text` in a temporary file.
fn run_editor(text: &str, data_dir: Option<&Path>) -> Result<String, String> {
    let editor = std::env::var("VISUAL")
        .ok()
        .or_else(|| std::env::var("EDITOR").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let dir = data_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("earshot-reply-{}.txt", std::process::id()));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // The editor may carry arguments ("code --wait"): split on whitespace, shell-free.
    let mut parts = editor.split_whitespace();
    let prog = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(prog)
        .args(parts)
        .arg(&path)
        .status();
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path).map_err(|e| e.to_string()),
        Ok(s) => Err(format!("{editor} exited with {s}; the draft is unchanged")),
        Err(e) => Err(format!("cannot run {editor}: {e}")),
    };
    let _ = std::fs::remove_file(&path);
    result
}

pub async fn run(backend: Arc<dyn CrmBackend>, options: ConsoleOptions) -> anyhow::Result<()> {
    let cfg = load_config(&options);
    let drafts_dir = cfg.data_dir.as_deref().map(crate::paths::drafts_in);
    let mut model = Model::new(Utc::now(), cfg.keymap, cfg.theme, random_seed());
    model.canned = cfg.canned;
    model.warnings = cfg.warnings;
    model.read_only = options.read_only;
    // Rows per filter slice: a tuning knob, and how the end-to-end test makes a demo-sized
    // stream go through the sliced path that 100,000 items take.
    if let Some(n) = std::env::var("EARSHOT_FILTER_SLICE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        model.stream.filter_slice = n;
    }
    if let Some(dir) = &drafts_dir {
        let (drafts, w) = super::drafts::load_all(dir);
        model.drafts = drafts;
        model.warnings.extend(w);
    }
    // The outbox: what was queued before (a dead backend, a crash) is shown and delivered.
    let outbox = cfg.data_dir.as_ref().and_then(|d| {
        match crate::client::Outbox::open(crate::paths::outbox_in(d)) {
            Ok(o) => Some(Arc::new(o)),
            Err(e) => {
                model
                    .warnings
                    .push(format!("{e}; replies are sent without an outbox"));
                None
            }
        }
    });
    if let Some(o) = &outbox {
        model.outbox_enabled = true;
        let _ = o.prune_sent(Duration::from_secs(24 * 3600));
        match o.entries() {
            Ok((entries, problems)) => {
                update::send::load_outbox(&mut model, entries);
                model
                    .warnings
                    .extend(problems.into_iter().map(|e| e.to_string()));
            }
            Err(e) => model.warnings.push(e.to_string()),
        }
    }
    if !model.warnings.is_empty() {
        let n = model.warnings.len();
        model.set_status(
            Level::Warning,
            format!("{n} configuration problem(s): ? shows them"),
        );
    }

    let (tx, mut rx) = unbounded_channel::<Msg>();
    let runner = Runner {
        backend: backend.clone(),
        tx: tx.clone(),
        drafts_dir: drafts_dir.clone(),
        config_dir: cfg.config_dir.clone(),
        depth: cfg.depth,
        outbox,
    };

    let started = Instant::now();
    let mut stats = Stats::default();
    let mut guard = TerminalGuard::enter(options.mouse)?;
    let size = guard.terminal.size()?;
    model.size = (size.width, size.height);

    let mut input = spawn_input(tx.clone());
    let mut tasks = vec![
        spawn_events(backend.clone(), tx.clone()),
        spawn_tick(tx.clone()),
    ];
    tasks.extend(spawn_signals(tx.clone()));

    let mut pending = update::init(&mut model);
    let mut last_draw: Option<Instant> = None;
    // Time spent in `update` on keys since the last frame.
    let mut key_at: Option<Duration> = None;
    let result: anyhow::Result<()> = 'main: loop {
        // Effects first: some are the terminal's.
        for fx in std::mem::take(&mut pending) {
            match fx {
                Effect::Quit => break 'main Ok(()),
                Effect::SaveDrafts(items) => {
                    // Small files, written at once so nothing is lost if we stop right after.
                    if let Some(dir) = &drafts_dir {
                        if let Err(unsaved) = save_drafts_now(dir, &items) {
                            pending
                                .extend(update::update(&mut model, Msg::DraftsNotSaved(unsaved)));
                        }
                    }
                }
                Effect::Copy(text) => {
                    if let Err(e) = guard.copy(&text) {
                        model.set_status(Level::Error, format!("copy failed: {e}"));
                    }
                }
                Effect::OpenEditor {
                    feedback_id,
                    part,
                    text,
                } => {
                    input.abort();
                    let _ = (&mut input).await;
                    let edited = match guard.suspend() {
                        Ok(()) => run_editor(&text, cfg.data_dir.as_deref()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = guard.resume() {
                        break 'main Err(e.into());
                    }
                    input = spawn_input(tx.clone());
                    let msg = Msg::EditorDone {
                        feedback_id,
                        part,
                        result: edited,
                    };
                    pending.extend(update::update(&mut model, msg));
                    model.dirty = true;
                    last_draw = None;
                }
                other => runner.spawn(other),
            }
        }
        if !pending.is_empty() {
            continue;
        }

        // Draw when something changed and the last frame is old enough.
        if model.dirty {
            let due = last_draw.map(|t| t + FRAME).unwrap_or_else(Instant::now);
            if Instant::now() >= due {
                let draw_started = Instant::now();
                let drawn = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    guard
                        .terminal
                        .draw(|f| panes::render(f, &model))
                        .map(|_| ())
                }));
                match drawn {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => break 'main Err(e.into()),
                    Err(_) => {
                        break 'main Err(anyhow::anyhow!("the console crashed while drawing"))
                    }
                }
                model.dirty = false;
                stats.frame(started, draw_started.elapsed(), key_at.take());
                last_draw = Some(Instant::now());
            }
        }

        let msg = if model.stream.filtering() && rx.is_empty() {
            // A filter still being applied takes a slice per turn; keys go first.
            Some(Msg::ContinueFilter)
        } else if model.dirty {
            let due = last_draw.map(|t| t + FRAME).unwrap_or_else(Instant::now);
            tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(due.into()) => continue,
            }
        } else {
            rx.recv().await
        };
        let Some(msg) = msg else { break Ok(()) };
        let mut batch = vec![msg];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        for msg in batch {
            let is_key = matches!(msg, Msg::Key(_));
            let t = Instant::now();
            match std::panic::catch_unwind(AssertUnwindSafe(|| update::update(&mut model, msg))) {
                Ok(fx) => {
                    if is_key {
                        key_at = Some(key_at.unwrap_or_default() + t.elapsed());
                    }
                    pending.extend(fx)
                }
                Err(_) => {
                    break 'main Err(anyhow::anyhow!("the console crashed handling an event"))
                }
            }
        }
    };

    // Whatever happened, keep the drafts: the composer's too.
    let mut unsaved = None;
    for f in update::drafts::save_dirty_drafts(&mut model) {
        if let (Effect::SaveDrafts(items), Some(dir)) = (f, &drafts_dir) {
            unsaved = save_drafts_now(dir, &items).err();
        }
    }
    input.abort();
    for t in tasks {
        t.abort();
    }
    drop(guard);
    // The terminal is ours again: what could not be written goes to the screen, not away.
    if let Some(unsaved) = unsaved.filter(|u| u.items.iter().any(|(_, d)| d.is_some())) {
        eprint!("{}", unsaved_drafts_report(&unsaved));
    }
    if std::env::var_os("EARSHOT_BENCH").is_some() {
        eprintln!("{}", stats.report());
    }
    result
}

/// The text of drafts that could not be saved on exit, for the agent to copy.
fn unsaved_drafts_report(unsaved: &UnsavedDrafts) -> String {
    // Deletions of emptied drafts that failed are not worth a word: nothing is lost.
    let with_text = unsaved.items.iter().filter(|(_, d)| d.is_some()).count();
    let mut out = format!(
        "earshot: {with_text} draft(s) could not be saved ({}); their text follows.\n",
        super::textutil::sanitize(&unsaved.error)
    );
    for (id, draft) in &unsaved.items {
        let Some(d) = draft else { continue };
        for (part, text) in [("public", &d.public), ("direct", &d.direct)] {
            if !text.trim().is_empty() {
                // Printed to the terminal: no control sequence in it gets through.
                let text = super::textutil::sanitize_multiline(text);
                out.push_str(&format!("--- {id} ({part})\n{text}\n"));
            }
        }
    }
    out
}

/// Timings for the benchmark (`EARSHOT_BENCH=1`, printed after the terminal is restored).
#[derive(Default)]
struct Stats {
    first_frame: Option<Duration>,
    frames: u64,
    keys: u64,
    key_total: Duration,
    key_max: Duration,
}

impl Stats {
    /// A frame drawn in `draw`, after `keys` spent handling keys (if any).
    fn frame(&mut self, started: Instant, draw: Duration, keys: Option<Duration>) {
        self.frames += 1;
        if self.first_frame.is_none() {
            self.first_frame = Some(started.elapsed());
        }
        if let Some(k) = keys {
            let d = k + draw;
            self.keys += 1;
            self.key_total += d;
            self.key_max = self.key_max.max(d);
        }
    }

    fn report(&self) -> String {
        let avg = if self.keys > 0 {
            self.key_total / self.keys as u32
        } else {
            Duration::ZERO
        };
        format!(
            "earshot bench: first frame {:?}; {} frames; {} keystrokes, handling+render avg {:?} max {:?}; {} bytes written",
            self.first_frame.unwrap_or_default(),
            self.frames,
            self.keys,
            avg,
            self.key_max,
            super::terminal::BYTES_WRITTEN.load(std::sync::atomic::Ordering::Relaxed)
        )
    }
}

/// 128 random bits, hex: the prefix of this session's idempotency keys.
fn random_seed() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::model::{Draft, ReplyKind};

    #[test]
    fn unsaved_drafts_are_printed_whole_and_harmless() {
        let draft = Draft {
            feedback_id: "fb_1".into(),
            kind: ReplyKind::Both,
            public: "We are on it.".into(),
            direct: "Your refund of 20 EUR\nis on its way.\x1b]0;pwned\x07".into(),
            updated_at: Utc::now(),
            idempotency_key: None,
        };
        let report = unsaved_drafts_report(&UnsavedDrafts {
            items: vec![("fb_1".into(), Some(draft)), ("fb_2".into(), None)],
            error: "No space left on device (os error 28)".into(),
        });
        assert!(report.starts_with("earshot: 1 draft(s) could not be saved (No space left"));
        assert!(report.contains("--- fb_1 (public)\nWe are on it.\n"));
        assert!(report.contains("Your refund of 20 EUR\nis on its way."));
        assert!(!report.contains('\x1b') && !report.contains('\x07'));
    }
}
