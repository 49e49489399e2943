//! The console's configuration: the options it starts with, and the keymap, theme and canned
//! replies loaded from the user's files (every problem a warning, never an error).

use super::theme::ColorDepth;
use std::path::{Path, PathBuf};

/// How to start the console. Everything is optional: the defaults come from the environment
/// (XDG paths, `NO_COLOR`/`COLORTERM`/`TERM`) and the embedded files.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    /// Theme name: `default`, `light`, `base16`, `mono`, or a file `<config_dir>/themes/NAME.toml`.
    pub theme: Option<String>,
    /// Keymap preset under the user's keymap: `default`, `vim`, `emacs`.
    pub keymap_preset: Option<String>,
    /// Colour depth override (`--color truecolor|256|16|none`).
    pub color: Option<ColorDepth>,
    /// Capture the mouse (`--mouse`, or `mouse = true` in the config file).
    pub mouse: bool,
    /// Change nothing (`--read-only`): every data-changing action is disabled.
    pub read_only: bool,
    /// Where `keymap.toml`, `canned.toml` and `themes/` are (default `$XDG_CONFIG_HOME/earshot`).
    pub config_dir: Option<PathBuf>,
    /// Where drafts are kept (default `$XDG_DATA_HOME/earshot`).
    pub data_dir: Option<PathBuf>,
}

/// The resolved configuration of a console session.
pub struct LoadedConfig {
    pub config_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub depth: ColorDepth,
    pub keymap: super::keymap::Keymap,
    pub theme: super::theme::Theme,
    pub canned: Vec<super::model::CannedReply>,
    pub warnings: Vec<String>,
}

fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

/// Load keymap, theme and canned replies; every problem is a warning, never an error.
pub fn load_config(options: &ConsoleOptions) -> LoadedConfig {
    let config_dir = Some(
        options
            .config_dir
            .clone()
            .unwrap_or_else(crate::paths::config_dir),
    );
    let data_dir = Some(
        options
            .data_dir
            .clone()
            .unwrap_or_else(crate::paths::data_dir),
    );
    let depth = options
        .color
        .unwrap_or_else(|| ColorDepth::detect(|k| std::env::var(k).ok()));
    let mut warnings = Vec::new();

    let keymap_path = config_dir.as_ref().map(|d| d.join("keymap.toml"));
    let user_keymap = match keymap_path.as_deref().map(read_optional) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            warnings.push(e);
            None
        }
        None => None,
    };
    let origin = keymap_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let (keymap, w) = super::keymap::Keymap::load(
        options.keymap_preset.as_deref(),
        user_keymap.as_deref().map(|s| (s, origin.as_str())),
    );
    warnings.extend(w);

    let theme_name = options.theme.clone().unwrap_or_else(|| "default".into());
    let (theme, w) = super::theme::Theme::load(&theme_name, config_dir.as_deref(), depth);
    warnings.extend(w);

    let canned_path = config_dir.as_ref().map(|d| d.join("canned.toml"));
    let user_canned = match canned_path.as_deref().map(read_optional) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            warnings.push(e);
            None
        }
        None => None,
    };
    let corigin = canned_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let (canned, w) = super::canned::load(user_canned.as_deref().map(|s| (s, corigin.as_str())));
    warnings.extend(w);

    LoadedConfig {
        config_dir,
        data_dir,
        depth,
        keymap,
        theme,
        canned,
        warnings,
    }
}

/// Every problem in the user's configuration (`config.toml`, `keymap.toml`, `canned.toml`,
/// `themes/*.toml`), for `earshot check-config` (which exits non-zero when this is not empty).
pub fn check_config(config_dir: &Path) -> Vec<String> {
    let mut problems = crate::client::config::check_file(&config_dir.join("config.toml"));
    let keymap_path = config_dir.join("keymap.toml");
    match read_optional(&keymap_path) {
        Ok(Some(src)) => {
            let (_, w) =
                super::keymap::Keymap::load(None, Some((&src, &keymap_path.display().to_string())));
            problems.extend(w);
        }
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    let canned_path = config_dir.join("canned.toml");
    match read_optional(&canned_path) {
        Ok(Some(src)) => {
            if let Err(e) = super::canned::parse(&src, &canned_path.display().to_string()) {
                problems.push(e);
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    if let Ok(entries) = std::fs::read_dir(config_dir.join("themes")) {
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("toml"))
            .collect();
        paths.sort();
        for p in paths {
            problems.extend(super::theme::check_theme_file(&p, config_dir));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_config_reports_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_config(dir.path()).is_empty());
        std::fs::write(
            dir.path().join("keymap.toml"),
            "[keys.stream]\nx = \"explode\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("canned.toml"), "[[reply]]\nname = 1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/bad.toml"),
            "\"ui.text\" = \"nocolour\"\n",
        )
        .unwrap();
        let p = check_config(dir.path());
        assert_eq!(p.len(), 3, "{p:#?}");
    }

    #[test]
    fn load_config_survives_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keymap.toml"), "not [ toml").unwrap();
        let opts = ConsoleOptions {
            theme: Some("nope".into()),
            color: Some(ColorDepth::Ansi16),
            config_dir: Some(dir.path().to_path_buf()),
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let cfg = load_config(&opts);
        assert_eq!(cfg.warnings.len(), 2, "{:?}", cfg.warnings);
        assert_eq!(cfg.theme.name, "default");
        assert_eq!(cfg.depth, ColorDepth::Ansi16);
    }
}
