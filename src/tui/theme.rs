//! Themes in Helix style (DESIGN.md §5): a `[palette]` of named colours, dotted scopes
//! (`ui.border.focus`, `stream.item.unread`, `rule.error`...) whose value is a colour or a table
//! `{ fg, bg, modifiers }`, and `inherits = "NAME"`. A scope that is not set falls back to its
//! parent (`stream.item.unread` -> `stream.item` -> `stream`). Colours are reduced at load to what
//! the terminal can show; with no colour at all, selection and focus keep a modifier so they stay
//! visible. A bad file gives warnings and the defaults, never an error.

use ratatui::style::{Color, Modifier, Style};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("base16", include_str!("../../themes/base16.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

pub fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorDepth {
    #[default]
    TrueColor,
    Ansi256,
    Ansi16,
    None,
}

impl FromStr for ColorDepth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "truecolor" | "24bit" | "true" => Ok(ColorDepth::TrueColor),
            "256" | "ansi256" => Ok(ColorDepth::Ansi256),
            "16" | "ansi16" | "ansi" => Ok(ColorDepth::Ansi16),
            "none" | "mono" | "no" | "never" => Ok(ColorDepth::None),
            _ => Err(format!(
                "unknown colour depth '{s}' (truecolor, 256, 16, none)"
            )),
        }
    }
}

impl ColorDepth {
    pub fn as_str(self) -> &'static str {
        match self {
            ColorDepth::TrueColor => "truecolor",
            ColorDepth::Ansi256 => "256",
            ColorDepth::Ansi16 => "16",
            ColorDepth::None => "none",
        }
    }

    /// From `NO_COLOR`, `COLORTERM` and `TERM` (pass `std::env::var` or a fake for tests).
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> ColorDepth {
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorDepth::None;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorDepth::TrueColor;
        }
        let term = env("TERM").unwrap_or_default().to_ascii_lowercase();
        if term == "dumb" {
            ColorDepth::None
        } else if term.contains("truecolor") || term.contains("direct") {
            ColorDepth::TrueColor
        } else if term.contains("256") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }
}

/// Scopes that must stay visible with no colour: they get this modifier when they lose theirs.
const MUST_SHOW: &[(&str, Modifier)] = &[
    ("ui.selection", Modifier::REVERSED),
    ("ui.menu.selected", Modifier::REVERSED),
    ("ui.border.focus", Modifier::BOLD),
    ("ui.title.focus", Modifier::BOLD),
    ("ui.statusbar", Modifier::REVERSED),
    ("rule.error", Modifier::UNDERLINED),
    ("rule.warning", Modifier::UNDERLINED),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub depth: ColorDepth,
    styles: HashMap<String, Style>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::builtin("default", ColorDepth::TrueColor)
    }
}

impl Theme {
    /// An embedded theme; an unknown name gives the default theme.
    pub fn builtin(name: &str, depth: ColorDepth) -> Theme {
        let (t, _) = Theme::load(name, None, depth);
        t
    }

    /// Load `name` from `config_dir/themes/NAME.toml`, else the embedded themes. On any problem
    /// the warnings say so and the result is still a usable theme (the default underneath).
    pub fn load(name: &str, config_dir: Option<&Path>, depth: ColorDepth) -> (Theme, Vec<String>) {
        let mut warnings = Vec::new();
        let resolver = |n: &str| -> Option<(String, String)> {
            if let Some(dir) = config_dir {
                let p = dir.join("themes").join(format!("{n}.toml"));
                if let Ok(s) = std::fs::read_to_string(&p) {
                    return Some((s, p.display().to_string()));
                }
            }
            builtin_source(n).map(|s| (s.to_string(), format!("themes/{n}.toml")))
        };
        let theme = match resolver(name) {
            Some((src, origin)) if toml::from_str::<toml::Table>(&src).is_err() => {
                // Not a theme at all: say so, and use the default.
                let mut w = Vec::new();
                Theme::from_source(name, &src, &origin, &resolver, depth, &mut w);
                warnings.extend(w);
                let (dsrc, dorigin) = resolver("default").expect("default theme is embedded");
                let mut t =
                    Theme::from_source("default", &dsrc, &dorigin, &resolver, depth, &mut warnings);
                t.name = "default".into();
                t
            }
            Some((src, origin)) => {
                Theme::from_source(name, &src, &origin, &resolver, depth, &mut warnings)
            }
            None => {
                warnings.push(format!("theme '{name}' not found, using the default theme"));
                let (src, origin) = resolver("default").expect("default theme is embedded");
                Theme::from_source("default", &src, &origin, &resolver, depth, &mut warnings)
            }
        };
        (theme, warnings)
    }

    /// Parse a theme; `resolver` finds the source of an inherited theme by name.
    pub fn from_source(
        name: &str,
        src: &str,
        origin: &str,
        resolver: &dyn Fn(&str) -> Option<(String, String)>,
        depth: ColorDepth,
        warnings: &mut Vec<String>,
    ) -> Theme {
        let mut palette = HashMap::new();
        let mut raw: HashMap<String, toml::Value> = HashMap::new();
        collect(src, origin, resolver, &mut palette, &mut raw, warnings, 0);
        let mut styles = HashMap::new();
        for (scope, value) in &raw {
            match parse_style(value, &palette) {
                Ok(s) => {
                    styles.insert(scope.clone(), reduce_style(s, depth));
                }
                Err(e) => warnings.push(format!("{origin}: '{scope}': {e}")),
            }
        }
        let mut theme = Theme {
            name: name.to_string(),
            depth,
            styles,
        };
        if depth == ColorDepth::None || name == "mono" {
            for (scope, m) in MUST_SHOW {
                let s = theme.get(scope);
                theme.styles.insert(scope.to_string(), s.add_modifier(*m));
            }
        }
        theme
    }

    /// The style of a scope, falling back to its parents, then to no style.
    pub fn get(&self, scope: &str) -> Style {
        let mut s = scope;
        loop {
            if let Some(st) = self.styles.get(s) {
                return *st;
            }
            match s.rfind('.') {
                Some(i) => s = &s[..i],
                None => return Style::default(),
            }
        }
    }

    /// `base` patched with `scope` (for layering item state over the row style).
    pub fn patch(&self, base: Style, scope: &str) -> Style {
        base.patch(self.get(scope))
    }
}

/// Merge a theme file and what it inherits into `palette` and `raw` (the child wins).
fn collect(
    src: &str,
    origin: &str,
    resolver: &dyn Fn(&str) -> Option<(String, String)>,
    palette: &mut HashMap<String, Color>,
    raw: &mut HashMap<String, toml::Value>,
    warnings: &mut Vec<String>,
    depth: usize,
) {
    let table: toml::Table = match toml::from_str(src) {
        Ok(t) => t,
        Err(e) => {
            warnings.push(format!(
                "{origin}: not valid TOML, using the defaults: {}",
                e.message()
            ));
            return;
        }
    };
    let mut own_palette = HashMap::new();
    if let Some(p) = table.get("palette") {
        match p.as_table() {
            Some(p) => {
                for (k, v) in p {
                    match v.as_str().map(parse_color_literal) {
                        Some(Ok(c)) => {
                            own_palette.insert(k.clone(), c);
                        }
                        Some(Err(e)) => warnings.push(format!("{origin}: palette '{k}': {e}")),
                        None => warnings.push(format!("{origin}: palette '{k}' must be a string")),
                    }
                }
            }
            None => warnings.push(format!("{origin}: [palette] must be a table")),
        }
    }
    if let Some(parent) = table.get("inherits") {
        match parent.as_str() {
            Some(parent) if depth >= 8 => warnings.push(format!(
                "{origin}: inherits '{parent}' goes too deep (a cycle?), ignored"
            )),
            Some(parent) => match resolver(parent) {
                Some((psrc, porigin)) => {
                    collect(&psrc, &porigin, resolver, palette, raw, warnings, depth + 1)
                }
                None => warnings.push(format!("{origin}: inherits unknown theme '{parent}'")),
            },
            None => warnings.push(format!("{origin}: 'inherits' must be a theme name")),
        }
    }
    palette.extend(own_palette);
    for (k, v) in table {
        if k == "palette" || k == "inherits" {
            continue;
        }
        // Dotted keys written as nested tables (`[ui.border]` with `focus = ...`) are flattened,
        // except a style table (it has fg/bg/modifiers/underline keys).
        flatten_scope(&k, v, raw);
    }
}

fn flatten_scope(prefix: &str, v: toml::Value, raw: &mut HashMap<String, toml::Value>) {
    match v {
        toml::Value::Table(t)
            if !t
                .keys()
                .all(|k| matches!(k.as_str(), "fg" | "bg" | "modifiers" | "underline")) =>
        {
            for (k, sub) in t {
                if matches!(k.as_str(), "fg" | "bg" | "modifiers" | "underline") {
                    continue;
                }
                flatten_scope(&format!("{prefix}.{k}"), sub, raw);
            }
        }
        other => {
            raw.insert(prefix.to_string(), other);
        }
    }
}

fn parse_style(v: &toml::Value, palette: &HashMap<String, Color>) -> Result<Style, String> {
    match v {
        toml::Value::String(s) => Ok(Style::default().fg(color(s, palette)?)),
        toml::Value::Table(t) => {
            let mut st = Style::default();
            for (k, val) in t {
                match k.as_str() {
                    "fg" | "bg" => {
                        let s = val
                            .as_str()
                            .ok_or_else(|| format!("{k} must be a colour name"))?;
                        let c = color(s, palette)?;
                        st = if k == "fg" { st.fg(c) } else { st.bg(c) };
                    }
                    "modifiers" => {
                        let list = val.as_array().ok_or("modifiers must be a list")?;
                        for m in list {
                            let m = m.as_str().ok_or("a modifier must be a string")?;
                            st = st.add_modifier(modifier(m)?);
                        }
                    }
                    "underline" => {
                        // Helix's `underline = { style = "curl", color = ... }`: we draw a plain
                        // underline (colours of underlines are not portable over SSH).
                        st = st.add_modifier(Modifier::UNDERLINED);
                    }
                    other => return Err(format!("unknown style key '{other}'")),
                }
            }
            Ok(st)
        }
        _ => Err("expected a colour or a table { fg, bg, modifiers }".into()),
    }
}

fn modifier(s: &str) -> Result<Modifier, String> {
    Ok(match s {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "slow_blink" => Modifier::SLOW_BLINK,
        "rapid_blink" => Modifier::RAPID_BLINK,
        "reversed" => Modifier::REVERSED,
        "hidden" => Modifier::HIDDEN,
        "crossed_out" => Modifier::CROSSED_OUT,
        other => return Err(format!("unknown modifier '{other}'")),
    })
}

fn color(s: &str, palette: &HashMap<String, Color>) -> Result<Color, String> {
    if let Some(c) = palette.get(s) {
        return Ok(*c);
    }
    parse_color_literal(s).map_err(|_| format!("unknown colour '{s}' (not in the palette)"))
}

/// `#rrggbb`, an ANSI name (`red`, `light-blue`, `gray`...), `reset`, or an index 0-255.
pub fn parse_color_literal(s: &str) -> Result<Color, String> {
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6 {
            if let Ok(v) = u32::from_str_radix(hex, 16) {
                return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
            }
        }
        return Err(format!("bad hex colour '{s}'"));
    }
    if let Ok(n) = s.parse::<u8>() {
        return Ok(Color::Indexed(n));
    }
    Ok(match s {
        "reset" | "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "light-red" => Color::LightRed,
        "light-green" => Color::LightGreen,
        "light-yellow" => Color::LightYellow,
        "light-blue" => Color::LightBlue,
        "light-magenta" => Color::LightMagenta,
        "light-cyan" => Color::LightCyan,
        "light-gray" | "light-grey" | "white" => Color::White,
        "dark-gray" | "dark-grey" => Color::DarkGray,
        _ => return Err(format!("unknown colour '{s}'")),
    })
}

/// The xterm RGB values of the 16 ANSI colours, in `Color` order.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn rgb_of_index(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[i as usize].1,
        16..=231 => {
            let i = i - 16;
            let lvl = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (lvl(i / 36), lvl((i / 6) % 6), lvl(i % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            (g, g, g)
        }
    }
}

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (x as i32 - y as i32).pow(2) as u32;
    // Weighted a little towards green, as the eye is.
    2 * d(a.0, b.0) + 4 * d(a.1, b.1) + 3 * d(a.2, b.2)
}

fn to_256(rgb: (u8, u8, u8)) -> Color {
    let best = (16u8..=255)
        .min_by_key(|i| dist(rgb, rgb_of_index(*i)))
        .unwrap_or(16);
    Color::Indexed(best)
}

/// The nearest of the 16 ANSI colours *by meaning*: a colour with a hue keeps its hue (the
/// themes' soft red and green must stay red and green, not become grey, as nearest-by-distance
/// made them: sentiment marks and rule underlines depend on it); only greys go to the greys.
fn to_16(rgb: (u8, u8, u8)) -> Color {
    let (r, g, b) = (rgb.0 as i32, rgb.1 as i32, rgb.2 as i32);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    if chroma < GREY_CHROMA {
        return [Color::Black, Color::DarkGray, Color::Gray, Color::White]
            .into_iter()
            .min_by_key(|c| {
                let grey = ANSI16
                    .iter()
                    .find(|(k, _)| k == c)
                    .map_or(0, |(_, v)| v.0 as i32);
                (grey - (max + min) / 2).abs()
            })
            .unwrap_or(Color::Reset);
    }
    // Hue in degrees, 0 = red.
    let hue = if max == r {
        60.0 * (((g - b) as f64 / chroma as f64).rem_euclid(6.0))
    } else if max == g {
        60.0 * ((b - r) as f64 / chroma as f64 + 2.0)
    } else {
        60.0 * ((r - g) as f64 / chroma as f64 + 4.0)
    };
    let bright = max >= 240;
    let pick = |normal, light| if bright { light } else { normal };
    match hue {
        h if !(30.0..330.0).contains(&h) => pick(Color::Red, Color::LightRed),
        h if h < 75.0 => pick(Color::Yellow, Color::LightYellow),
        h if h < 165.0 => pick(Color::Green, Color::LightGreen),
        h if h < 200.0 => pick(Color::Cyan, Color::LightCyan),
        h if h < 265.0 => pick(Color::Blue, Color::LightBlue),
        _ => pick(Color::Magenta, Color::LightMagenta),
    }
}

/// Below this spread between the strongest and weakest channel a colour counts as grey.
const GREY_CHROMA: i32 = 40;

/// Reduce one colour to `depth`; `None` means "no colour".
pub fn reduce_color(c: Color, depth: ColorDepth) -> Option<Color> {
    match (depth, c) {
        (_, Color::Reset) => Some(Color::Reset),
        (ColorDepth::None, _) => None,
        (ColorDepth::TrueColor, c) => Some(c),
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Some(to_256((r, g, b))),
        (ColorDepth::Ansi256, c) => Some(c),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => Some(to_16((r, g, b))),
        (ColorDepth::Ansi16, Color::Indexed(i)) if i >= 16 => Some(to_16(rgb_of_index(i))),
        (ColorDepth::Ansi16, Color::Indexed(i)) => Some(ANSI16[i as usize].0),
        (ColorDepth::Ansi16, c) => Some(c),
    }
}

fn reduce_style(s: Style, depth: ColorDepth) -> Style {
    let mut out = s;
    out.fg = s.fg.and_then(|c| reduce_color(c, depth));
    out.bg = s.bg.and_then(|c| reduce_color(c, depth));
    out
}

/// Every problem in a theme file, for `earshot check-config`.
pub fn check_theme_file(path: &Path, config_dir: &Path) -> Vec<String> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("theme")
        .to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => return vec![format!("{}: cannot read: {e}", path.display())],
    };
    let mut warnings = Vec::new();
    let resolver = |n: &str| -> Option<(String, String)> {
        let p = config_dir.join("themes").join(format!("{n}.toml"));
        if let Ok(s) = std::fs::read_to_string(&p) {
            return Some((s, p.display().to_string()));
        }
        builtin_source(n).map(|s| (s.to_string(), format!("themes/{n}.toml")))
    };
    Theme::from_source(
        &name,
        &src,
        &path.display().to_string(),
        &resolver,
        ColorDepth::TrueColor,
        &mut warnings,
    );
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn sixteen_colours_keep_the_hue_of_the_palette() {
        let c = |hex: u32| to_16(((hex >> 16) as u8, (hex >> 8) as u8, hex as u8));
        // The default theme's red, green, yellow, blue, magenta, cyan.
        assert_eq!(c(0xe06c75), Color::Red);
        assert_eq!(c(0x98c379), Color::Green);
        assert_eq!(c(0xe5c07b), Color::Yellow);
        assert_eq!(c(0x82aaff), Color::LightBlue);
        assert_eq!(c(0xc678dd), Color::Magenta);
        assert_eq!(c(0x56b6c2), Color::Cyan);
        // Greys stay greys.
        assert_eq!(c(0x1e2127), Color::Black);
        assert_eq!(c(0x7f848e), Color::DarkGray);
        assert_eq!(c(0xd7dae0), Color::Gray);
        assert_eq!(c(0xffffff), Color::White);
        // Through the real theme loading, at 16 colours.
        let (t, _) = Theme::load("default", None, ColorDepth::Ansi16);
        assert_eq!(t.get("sentiment.negative").fg, Some(Color::Red));
        assert_eq!(t.get("sentiment.positive").fg, Some(Color::Green));
    }

    #[test]
    fn builtin_themes_load_without_warnings() {
        for (name, _) in BUILTIN {
            for depth in [
                ColorDepth::TrueColor,
                ColorDepth::Ansi256,
                ColorDepth::Ansi16,
                ColorDepth::None,
            ] {
                let (t, w) = Theme::load(name, None, depth);
                assert!(w.is_empty(), "{name}: {w:?}");
                assert_eq!(t.name, *name);
            }
        }
    }

    #[test]
    fn depth_is_detected_from_the_environment() {
        assert_eq!(
            ColorDepth::detect(env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
            ColorDepth::None
        );
        assert_eq!(
            ColorDepth::detect(env(&[("COLORTERM", "truecolor"), ("TERM", "xterm")])),
            ColorDepth::TrueColor
        );
        assert_eq!(
            ColorDepth::detect(env(&[("TERM", "xterm-256color")])),
            ColorDepth::Ansi256
        );
        assert_eq!(
            ColorDepth::detect(env(&[("TERM", "screen")])),
            ColorDepth::Ansi16
        );
        assert_eq!(
            ColorDepth::detect(env(&[("TERM", "dumb")])),
            ColorDepth::None
        );
        assert_eq!(
            ColorDepth::detect(env(&[("NO_COLOR", "")])),
            ColorDepth::Ansi16
        );
        assert_eq!("256".parse::<ColorDepth>().unwrap(), ColorDepth::Ansi256);
        assert!("lots".parse::<ColorDepth>().is_err());
    }

    #[test]
    fn colours_are_reduced_at_load() {
        let (t, _) = Theme::load("default", None, ColorDepth::Ansi16);
        for st in t.styles.values() {
            for c in [st.fg, st.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "{c:?}");
            }
        }
        let (t, _) = Theme::load("default", None, ColorDepth::Ansi256);
        for st in t.styles.values() {
            for c in [st.fg, st.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..)), "{c:?}");
            }
        }
        assert_eq!(
            reduce_color(Color::Rgb(250, 10, 10), ColorDepth::Ansi16),
            Some(Color::LightRed)
        );
        assert_eq!(
            reduce_color(Color::Rgb(0, 0, 0), ColorDepth::Ansi256),
            Some(Color::Indexed(16))
        );
        assert_eq!(reduce_color(Color::Red, ColorDepth::None), None);
    }

    #[test]
    fn selection_and_focus_stay_visible_without_colour() {
        for name in ["default", "mono", "base16", "light"] {
            let (t, _) = Theme::load(name, None, ColorDepth::None);
            assert!(
                t.get("ui.selection")
                    .add_modifier
                    .contains(Modifier::REVERSED),
                "{name}"
            );
            assert!(!t.get("ui.border.focus").add_modifier.is_empty(), "{name}");
            assert_eq!(t.get("ui.selection").bg, None);
        }
    }

    #[test]
    fn mono_has_modifiers_only_and_base16_only_ansi_colours() {
        let (t, _) = Theme::load("mono", None, ColorDepth::TrueColor);
        for (scope, st) in &t.styles {
            assert!(st.fg.is_none() && st.bg.is_none(), "{scope}");
        }
        let (t, _) = Theme::load("base16", None, ColorDepth::TrueColor);
        for (scope, st) in &t.styles {
            for c in [st.fg, st.bg].into_iter().flatten() {
                assert!(
                    !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                    "{scope}: {c:?}"
                );
            }
        }
    }

    #[test]
    fn scopes_fall_back_to_their_parents() {
        let t = Theme::builtin("default", ColorDepth::TrueColor);
        assert_eq!(
            t.get("stream.item.unread.extra"),
            t.get("stream.item.unread")
        );
        assert_eq!(t.get("nothing.here"), Style::default());
    }

    #[test]
    fn inherits_palette_and_broken_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/mine.toml"),
            r##"
inherits = "mono"
"ui.selection" = { fg = "accent", modifiers = ["bold", "sparkly"] }
"stream.item.unread" = "accent"
"rule.error" = "nocolour"
"ui.text" = 42.5
[palette]
accent = "#ff8800"
bad = "#zzz"
"##,
        )
        .unwrap();
        let (t, w) = Theme::load("mine", Some(dir.path()), ColorDepth::TrueColor);
        assert_eq!(w.len(), 4, "{w:#?}");
        assert!(w.iter().any(|w| w.contains("sparkly")));
        assert!(w.iter().any(|w| w.contains("nocolour")));
        assert!(w.iter().any(|w| w.contains("#zzz")));
        assert_eq!(
            t.get("stream.item.unread").fg,
            Some(Color::Rgb(0xff, 0x88, 0))
        );
        // From mono, through inherits.
        assert!(t
            .get("ui.border.focus")
            .add_modifier
            .contains(Modifier::BOLD));

        std::fs::write(dir.path().join("themes/broken.toml"), "this = [is not").unwrap();
        let (t, w) = Theme::load("broken", Some(dir.path()), ColorDepth::TrueColor);
        assert!(w[0].contains("not valid TOML"), "{w:?}");
        assert_eq!(
            t.get("ui.selection"),
            Theme::builtin("default", ColorDepth::TrueColor).get("ui.selection")
        );

        let (t, w) = Theme::load("nope", Some(dir.path()), ColorDepth::TrueColor);
        assert!(w[0].contains("not found"));
        assert_eq!(t.name, "default");

        std::fs::write(dir.path().join("themes/loop.toml"), "inherits = \"loop\"").unwrap();
        let (_, w) = Theme::load("loop", Some(dir.path()), ColorDepth::TrueColor);
        assert!(w.iter().any(|w| w.contains("too deep")), "{w:?}");

        let problems = check_theme_file(&dir.path().join("themes/mine.toml"), dir.path());
        assert_eq!(problems.len(), 4);
    }
}
