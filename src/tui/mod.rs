//! The console (DESIGN.md §1, §2, §5): a keyboard-driven TUI over a `CrmBackend`.
//!
//! Elm pattern: `model` is the state, `update` the pure reducer, `effects` what it asks for,
//! `app` the loop that connects them to the terminal and the backend, `panes` the rendering.
//! Keymaps (`keymap`) and themes (`theme`) are data files, embedded and overridable.

pub mod action;
pub mod app;
pub mod canned;
pub mod config;
pub mod conversation;
pub mod drafts;
pub mod effect;
pub mod filter;
pub mod guard;
pub mod keymap;
pub mod lint;
pub mod meter;
pub mod model;
pub mod msg;
pub mod overlay;
pub mod panes;
pub mod policy;
pub mod runtime;
pub mod sort;
pub mod team;
pub mod terminal;
pub mod textutil;
pub mod theme;
pub mod update;
pub mod wire;

use std::sync::Arc;

pub use config::{check_config, load_config, ConsoleOptions, LoadedConfig};
pub use theme::ColorDepth;

/// Run the console until the agent quits or a signal arrives. The terminal is restored and
/// drafts are saved on every way out.
pub async fn run_console(
    backend: Arc<dyn crate::client::CrmBackend>,
    options: ConsoleOptions,
) -> anyhow::Result<()> {
    app::run(backend, options).await
}
