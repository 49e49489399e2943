//! Where Earshot keeps its files: the XDG data directory (databases, drafts, outbox, logs) and
//! the XDG config directory (config, keymap, theme).

use etcetera::BaseStrategy;
use std::path::PathBuf;

fn strategy() -> Option<etcetera::base_strategy::Xdg> {
    etcetera::base_strategy::Xdg::new().ok()
}

/// `$XDG_DATA_HOME/earshot` (or `~/.local/share/earshot`); `./.earshot` when there is no home.
pub fn data_dir() -> PathBuf {
    strategy()
        .map(|s| s.data_dir().join("earshot"))
        .unwrap_or_else(|| PathBuf::from(".earshot"))
}

/// `$XDG_CONFIG_HOME/earshot` (or `~/.config/earshot`).
pub fn config_dir() -> PathBuf {
    strategy()
        .map(|s| s.config_dir().join("earshot"))
        .unwrap_or_else(|| PathBuf::from(".earshot"))
}

pub fn default_db() -> String {
    data_dir().join("earshot.db").to_string_lossy().into_owned()
}

pub fn demo_db() -> String {
    data_dir().join("demo.db").to_string_lossy().into_owned()
}

/// The intake key file `serve` and `intake add` use unless told otherwise.
pub fn intake_key() -> PathBuf {
    data_dir().join("intake.key")
}
