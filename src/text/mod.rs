//! Untrusted text: what customers write reaches the agent's terminal only through here.
//!
//! Customer posts are attacker-controlled (DESIGN.md §6). The client sanitises every
//! customer-supplied string once, at ingest ([`sanitize`], [`sanitize_inline`], [`sanitize_json`]
//! and the [`Sanitize`] impls for the domain types), so that nothing downstream (the panes, the
//! window title, the clipboard, the logs) ever sees a control character, an escape sequence, a
//! bidi override or an invisible format character. Emoji, every script and combining marks are
//! kept.
//!
//! The width helpers ([`display_width`], [`truncate_to_width`], [`wrap`], [`pad_to_width`]) work
//! on grapheme clusters and measure them the way ratatui does, so that a row laid out here is the
//! row ratatui draws.
//!
//! This module imports nothing of ours but `crate::domain` (DESIGN.md §2).

mod domain;
mod sanitize;
mod width;

pub use domain::{
    sanitize_agent, sanitize_customer, sanitize_feedback, sanitize_history_entry,
    sanitize_identity, sanitize_message, sanitize_problem, sanitize_reply, sanitize_transaction,
    Sanitize,
};
pub use sanitize::{
    is_forbidden, sanitize, sanitize_inline, sanitize_json, sanitize_with_limit, INLINE_KEYS,
    MAX_COMBINING_RUN, MAX_INLINE_BYTES, MAX_TEXT_BYTES, TRUNCATION_MARKER,
};
pub use width::{display_width, grapheme_width, pad_to_width, truncate_to_width, wrap};
