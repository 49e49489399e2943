//! Where Earshot keeps its files, after the XDG base directories, in one place:
//! - config (`$XDG_CONFIG_HOME/earshot`): `config.toml`, `keymap.toml`, `canned.toml`, `themes/`;
//! - data (`$XDG_DATA_HOME/earshot`): the databases, the console's drafts and outbox;
//! - state (`$XDG_STATE_HOME/earshot`): the console's log.
//!
//! Every other module asks here; without a home directory they fall back to `./.earshot`.
//! This module imports nothing of ours, so the client, the console and the server may all use it.

use etcetera::BaseStrategy;
use std::path::{Path, PathBuf};

fn strategy() -> Option<etcetera::base_strategy::Xdg> {
    etcetera::base_strategy::Xdg::new().ok()
}

fn under(dir: impl Fn(&etcetera::base_strategy::Xdg) -> PathBuf) -> PathBuf {
    strategy()
        .map(|s| dir(&s).join("earshot"))
        .unwrap_or_else(|| PathBuf::from(".earshot"))
}

/// `$XDG_DATA_HOME/earshot` (or `~/.local/share/earshot`).
pub fn data_dir() -> PathBuf {
    under(|s| s.data_dir())
}

/// `$XDG_CONFIG_HOME/earshot` (or `~/.config/earshot`).
pub fn config_dir() -> PathBuf {
    under(|s| s.config_dir())
}

/// `$XDG_STATE_HOME/earshot` (or `~/.local/state/earshot`).
pub fn state_dir() -> PathBuf {
    under(|s| {
        s.state_dir()
            .unwrap_or_else(|| s.home_dir().join(".local/state"))
    })
}

/// The user's home directory, for `~/` in paths written in the config file.
pub fn home_dir() -> Option<PathBuf> {
    etcetera::home_dir().ok()
}

/// The console's log file, `earshot.log` in the state directory.
pub fn console_log() -> PathBuf {
    state_dir().join("earshot.log")
}

/// The console's config file, `config.toml` in the config directory.
pub fn config_file() -> PathBuf {
    config_dir().join("config.toml")
}

/// The console's drafts, one file per item, in a data directory.
pub fn drafts_in(data_dir: &Path) -> PathBuf {
    data_dir.join("drafts")
}

/// The console's outbox of replies not yet accepted by the backend, in a data directory.
pub fn outbox_in(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
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

#[cfg(test)]
mod tests {
    use super::*;

    // No environment is changed here: tests run in threads of one process, and setting a
    // variable while another thread reads one is undefined behaviour in libc.
    #[test]
    fn each_kind_of_file_goes_under_its_directory() {
        assert_eq!(config_file(), config_dir().join("config.toml"));
        assert_eq!(drafts_in(&data_dir()), data_dir().join("drafts"));
        assert_eq!(outbox_in(&data_dir()), data_dir().join("outbox"));
        assert_eq!(console_log(), state_dir().join("earshot.log"));
        for dir in [config_dir(), data_dir(), state_dir()] {
            assert!(dir.ends_with("earshot"), "{}", dir.display());
        }
        assert_ne!(state_dir(), data_dir());
    }
}
