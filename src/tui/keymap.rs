//! Keymaps in Helix notation (DESIGN.md §5): `C-s`, `A-ret`, `S-tab`, `g = { g = "select_first" }`
//! for sequences (in the panes' tables), one table per context (`action::Context`: the panes'
//! `[keys.global]`, `[keys.stream]`, `[keys.conversation]`, `[keys.profile]`, `[keys.composer]`,
//! and the overlays' `[keys.pager]`, `[keys.prompt]`, `[keys.picker]`, `[keys.form]`,
//! `[keys.guard]`, `[keys.confirm]`), each falling back as `Context::parents` says. Layers: the embedded default, then a preset (vim, emacs), then the user's
//! file, each merged key by key over the one below. Problems are warnings, never errors: a bad
//! entry is skipped and the rest of the file still applies.

use super::action::{Action, Context};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::HashMap;
use std::fmt;

pub const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
pub const VIM_KEYMAP: &str = include_str!("../../keymaps/vim.toml");
pub const EMACS_KEYMAP: &str = include_str!("../../keymaps/emacs.toml");

/// Names of the embedded presets.
pub const PRESETS: &[&str] = &["default", "vim", "emacs"];

pub fn preset_source(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(DEFAULT_KEYMAP),
        "vim" => Some(VIM_KEYMAP),
        "emacs" => Some(EMACS_KEYMAP),
        _ => None,
    }
}

/// One key press, normalised: shift is folded into the character for printable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPress {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyPress {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let mut code = code;
        match code {
            // `S-a` and `A` are the same key; a terminal reports `A` with SHIFT.
            KeyCode::Char(c) if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                if c.is_ascii_lowercase() {
                    code = KeyCode::Char(c.to_ascii_uppercase());
                }
            }
            KeyCode::BackTab => {
                code = KeyCode::Tab;
                mods.insert(KeyModifiers::SHIFT);
            }
            _ => {}
        }
        KeyPress { code, mods }
    }

    pub fn plain(c: char) -> Self {
        KeyPress::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    /// `None` for key releases, which never trigger anything.
    pub fn from_event(ev: &KeyEvent) -> Option<Self> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        Some(KeyPress::new(ev.code, ev.modifiers))
    }

    /// A printable key without Ctrl or Alt: text when typing, never a global command there.
    pub fn is_text(&self) -> bool {
        matches!(self.code, KeyCode::Char(_))
            && !self
                .mods
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    /// Parse Helix notation: `a`, `A`, `C-s`, `A-ret`, `S-tab`, `C-A-x`, `F5`, `space`, `minus`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty key".into());
        }
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(m @ ('C' | 'A' | 'S')), Some('-')) if rest.len() > 2 => {
                    let flag = match m {
                        'C' => KeyModifiers::CONTROL,
                        'A' => KeyModifiers::ALT,
                        _ => KeyModifiers::SHIFT,
                    };
                    if mods.contains(flag) {
                        return Err(format!("modifier {m} repeated in '{s}'"));
                    }
                    mods.insert(flag);
                    rest = &rest[2..];
                }
                _ => break,
            }
        }
        let code = match rest {
            "ret" | "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "del" => KeyCode::Delete,
            "ins" => KeyCode::Insert,
            "space" => KeyCode::Char(' '),
            "minus" => KeyCode::Char('-'),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => {
                        if let Some(n) = rest.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()) {
                            if (1..=24).contains(&n) {
                                KeyCode::F(n)
                            } else {
                                return Err(format!("unknown key '{s}'"));
                            }
                        } else {
                            return Err(format!("unknown key '{s}'"));
                        }
                    }
                }
            }
        };
        Ok(KeyPress::new(code, mods))
    }
}

impl fmt::Display for KeyPress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("C-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("A-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("S-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("ret"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Insert => f.write_str("ins"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A binding: an action, or the next keys of a sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyTrie {
    Leaf(Action),
    Node(HashMap<KeyPress, KeyTrie>),
}

/// What a key sequence means in a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Action(Action),
    /// A prefix of a longer binding: wait for the next key.
    Pending,
    None,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Keymap {
    maps: HashMap<Context, HashMap<KeyPress, KeyTrie>>,
}

/// A parsed layer: `None` values unbind (`"no_op"`).
type Layer = HashMap<Context, HashMap<KeyPress, Option<LayerTrie>>>;

#[derive(Debug, Clone)]
enum LayerTrie {
    Leaf(Action),
    Node(HashMap<KeyPress, Option<LayerTrie>>),
}

impl Keymap {
    /// The embedded default, then `preset` (if any), then the user's file (if any).
    /// Every problem becomes a warning naming its origin.
    pub fn load(preset: Option<&str>, user: Option<(&str, &str)>) -> (Keymap, Vec<String>) {
        let mut warnings = Vec::new();
        let mut km = Keymap::default();
        km.merge_source(DEFAULT_KEYMAP, "keymaps/default.toml", &mut warnings);
        // The user's file may name a preset itself: `preset = "vim"`.
        let user_preset = user.and_then(|(src, _)| {
            toml::from_str::<toml::Table>(src)
                .ok()
                .and_then(|t| t.get("preset").and_then(|v| v.as_str()).map(str::to_string))
        });
        let preset = preset.map(str::to_string).or(user_preset);
        if let Some(p) = preset.as_deref() {
            match preset_source(p) {
                Some(src) if p != "default" => {
                    km.merge_source(src, &format!("keymaps/{p}.toml"), &mut warnings)
                }
                Some(_) => {}
                None => warnings.push(format!(
                    "keymap: unknown preset '{p}' (known: {})",
                    PRESETS.join(", ")
                )),
            }
        }
        if let Some((src, origin)) = user {
            km.merge_source(src, origin, &mut warnings);
        }
        (km, warnings)
    }

    /// Parse `src` and merge it over this keymap; problems go to `warnings`.
    pub fn merge_source(&mut self, src: &str, origin: &str, warnings: &mut Vec<String>) {
        let layer = parse_layer(src, origin, warnings);
        for (ctx, entries) in layer {
            let map = self.maps.entry(ctx).or_default();
            merge_into(map, entries);
        }
    }

    /// Look a key sequence up in `ctx`, then in the tables it falls back to
    /// ([`Context::parents`]: a pane's ends with the global table, an overlay's never does),
    /// except plain printable keys in the composer (they are text there).
    pub fn lookup(&self, ctx: Context, seq: &[KeyPress]) -> Lookup {
        let r = self.lookup_in(ctx, seq);
        if r != Lookup::None {
            return r;
        }
        let typing = ctx == Context::Composer && seq.first().is_some_and(|k| k.is_text());
        for parent in ctx.parents() {
            if typing && *parent == Context::Global {
                break;
            }
            let r = self.lookup_in(*parent, seq);
            if r != Lookup::None {
                return r;
            }
        }
        Lookup::None
    }

    fn lookup_in(&self, ctx: Context, seq: &[KeyPress]) -> Lookup {
        let Some(mut map) = self.maps.get(&ctx) else {
            return Lookup::None;
        };
        for (i, k) in seq.iter().enumerate() {
            match map.get(k) {
                None => return Lookup::None,
                Some(KeyTrie::Leaf(a)) => {
                    return if i + 1 == seq.len() {
                        Lookup::Action(*a)
                    } else {
                        Lookup::None
                    };
                }
                Some(KeyTrie::Node(next)) => {
                    if i + 1 == seq.len() {
                        return Lookup::Pending;
                    }
                    map = next;
                }
            }
        }
        Lookup::None
    }

    /// Every binding of a context, flattened (`"g g"`), sorted by action then keys.
    pub fn bindings(&self, ctx: Context) -> Vec<(String, Action)> {
        let mut out = Vec::new();
        if let Some(map) = self.maps.get(&ctx) {
            flatten(map, String::new(), &mut out);
        }
        out.sort_by(|a, b| {
            a.1.cmp(&b.1)
                .then(a.0.len().cmp(&b.0.len()))
                .then(a.0.cmp(&b.0))
        });
        out
    }

    /// The shortest key sequence bound to `action` in `ctx` (or in a table it falls back to),
    /// for key hints.
    pub fn keys_for(&self, ctx: Context, action: Action) -> Option<String> {
        let pick = |c: Context| {
            self.bindings(c)
                .into_iter()
                .filter(|(_, a)| *a == action)
                .map(|(k, _)| k)
                .min_by_key(|k| k.len())
        };
        std::iter::once(ctx)
            .chain(ctx.parents().iter().copied())
            .find_map(pick)
    }
}

fn flatten(map: &HashMap<KeyPress, KeyTrie>, prefix: String, out: &mut Vec<(String, Action)>) {
    for (k, v) in map {
        let keys = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix} {k}")
        };
        match v {
            KeyTrie::Leaf(a) => out.push((keys, *a)),
            KeyTrie::Node(next) => flatten(next, keys, out),
        }
    }
}

fn merge_into(map: &mut HashMap<KeyPress, KeyTrie>, entries: HashMap<KeyPress, Option<LayerTrie>>) {
    for (k, v) in entries {
        match v {
            None => {
                map.remove(&k);
            }
            Some(LayerTrie::Leaf(a)) => {
                map.insert(k, KeyTrie::Leaf(a));
            }
            Some(LayerTrie::Node(sub)) => {
                let slot = map
                    .entry(k)
                    .or_insert_with(|| KeyTrie::Node(HashMap::new()));
                if let KeyTrie::Leaf(_) = slot {
                    *slot = KeyTrie::Node(HashMap::new());
                }
                if let KeyTrie::Node(inner) = slot {
                    merge_into(inner, sub);
                }
            }
        }
    }
}

fn parse_layer(src: &str, origin: &str, warnings: &mut Vec<String>) -> Layer {
    let mut layer = Layer::new();
    let table: toml::Table = match toml::from_str(src) {
        Ok(t) => t,
        Err(e) => {
            warnings.push(format!(
                "{origin}: not valid TOML, ignored: {}",
                e.message()
            ));
            return layer;
        }
    };
    for (k, v) in &table {
        match k.as_str() {
            "preset" => {}
            "keys" => {
                let Some(keys) = v.as_table() else {
                    warnings.push(format!("{origin}: 'keys' must be a table"));
                    continue;
                };
                for (ctx_name, entries) in keys {
                    let Some(ctx) = Context::parse(ctx_name) else {
                        let known: Vec<&str> = Context::ALL.iter().map(|c| c.as_str()).collect();
                        warnings.push(format!(
                            "{origin}: unknown table [keys.{ctx_name}] (known: {})",
                            known.join(", ")
                        ));
                        continue;
                    };
                    let Some(entries) = entries.as_table() else {
                        warnings.push(format!("{origin}: [keys.{ctx_name}] must be a table"));
                        continue;
                    };
                    let parsed =
                        parse_entries(entries, ctx, origin, &format!("keys.{ctx_name}"), warnings);
                    layer.entry(ctx).or_default().extend(parsed);
                }
            }
            other => warnings.push(format!("{origin}: unknown setting '{other}'")),
        }
    }
    layer
}

/// A table binds its own actions and those of the tables it falls back to; a pane's table may
/// bind a global action too, an overlay's may not (it has no pane to run it in).
fn may_bind(ctx: Context, a: Action) -> bool {
    ctx.may_bind(a) || (a.context() == Context::Global && !ctx.is_overlay())
}

fn parse_entries(
    table: &toml::Table,
    ctx: Context,
    origin: &str,
    path: &str,
    warnings: &mut Vec<String>,
) -> HashMap<KeyPress, Option<LayerTrie>> {
    let mut out = HashMap::new();
    for (key, value) in table {
        let kp = match KeyPress::parse(key) {
            Ok(k) => k,
            Err(e) => {
                warnings.push(format!("{origin}: [{path}] {e}, binding ignored"));
                continue;
            }
        };
        match value {
            toml::Value::String(name) if name == "no_op" => {
                out.insert(kp, None);
            }
            toml::Value::String(name) => match name.parse::<Action>() {
                Ok(a) if may_bind(ctx, a) => {
                    out.insert(kp, Some(LayerTrie::Leaf(a)));
                }
                Ok(a) => warnings.push(format!(
                    "{origin}: [{path}] '{key}': action '{a}' belongs to [keys.{}], binding ignored",
                    a.context().as_str()
                )),
                Err(e) => warnings.push(format!("{origin}: [{path}] '{key}': {e}, binding ignored")),
            },
            toml::Value::Table(_) if ctx.is_overlay() => warnings.push(format!(
                "{origin}: [{path}] '{key}': an overlay's keys are single keys, not sequences; binding ignored"
            )),
            toml::Value::Table(sub) => {
                let inner = parse_entries(sub, ctx, origin, &format!("{path}.{key}"), warnings);
                out.insert(kp, Some(LayerTrie::Node(inner)));
            }
            _ => warnings.push(format!(
                "{origin}: [{path}] '{key}': expected an action name or a table, binding ignored"
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> KeyPress {
        KeyPress::parse(s).unwrap()
    }

    #[test]
    fn helix_notation_parses_and_prints_back() {
        for s in [
            "a", "A", "C-s", "A-ret", "S-tab", "C-A-x", "F5", "space", "esc", "pagedown", "?", ":",
        ] {
            assert_eq!(k(s).to_string(), s, "{s}");
        }
        assert_eq!(k("S-a"), k("A"));
        assert_eq!(k("minus"), KeyPress::plain('-'));
        assert_eq!(k("enter"), k("ret"));
        assert!(KeyPress::parse("C-C-x").is_err());
        assert!(KeyPress::parse("hyper-x").is_err());
        assert!(KeyPress::parse("F99").is_err());
        assert!(KeyPress::parse("").is_err());
    }

    #[test]
    fn crossterm_events_normalise_like_the_notation() {
        let ev = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(KeyPress::from_event(&ev), Some(k("G")));
        let ev = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(KeyPress::from_event(&ev), Some(k("S-tab")));
    }

    #[test]
    fn default_keymap_loads_without_warnings_and_every_preset_too() {
        for p in PRESETS {
            let (_, w) = Keymap::load(Some(p), None);
            assert!(w.is_empty(), "{p}: {w:?}");
        }
        let (km, _) = Keymap::load(None, None);
        assert_eq!(
            km.lookup(Context::Stream, &[k("j")]),
            Lookup::Action(Action::SelectNext)
        );
        assert_eq!(
            km.lookup(Context::Stream, &[k("?")]),
            Lookup::Action(Action::Help)
        );
        assert_eq!(
            km.lookup(Context::Composer, &[k("C-s")]),
            Lookup::Action(Action::SendReply)
        );
    }

    #[test]
    fn sequences_are_pending_then_resolve() {
        let (km, _) = Keymap::load(None, None);
        assert_eq!(km.lookup(Context::Stream, &[k("g")]), Lookup::Pending);
        assert_eq!(
            km.lookup(Context::Stream, &[k("g"), k("g")]),
            Lookup::Action(Action::SelectFirst)
        );
        assert_eq!(km.lookup(Context::Stream, &[k("g"), k("x")]), Lookup::None);
    }

    #[test]
    fn plain_keys_are_text_in_the_composer() {
        let (km, _) = Keymap::load(None, None);
        assert_eq!(km.lookup(Context::Composer, &[k("q")]), Lookup::None);
        assert_eq!(km.lookup(Context::Composer, &[k("?")]), Lookup::None);
        assert_eq!(
            km.lookup(Context::Stream, &[k("q")]),
            Lookup::Action(Action::Quit)
        );
    }

    #[test]
    fn user_file_merges_over_default_and_unbinds_with_no_op() {
        let user = r#"
            [keys.stream]
            x = "resolve"
            j = "no_op"
            g = { t = "select_last" }
        "#;
        let (km, w) = Keymap::load(None, Some((user, "keymap.toml")));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            km.lookup(Context::Stream, &[k("x")]),
            Lookup::Action(Action::Resolve)
        );
        assert_eq!(km.lookup(Context::Stream, &[k("j")]), Lookup::None);
        assert_eq!(
            km.lookup(Context::Stream, &[k("down")]),
            Lookup::Action(Action::SelectNext)
        );
        assert_eq!(
            km.lookup(Context::Stream, &[k("g"), k("t")]),
            Lookup::Action(Action::SelectLast)
        );
        assert_eq!(
            km.lookup(Context::Stream, &[k("g"), k("g")]),
            Lookup::Action(Action::SelectFirst)
        );
    }

    #[test]
    fn broken_files_warn_and_keep_the_rest() {
        let user = r#"
            preset = "vim"
            colour = "blue"
            [keys.stream]
            x = "explode"
            "C-C-q" = "quit"
            y = 3
            r = "send_reply"
            z = "resolve"
            [keys.sidebar]
            a = "quit"
        "#;
        let (km, w) = Keymap::load(None, Some((user, "keymap.toml")));
        assert_eq!(w.len(), 6, "{w:#?}");
        assert!(w.iter().any(|w| w.contains("unknown action 'explode'")));
        assert!(w.iter().any(|w| w.contains("[keys.sidebar]")));
        assert!(w
            .iter()
            .any(|w| w.contains("send_reply") && w.contains("composer")));
        assert!(w.iter().any(|w| w.contains("colour")));
        assert_eq!(
            km.lookup(Context::Stream, &[k("z")]),
            Lookup::Action(Action::Resolve)
        );

        let (km, w) = Keymap::load(None, Some(("this is [not toml", "keymap.toml")));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("not valid TOML"));
        assert_eq!(
            km.lookup(Context::Stream, &[k("j")]),
            Lookup::Action(Action::SelectNext)
        );

        let (_, w) = Keymap::load(Some("nano"), None);
        assert!(w[0].contains("unknown preset"));
    }

    #[test]
    fn hints_pick_the_shortest_keys() {
        let (km, _) = Keymap::load(None, None);
        assert_eq!(
            km.keys_for(Context::Stream, Action::Help).as_deref(),
            Some("?")
        );
        assert_eq!(
            km.keys_for(Context::Composer, Action::SendReply).as_deref(),
            Some("C-s")
        );
    }
}
