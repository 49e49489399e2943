//! The console's configuration files through the public API, as `earshot check-config` and the
//! console use them: broken files give problems (and defaults), never a crash.

use earshot::tui::keymap::{KeyPress, Keymap, Lookup};
use earshot::tui::theme::{ColorDepth, Theme};
use earshot::tui::{check_config, load_config, ConsoleOptions};

#[test]
fn a_clean_config_directory_has_no_problems() {
    let dir = tempfile::tempdir().unwrap();
    assert!(check_config(dir.path()).is_empty());
    std::fs::write(
        dir.path().join("keymap.toml"),
        "preset = \"vim\"\n[keys.stream]\nx = \"resolve\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    std::fs::write(
        dir.path().join("themes/ocean.toml"),
        "inherits = \"default\"\n[palette]\naccent = \"#00aaff\"\n",
    )
    .unwrap();
    assert_eq!(check_config(dir.path()), Vec::<String>::new());
}

#[test]
fn every_problem_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[keys.stream]\nx = \"explode\"\n\"C-C-x\" = \"quit\"\n[keys.nowhere]\na = \"quit\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    std::fs::write(
        dir.path().join("themes/broken.toml"),
        "\"ui.text\" = { fg = \"#12\" }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("themes/nottoml.toml"), "[[[").unwrap();
    let problems = check_config(dir.path());
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(
        problems
            .iter()
            .filter(|p| p.contains("keymap.toml"))
            .count()
            == 3
    );
    assert!(problems.iter().any(|p| p.contains("broken.toml")));
    assert!(problems.iter().any(|p| p.contains("nottoml.toml")));
}

#[test]
fn the_console_starts_with_defaults_from_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keymap.toml"), "\u{0}garbage").unwrap();
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    std::fs::write(dir.path().join("themes/mine.toml"), "[[[").unwrap();
    let cfg = load_config(&ConsoleOptions {
        theme: Some("mine".into()),
        color: Some(ColorDepth::None),
        config_dir: Some(dir.path().to_path_buf()),
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    assert!(cfg.warnings.len() >= 2, "{:?}", cfg.warnings);
    assert_eq!(
        cfg.keymap.lookup(
            earshot::tui::action::Context::Stream,
            &[KeyPress::plain('j')]
        ),
        Lookup::Action(earshot::tui::action::Action::SelectNext)
    );
    assert_eq!(cfg.theme.name, "default");
    assert_eq!(
        cfg.theme.get("ui.selection").bg,
        None,
        "no colour at depth none"
    );
}

#[test]
fn presets_and_themes_are_embedded() {
    for p in ["default", "vim", "emacs"] {
        let (_, w) = Keymap::load(Some(p), None);
        assert!(w.is_empty(), "{p}: {w:?}");
    }
    for t in ["default", "light", "base16", "mono"] {
        let (theme, w) = Theme::load(t, None, ColorDepth::Ansi16);
        assert!(w.is_empty(), "{t}: {w:?}");
        assert_eq!(theme.name, t);
    }
}
