//! Earshot: a keyboard-driven social-CRM console and its reference CRM server.
//!
//! Dependencies point one way (DESIGN.md §2): `domain` imports nothing of ours; `rules` and `text`
//! import only `domain`; `client` and `server` build on those; `tui` builds on `client`, `rules`
//! and `text`. The console never imports the server: `main.rs` wires them together for the demo.
pub mod backoff;
pub mod cli;
pub mod client;
pub mod domain;
pub mod lint;
pub mod logging;
pub mod paths;
pub mod rules;
pub mod server;
pub mod text;
pub mod triage;
pub mod tui;
