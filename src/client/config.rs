//! Where the console connects, and with which token.
//!
//! Precedence, per setting: `--url`/`--token`/`--token-file` flags, then the `EARSHOT_URL`,
//! `EARSHOT_TOKEN` and `EARSHOT_TOKEN_FILE` environment variables, then the config file
//! (`$XDG_CONFIG_HOME/earshot/config.toml`, keys `url`, `token` or `token_file`, `theme`,
//! `keymap`, `insecure`, `mouse`). [`ConnectionConfig::resolve`] is the pure core of it (testable without
//! touching the process environment or the disk); [`ConnectionConfig::load`] feeds it the real
//! ones.
//!
//! Safety rules:
//! - Plain `http://` only to a loopback host (`127.0.0.0/8`, `::1`, `localhost`), unless
//!   `--insecure` (or `insecure = true` in the config file): a bearer token must not cross a
//!   network in clear.
//! - A token file readable or writable by group or others is refused, with the `chmod` that
//!   fixes it. So is a config file that holds a `token`; a config file without a token may be
//!   readable (it is like any dotfile) but not writable by others (who could point `url` or
//!   `token_file` elsewhere).
//! - Files we write are 0600 ([`write_token_file`], [`ConfigFile::save`]).
//! - [`Secret`] never shows its value in `Debug` output or logs.

use super::backend::ClientError;
use super::fsutil::{mode, others_mode, write_private_atomic};
use super::http::HttpBackend;
use reqwest::Url;
use std::path::{Path, PathBuf};

/// Why no connection could be configured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path} is accessible to other users (mode {mode:03o}) and {why}; run `chmod 600 {path}`"
    )]
    Permissions {
        path: PathBuf,
        mode: u32,
        why: &'static str,
    },
    #[error("bad backend URL '{url}': {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "refusing plain http:// to '{host}', which is not this machine: the token would cross the network in clear; \
         use https://, or pass --insecure if you really mean it"
    )]
    InsecureUrl { host: String },
    #[error("no token for {url}: pass --token-file (or --token), set EARSHOT_TOKEN or EARSHOT_TOKEN_FILE, or add token_file to {config}")]
    MissingToken { url: String, config: String },
    #[error("the token in {path} is empty")]
    EmptyToken { path: PathBuf },
    #[error("{0}")]
    Conflict(String),
    #[error("cannot connect: {0}")]
    Client(#[from] ClientError),
}

/// A token: its value never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a setting came from (for `earshot check-config` and error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("command line"),
            Origin::Env => f.write_str("environment"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The token, as given, or the file to read it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Value(Secret),
    File(PathBuf),
}

/// The command line's say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFlags {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    /// `--config`: another config file (must exist).
    pub config: Option<PathBuf>,
    pub insecure: bool,
}

/// The environment's say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigEnv {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
}

impl ConfigEnv {
    /// `EARSHOT_URL`, `EARSHOT_TOKEN`, `EARSHOT_TOKEN_FILE` (empty counts as unset).
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        ConfigEnv {
            url: get("EARSHOT_URL"),
            token: get("EARSHOT_TOKEN"),
            token_file: get("EARSHOT_TOKEN_FILE").map(PathBuf::from),
        }
    }
}

/// The config file's say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub url: Option<String>,
    pub token: Option<Secret>,
    /// Resolved: `~/` expanded, relative to the config file's directory.
    pub token_file: Option<PathBuf>,
    pub theme: Option<String>,
    pub keymap: Option<String>,
    pub insecure: bool,
    /// Capture the mouse in the console.
    pub mouse: bool,
    /// Unknown keys, ignored (a typo must not stop the console).
    pub warnings: Vec<String>,
}

/// The 1-based line of each top-level key, for messages that point at it.
fn key_lines(text: &str) -> std::collections::HashMap<String, usize> {
    let Ok(table) = toml::de::DeTable::parse(text) else {
        return Default::default();
    };
    table
        .get_ref()
        .keys()
        .map(|k| {
            let line = text[..k.span().start.min(text.len())].matches('\n').count() + 1;
            (k.get_ref().to_string(), line)
        })
        .collect()
}

/// Every problem of the config file at `path`, for `earshot check-config`: unreadable or
/// invalid, unknown keys (with their line), modes that let others read a token or redirect
/// the console, a token file readable by others (with the `chmod` that fixes it), a refused
/// URL. Nothing when there is no file.
pub fn check_file(path: &Path) -> Vec<String> {
    let file = match ConfigFile::load(path) {
        Ok(Some(file)) => file,
        Ok(None) => return Vec::new(),
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = file.warnings.clone();
    if let Some(token_file) = &file.token_file {
        if let Err(e) = read_token_file(token_file) {
            problems.push(format!("{}: token_file: {e}", path.display()));
        }
    }
    if let Some(url) = &file.url {
        if let Err(e) = check_url(url, file.insecure) {
            problems.push(format!("{}: url: {e}", path.display()));
        }
    }
    problems
}

fn expand_path(raw: &str, base: Option<&Path>) -> PathBuf {
    if let Some(rest) = raw.strip_prefix("~/") {
        if let Some(home) = crate::paths::home_dir() {
            return home.join(rest);
        }
    }
    let p = PathBuf::from(raw);
    match base {
        Some(base) if p.is_relative() => base.join(p),
        _ => p,
    }
}

impl ConfigFile {
    /// The default location, `$XDG_CONFIG_HOME/earshot/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        Some(crate::paths::config_file())
    }

    /// Parses the text of a config file found at `path` (no disk access).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string().trim().to_string(),
            })?;
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            ..ConfigFile::default()
        };
        let base = path.parent();
        let lines = key_lines(text);
        for (key, value) in table {
            let string = |v: &toml::Value| -> Result<String, ConfigError> {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ConfigError::Parse {
                        path: path.to_path_buf(),
                        message: format!("`{key}` must be a string"),
                    })
            };
            match key.as_str() {
                "url" => file.url = Some(string(&value)?),
                "token" => file.token = Some(Secret(string(&value)?.trim().to_string())),
                "token_file" => file.token_file = Some(expand_path(&string(&value)?, base)),
                "theme" => file.theme = Some(string(&value)?),
                "keymap" => file.keymap = Some(string(&value)?),
                "insecure" | "mouse" => {
                    let flag = value.as_bool().ok_or_else(|| ConfigError::Parse {
                        path: path.to_path_buf(),
                        message: format!("`{key}` must be true or false"),
                    })?;
                    if key == "insecure" {
                        file.insecure = flag;
                    } else {
                        file.mouse = flag;
                    }
                }
                other => {
                    let at = lines
                        .get(other)
                        .map(|line| format!(":{line}"))
                        .unwrap_or_default();
                    file.warnings.push(format!(
                        "{}{at}: unknown key `{other}` ignored (known: url, token, token_file, theme, keymap, insecure, mouse)",
                        path.display()
                    ))
                }
            }
        }
        if file.token.is_some() && file.token_file.is_some() {
            return Err(ConfigError::Conflict(format!(
                "{}: give `token` or `token_file`, not both",
                path.display()
            )));
        }
        Ok(file)
    }

    /// Reads and checks the config file at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<ConfigFile>, ConfigError> {
        let io = |e: std::io::Error| ConfigError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let file = ConfigFile::parse(path, &text)?;
        let others = others_mode(&meta);
        if file.token.is_some() && others != 0 {
            return Err(ConfigError::Permissions {
                path: path.to_path_buf(),
                mode: mode(&meta),
                why: "it holds a token",
            });
        }
        if others & 0o022 != 0 {
            return Err(ConfigError::Permissions {
                path: path.to_path_buf(),
                mode: mode(&meta),
                why: "others could change where the console connects",
            });
        }
        Ok(Some(file))
    }

    /// The file as TOML (the token included, when it is inline).
    pub fn to_toml(&self) -> String {
        let mut t = toml::Table::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                t.insert(k.into(), toml::Value::String(v.into()));
            }
        };
        put("url", self.url.as_deref());
        put("token", self.token.as_ref().map(Secret::expose));
        put(
            "token_file",
            self.token_file.as_ref().and_then(|p| p.to_str()),
        );
        put("theme", self.theme.as_deref());
        put("keymap", self.keymap.as_deref());
        if self.insecure {
            t.insert("insecure".into(), toml::Value::Boolean(true));
        }
        toml::to_string(&t).unwrap_or_default()
    }

    /// Writes the file to `self.path`, 0600, atomically.
    pub fn save(&self) -> std::io::Result<()> {
        write_private_atomic(&self.path, self.to_toml().as_bytes())
    }
}

/// Reads a token file: refused when group or others can read or write it, or when empty.
pub fn read_token_file(path: &Path) -> Result<Secret, ConfigError> {
    let io = |e: std::io::Error| ConfigError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if others_mode(&meta) != 0 {
        return Err(ConfigError::Permissions {
            path: path.to_path_buf(),
            mode: mode(&meta),
            why: "it holds a token",
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ConfigError::EmptyToken {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret(token.to_string()))
}

/// Writes a token file, 0600, atomically (its directory 0700 when created).
pub fn write_token_file(path: &Path, token: &Secret) -> std::io::Result<()> {
    write_private_atomic(path, format!("{}\n", token.expose()).as_bytes())
}

/// Checks a backend URL: http(s) with a host, and plain http only to loopback unless
/// `insecure`.
pub fn check_url(raw: &str, insecure: bool) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::BadUrl {
        url: crate::text::sanitize_inline(raw),
        reason: reason.to_string(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("it has no host"))?
        .to_string();
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback_host(&host) && !insecure {
                return Err(ConfigError::InsecureUrl { host });
            }
        }
        other => {
            return Err(bad(&format!(
                "the scheme must be https or http, not {other}"
            )))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL; use a token file",
        ));
    }
    Ok(url)
}

/// `localhost`, `*.localhost`, `127.0.0.0/8` or `[::1]` (as `Url::host_str` gives them).
fn is_loopback_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    }
    if let Ok(v4) = host.parse::<std::net::Ipv4Addr>() {
        return v4.is_loopback();
    }
    let d = host.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost" || d.ends_with(".localhost")
}

/// Where to connect, with what: the outcome of flags, environment and config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    /// Checked by [`check_url`].
    pub url: String,
    pub url_from: Origin,
    pub token: TokenSource,
    pub token_from: Origin,
    pub insecure: bool,
    pub theme: Option<String>,
    pub keymap: Option<String>,
    /// `mouse = true` in the config file.
    pub mouse: bool,
    /// Warnings to show the user (unknown config keys...).
    pub warnings: Vec<String>,
}

fn token_of(
    token: Option<&String>,
    file: Option<&PathBuf>,
    what: &str,
) -> Result<Option<TokenSource>, ConfigError> {
    match (token, file) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict(format!(
            "{what}: give a token or a token file, not both"
        ))),
        (Some(t), None) => Ok(Some(TokenSource::Value(Secret(t.trim().to_string())))),
        (None, Some(f)) => Ok(Some(TokenSource::File(f.clone()))),
        (None, None) => Ok(None),
    }
}

impl ConnectionConfig {
    /// Combines the three sources. `Ok(None)`: no URL anywhere, nothing is configured (a bare
    /// `earshot` then runs the demo). A URL without a token, a refused URL or conflicting
    /// settings are errors. Pure: reads neither the environment nor the disk.
    pub fn resolve(
        flags: &ConfigFlags,
        env: &ConfigEnv,
        file: Option<&ConfigFile>,
    ) -> Result<Option<ConnectionConfig>, ConfigError> {
        let file_origin = || Origin::File(file.map(|f| f.path.clone()).unwrap_or_default());
        let (url, url_from) = if let Some(u) = &flags.url {
            (u.clone(), Origin::Flag)
        } else if let Some(u) = &env.url {
            (u.clone(), Origin::Env)
        } else if let Some(u) = file.and_then(|f| f.url.clone()) {
            (u, file_origin())
        } else {
            return Ok(None);
        };
        let insecure = flags.insecure || file.is_some_and(|f| f.insecure);
        let url = check_url(&url, insecure)?.to_string();
        let token = if let Some(t) = token_of(
            flags.token.as_ref(),
            flags.token_file.as_ref(),
            "command line",
        )? {
            (t, Origin::Flag)
        } else if let Some(t) = match (&env.token, &env.token_file) {
            // In the environment a token wins over a token file (a wrapper may set both).
            (Some(t), _) => Some(TokenSource::Value(Secret(t.trim().to_string()))),
            (None, Some(f)) => Some(TokenSource::File(f.clone())),
            (None, None) => None,
        } {
            (t, Origin::Env)
        } else if let Some(t) = file
            .map(|f| {
                token_of(
                    f.token.as_ref().map(|s| &s.0),
                    f.token_file.as_ref(),
                    "config file",
                )
            })
            .transpose()?
            .flatten()
        {
            (t, file_origin())
        } else {
            let config = file
                .map(|f| f.path.display().to_string())
                .or_else(|| ConfigFile::default_path().map(|p| p.display().to_string()))
                .unwrap_or_else(|| "the config file".into());
            return Err(ConfigError::MissingToken { url, config });
        };
        if let (TokenSource::Value(s), origin) = &token {
            if s.expose().is_empty() {
                return Err(ConfigError::Conflict(format!(
                    "the token from the {origin} is empty"
                )));
            }
        }
        Ok(Some(ConnectionConfig {
            url,
            url_from,
            token: token.0,
            token_from: token.1,
            insecure,
            theme: file.and_then(|f| f.theme.clone()),
            keymap: file.and_then(|f| f.keymap.clone()),
            mouse: file.is_some_and(|f| f.mouse),
            warnings: file.map(|f| f.warnings.clone()).unwrap_or_default(),
        }))
    }

    /// [`resolve`](Self::resolve) with this process's environment and the config file
    /// (`flags.config`, which must exist, or the default path, which may not).
    pub fn load(flags: &ConfigFlags) -> Result<Option<ConnectionConfig>, ConfigError> {
        let file = match &flags.config {
            Some(path) => Some(ConfigFile::load(path)?.ok_or_else(|| ConfigError::Io {
                path: path.clone(),
                message: "no such file".into(),
            })?),
            None => match ConfigFile::default_path() {
                Some(path) => ConfigFile::load(&path)?,
                None => None,
            },
        };
        ConnectionConfig::resolve(flags, &ConfigEnv::from_env(), file.as_ref())
    }

    /// The token itself (reading and checking the token file when that is the source).
    pub fn read_token(&self) -> Result<Secret, ConfigError> {
        match &self.token {
            TokenSource::Value(s) => Ok(s.clone()),
            TokenSource::File(p) => read_token_file(p),
        }
    }

    /// An [`HttpBackend`] for this configuration.
    pub fn connect(&self) -> Result<HttpBackend, ConfigError> {
        let token = self.read_token()?;
        Ok(HttpBackend::new(&self.url, token.expose())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("/home/a/.config/earshot/config.toml"), text).unwrap()
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let f = file("url = \"https://file.example\"\ntoken_file = \"token\"\ntheme = \"mono\"\n");
        let env = ConfigEnv {
            url: Some("https://env.example".into()),
            token: Some("envtok".into()),
            token_file: None,
        };
        let flags = ConfigFlags {
            url: Some("https://flag.example".into()),
            ..Default::default()
        };

        let c = ConnectionConfig::resolve(&flags, &env, Some(&f))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.url.as_str(), &c.url_from),
            ("https://flag.example/", &Origin::Flag)
        );
        assert_eq!(
            (&c.token, &c.token_from),
            (&TokenSource::Value(Secret::new("envtok")), &Origin::Env)
        );
        assert_eq!(c.theme.as_deref(), Some("mono"));

        let c = ConnectionConfig::resolve(&ConfigFlags::default(), &ConfigEnv::default(), Some(&f))
            .unwrap()
            .unwrap();
        assert_eq!(c.url, "https://file.example/");
        assert_eq!(
            c.token,
            TokenSource::File(PathBuf::from("/home/a/.config/earshot/token"))
        );
        assert_eq!(c.token_from, Origin::File(f.path.clone()));

        let flags = ConfigFlags {
            token: Some(" flagtok \n".into()),
            ..Default::default()
        };
        let c = ConnectionConfig::resolve(&flags, &env, Some(&f))
            .unwrap()
            .unwrap();
        assert_eq!(c.url, "https://env.example/");
        assert_eq!(c.token, TokenSource::Value(Secret::new("flagtok")));
    }

    #[test]
    fn nothing_configured_means_none_and_a_url_needs_a_token() {
        assert_eq!(
            ConnectionConfig::resolve(&ConfigFlags::default(), &ConfigEnv::default(), None)
                .unwrap(),
            None
        );
        let env = ConfigEnv {
            token: Some("t".into()),
            ..Default::default()
        };
        assert_eq!(
            ConnectionConfig::resolve(&ConfigFlags::default(), &env, None).unwrap(),
            None
        );
        let flags = ConfigFlags {
            url: Some("https://crm.example".into()),
            ..Default::default()
        };
        let err = ConnectionConfig::resolve(&flags, &ConfigEnv::default(), None).unwrap_err();
        assert!(matches!(err, ConfigError::MissingToken { .. }));
        assert!(err.to_string().contains("--token-file"));
        let both = ConfigFlags {
            token: Some("a".into()),
            token_file: Some("b".into()),
            ..flags
        };
        assert!(matches!(
            ConnectionConfig::resolve(&both, &ConfigEnv::default(), None),
            Err(ConfigError::Conflict(_))
        ));
    }

    #[test]
    fn plain_http_only_to_loopback_unless_insecure() {
        for ok in [
            "http://127.0.0.1:7300",
            "http://127.8.9.1",
            "http://[::1]:80/",
            "http://localhost:1",
            "http://api.localhost",
            "https://crm.example.com",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://crm.example.com",
            "http://10.0.0.2:7300",
            "http://[2001:db8::1]/",
            "http://localhost.evil.com",
        ] {
            let err = check_url(refused, false).unwrap_err();
            assert!(
                matches!(err, ConfigError::InsecureUrl { .. }),
                "{refused}: {err}"
            );
            assert!(err.to_string().contains("--insecure"));
            assert!(check_url(refused, true).is_ok());
        }
        for bad in ["ftp://x.example", "nonsense", "https://user:pw@crm.example"] {
            assert!(
                matches!(check_url(bad, true), Err(ConfigError::BadUrl { .. })),
                "{bad}"
            );
        }
        let flags = ConfigFlags {
            url: Some("http://crm.example".into()),
            token: Some("t".into()),
            ..Default::default()
        };
        assert!(ConnectionConfig::resolve(&flags, &ConfigEnv::default(), None).is_err());
        let f = file("insecure = true");
        assert!(
            ConnectionConfig::resolve(&flags, &ConfigEnv::default(), Some(&f))
                .unwrap()
                .unwrap()
                .insecure
        );
    }

    #[test]
    fn config_files_parse_with_warnings_and_clear_errors() {
        let f = file("url = \"https://x\"\ncolour = \"red\"\nkeymap = \"vim\"\n");
        assert_eq!(f.keymap.as_deref(), Some("vim"));
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].contains("colour"));
        let err = ConfigFile::parse(Path::new("c.toml"), "url = 3").unwrap_err();
        assert!(err.to_string().contains("`url` must be a string"), "{err}");
        assert!(file("mouse = true").mouse && !file("insecure = true").mouse);
        let err = ConfigFile::parse(Path::new("c.toml"), "mouse = \"yes\"").unwrap_err();
        assert!(
            err.to_string().contains("`mouse` must be true or false"),
            "{err}"
        );
        let err = ConfigFile::parse(Path::new("c.toml"), "url = \"x\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(
            ConfigFile::parse(Path::new("c.toml"), "token = \"a\"\ntoken_file = \"b\"").is_err()
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let f = file("url = \"https://x\"\ntoken = \"hunter2\"");
        assert!(!format!("{f:?}").contains("hunter2"));
        let c = ConnectionConfig::resolve(&ConfigFlags::default(), &ConfigEnv::default(), Some(&f))
            .unwrap()
            .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.read_token().unwrap().expose(), "hunter2");
        let env =
            ConfigEnv::from_lookup(|k| (k == "EARSHOT_URL").then(|| " https://e ".to_string()));
        assert_eq!(env.url.as_deref(), Some("https://e"));
        assert_eq!(env.token, None);
    }

    #[cfg(unix)]
    #[test]
    fn readable_token_and_config_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        write_token_file(&token, &Secret::new("abc")).unwrap();
        assert_eq!(
            std::fs::metadata(&token).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_token_file(&token).unwrap().expose(), "abc");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_token_file(&token).unwrap_err();
        assert!(matches!(err, ConfigError::Permissions { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"), "{err}");

        let empty = dir.path().join("empty");
        write_token_file(&empty, &Secret::new("")).unwrap();
        assert!(matches!(
            read_token_file(&empty),
            Err(ConfigError::EmptyToken { .. })
        ));

        let path = dir.path().join("earshot/config.toml");
        let cfg = ConfigFile {
            path: path.clone(),
            url: Some("https://x".into()),
            token: Some(Secret::new("t")),
            ..Default::default()
        };
        cfg.save().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let loaded = ConfigFile::load(&path).unwrap().unwrap();
        assert_eq!(loaded.token, Some(Secret::new("t")));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            ConfigFile::load(&path),
            Err(ConfigError::Permissions { .. })
        ));

        // Without a token, a readable config file is fine; a writable one is not.
        let plain = dir.path().join("plain.toml");
        std::fs::write(&plain, "theme = \"mono\"\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(ConfigFile::load(&plain).unwrap().is_some());
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(
            ConfigFile::load(&plain),
            Err(ConfigError::Permissions { .. })
        ));
        assert_eq!(
            ConfigFile::load(&dir.path().join("missing.toml")).unwrap(),
            None
        );
    }

    #[test]
    fn a_resolved_config_connects() {
        let flags = ConfigFlags {
            url: Some("http://127.0.0.1:9".into()),
            token: Some("t".into()),
            ..Default::default()
        };
        let c = ConnectionConfig::resolve(&flags, &ConfigEnv::default(), None)
            .unwrap()
            .unwrap();
        let backend = c.connect().unwrap();
        assert_eq!(backend.base_url().as_str(), "http://127.0.0.1:9/");
    }
}
