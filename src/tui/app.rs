//! The event loop. Background tasks (terminal input, the event stream, signals, a slow tick,
//! effect results) all send `Msg`s into one channel; the loop feeds them to `update`, runs the
//! effects, and draws only when the model changed, at most `FRAME` apart. An idle console
//! writes nothing to the terminal.

use super::config::{load_config, ConsoleOptions, LoadedConfig};
use super::effect::{Effect, UnsavedDrafts};
use super::model::{Level, Model};
use super::msg::Msg;
use super::panes;
use super::runtime::{self, Runner, TerminalEffect};
use super::terminal::TerminalGuard;
use super::update;
use crate::client::CrmBackend;
use chrono::Utc;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
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

/// Run the console until the agent quits or a signal arrives.
pub async fn run(backend: Arc<dyn CrmBackend>, options: ConsoleOptions) -> anyhow::Result<()> {
    let cfg = load_config(&options);
    let drafts_dir = cfg.data_dir.as_deref().map(crate::paths::drafts_in);
    let mut model = Model::new(
        Utc::now(),
        cfg.keymap.clone(),
        cfg.theme.clone(),
        random_seed(),
    );
    let outbox = prepare_model(&mut model, &cfg, &options, drafts_dir.as_deref());

    let (tx, rx) = unbounded_channel::<Msg>();
    let runner = Runner {
        backend: backend.clone(),
        tx: tx.clone(),
        drafts_dir,
        config_dir: cfg.config_dir.clone(),
        depth: cfg.depth,
        outbox,
    };
    let mut guard = TerminalGuard::enter(options.mouse)?;
    let size = guard.terminal.size()?;
    model.size = (size.width, size.height);

    let mut tasks = vec![
        spawn_events(backend.clone(), tx.clone()),
        spawn_tick(tx.clone()),
    ];
    tasks.extend(spawn_signals(tx.clone()));
    let mut console = Console {
        model,
        runner,
        rx,
        input: spawn_input(tx),
        data_dir: cfg.data_dir.clone(),
        stats: Stats::default(),
        started: Instant::now(),
        last_draw: None,
        key_at: None,
    };
    let init = update::init(&mut console.model);
    let result = console.run_loop(&mut guard, init).await;
    console.shut_down(guard, tasks);
    result
}

/// The model as the agent left it: configuration, drafts, the outbox's replies; returns the
/// outbox to deliver through (none when it cannot be opened: replies then go directly).
fn prepare_model(
    model: &mut Model,
    cfg: &LoadedConfig,
    options: &ConsoleOptions,
    drafts_dir: Option<&Path>,
) -> Option<Arc<crate::client::Outbox>> {
    model.canned = cfg.canned.clone();
    model.warnings = cfg.warnings.clone();
    model.read_only = options.read_only;
    // Rows per filter slice: a tuning knob, and how the end-to-end test makes a demo-sized
    // stream go through the sliced path that 100,000 items take.
    if let Some(n) = std::env::var("EARSHOT_FILTER_SLICE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        model.stream.filter_slice = n;
    }
    if let Some(dir) = drafts_dir {
        let (drafts, w) = super::drafts::load_all(dir);
        model.drafts = drafts;
        model.warnings.extend(w);
    }
    let outbox = cfg.data_dir.as_ref().and_then(|d| open_outbox(model, d));
    if !model.warnings.is_empty() {
        let n = model.warnings.len();
        model.set_status(
            Level::Warning,
            format!("{n} configuration problem(s): ? shows them"),
        );
    }
    outbox
}

/// The outbox: what was queued before (a dead backend, a crash) is shown and delivered.
fn open_outbox(model: &mut Model, data_dir: &Path) -> Option<Arc<crate::client::Outbox>> {
    let o = match crate::client::Outbox::open(crate::paths::outbox_in(data_dir)) {
        Ok(o) => Arc::new(o),
        Err(e) => {
            model
                .warnings
                .push(format!("{e}; replies are sent without an outbox"));
            return None;
        }
    };
    model.outbox_enabled = true;
    let _ = o.prune_sent(Duration::from_secs(24 * 3600));
    match o.entries() {
        Ok((entries, problems)) => {
            update::send::load_outbox(model, entries);
            model
                .warnings
                .extend(problems.into_iter().map(|e| e.to_string()));
        }
        Err(e) => model.warnings.push(e.to_string()),
    }
    Some(o)
}

/// The running console: its state, the runtime's runner and the loop's own bookkeeping.
struct Console {
    model: Model,
    runner: Runner,
    rx: UnboundedReceiver<Msg>,
    input: JoinHandle<()>,
    data_dir: Option<std::path::PathBuf>,
    stats: Stats,
    started: Instant,
    last_draw: Option<Instant>,
    /// Time spent in `update` on keys since the last frame.
    key_at: Option<Duration>,
}

/// Why the loop stopped.
type LoopEnd = anyhow::Result<()>;

impl Console {
    async fn run_loop(&mut self, guard: &mut TerminalGuard, init: Vec<Effect>) -> LoopEnd {
        let mut pending = runtime::run_effects(&mut self.model, &self.runner, init);
        loop {
            // The terminal's effects first: they may quit or suspend the console.
            for fx in std::mem::take(&mut pending) {
                if let Some(end) = self.terminal_effect(guard, fx, &mut pending).await {
                    return end;
                }
            }
            if !pending.is_empty() {
                continue;
            }
            self.draw_if_due(guard)?;
            let Some(batch) = self.next_batch().await else {
                return Ok(());
            };
            for msg in batch {
                pending.extend(self.step(msg)?);
            }
        }
    }

    /// One message through the runtime, a panic in the reducer becoming an error (the terminal
    /// is restored and the drafts saved on the way out).
    fn step(&mut self, msg: Msg) -> anyhow::Result<Vec<TerminalEffect>> {
        let is_key = matches!(msg, Msg::Key(_));
        let t = Instant::now();
        let (model, runner) = (&mut self.model, &self.runner);
        let fx = std::panic::catch_unwind(AssertUnwindSafe(|| runtime::step(model, runner, msg)))
            .map_err(|_| anyhow::anyhow!("the console crashed handling an event"))?;
        if is_key {
            self.key_at = Some(self.key_at.unwrap_or_default() + t.elapsed());
        }
        Ok(fx)
    }

    /// Runs one of the terminal's effects; `Some` ends the loop.
    async fn terminal_effect(
        &mut self,
        guard: &mut TerminalGuard,
        fx: TerminalEffect,
        pending: &mut Vec<TerminalEffect>,
    ) -> Option<LoopEnd> {
        match fx {
            TerminalEffect::Quit => return Some(Ok(())),
            TerminalEffect::Copy(text) => {
                if let Err(e) = guard.copy(&text) {
                    self.model
                        .set_status(Level::Error, format!("copy failed: {e}"));
                }
            }
            TerminalEffect::OpenEditor {
                feedback_id,
                part,
                text,
            } => {
                self.input.abort();
                let _ = (&mut self.input).await;
                let edited = match guard.suspend() {
                    Ok(()) => run_editor(&text, self.data_dir.as_deref()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = guard.resume() {
                    return Some(Err(e.into()));
                }
                self.input = spawn_input(self.runner.tx.clone());
                let msg = Msg::EditorDone {
                    feedback_id,
                    part,
                    result: edited,
                };
                match self.step(msg) {
                    Ok(fx) => pending.extend(fx),
                    Err(e) => return Some(Err(e)),
                }
                self.model.dirty = true;
                self.last_draw = None;
            }
        }
        None
    }

    /// Draws when something changed and the last frame is old enough.
    fn draw_if_due(&mut self, guard: &mut TerminalGuard) -> LoopEnd {
        let due = self.next_frame();
        if !self.model.dirty || Instant::now() < due {
            return Ok(());
        }
        let draw_started = Instant::now();
        let model = &self.model;
        let drawn = std::panic::catch_unwind(AssertUnwindSafe(|| {
            guard.terminal.draw(|f| panes::render(f, model)).map(|_| ())
        }));
        match drawn {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(anyhow::anyhow!("the console crashed while drawing")),
        }
        self.model.dirty = false;
        self.stats
            .frame(self.started, draw_started.elapsed(), self.key_at.take());
        self.last_draw = Some(Instant::now());
        Ok(())
    }

    fn next_frame(&self) -> Instant {
        self.last_draw
            .map(|t| t + FRAME)
            .unwrap_or_else(Instant::now)
    }

    /// The next messages (up to `BATCH` of those waiting); `None` once every sender is gone.
    async fn next_batch(&mut self) -> Option<Vec<Msg>> {
        let first = if self.model.stream.filtering() && self.rx.is_empty() {
            // A filter still being applied takes a slice per turn; keys go first.
            Msg::ContinueFilter
        } else if !self.model.dirty {
            self.rx.recv().await?
        } else {
            let due = self.next_frame();
            tokio::select! {
                m = self.rx.recv() => m?,
                // A frame is due: back to the loop to draw it.
                _ = tokio::time::sleep_until(due.into()) => return Some(vec![]),
            }
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    /// Whatever happened, keep the drafts (the composer's too), then give the terminal back.
    fn shut_down(mut self, guard: TerminalGuard, tasks: Vec<JoinHandle<()>>) {
        let mut unsaved = None;
        for f in update::drafts::save_dirty_drafts(&mut self.model) {
            if let Effect::SaveDrafts(items) = f {
                unsaved = self.runner.save_drafts(&items).err();
            }
        }
        self.input.abort();
        for t in tasks {
            t.abort();
        }
        drop(guard);
        // The terminal is ours again: what could not be written goes to the screen, not away.
        if let Some(unsaved) = unsaved.filter(|u| u.items.iter().any(|(_, d)| d.is_some())) {
            eprint!("{}", unsaved_drafts_report(&unsaved));
        }
        if std::env::var_os("EARSHOT_BENCH").is_some() {
            eprintln!("{}", self.stats.report());
        }
    }
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
