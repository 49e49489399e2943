//! The command line: `earshot [demo]`, `console`, `serve`, `lint`, `department`, `agent`,
//! `intake`, `audit`, `import`, `check-config`, `completions`, `man`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "earshot",
    version,
    propagate_version = true,
    about = "A keyboard-driven social-CRM console for the terminal"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the reference server in-process with the demo organisation and open the console
    /// (what a bare `earshot` does).
    Demo(DemoArgs),
    /// Open the console against a CRM backend (flags, EARSHOT_URL/EARSHOT_TOKEN, or the config file).
    Console(ConsoleArgs),
    /// Run the reference CRM server.
    Serve(ServeArgs),
    /// Check a text against a rulebook (RULES.md); exit 0 deliverable, 1 not, 2 usage or rulebook error.
    Lint(crate::lint::LintArgs),
    /// Check the user's config.toml, keymap, themes and canned replies; print every problem,
    /// exit 1 if any.
    CheckConfig {
        /// Configuration directory (default: $XDG_CONFIG_HOME/earshot).
        #[arg(long)]
        config_dir: Option<PathBuf>,
    },
    /// Manage departments (set up a new organisation with `department add`).
    #[command(subcommand)]
    Department(DepartmentCommand),
    /// Manage agents and their tokens.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage intake sources: listening tools that post signed webhooks to /v1/intake/{name}.
    #[command(subcommand)]
    Intake(IntakeCommand),
    /// Read the audit log, newest first: who set up, changed or was refused what.
    Audit(AuditArgs),
    /// Import customers or their transactions from a CSV file (with a header row) or JSON Lines;
    /// idempotent by external id. Exit 0 when every row was imported, 1 when some were skipped
    /// (each is printed with its line), 2 when the file or the database could not be used.
    Import(ImportArgs),
    /// Print a shell completion script to standard output
    /// (e.g. `earshot completions bash > ~/.local/share/bash-completion/completions/earshot`).
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Write the man pages: earshot.1 and one earshot-COMMAND.1 per subcommand.
    Man {
        /// Directory to write them to (created if missing); without it, earshot.1 goes to
        /// standard output.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// How the server's log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (colours only when standard error is a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum DepartmentCommand {
    /// Create a department (id: lowercase letters, digits, '-' and '_', starting with a letter).
    Add {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
        /// The id routing rules and agents name, e.g. `support`.
        id: String,
        /// A display name (default: the id).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Where intake sources' secrets come from (the same file for `serve` and `intake add`).
#[derive(Debug, Args)]
pub struct IntakeKeyArg {
    /// The intake key file (default: intake.key in the data directory); `intake add` creates it
    /// (mode 0600) when there is none. Servers sharing a database need the same file.
    #[arg(long, env = "EARSHOT_INTAKE_KEY_FILE", value_name = "FILE")]
    pub intake_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Create an intake source and print its `whsec_` secret (shown once; only derived, never
    /// stored).
    Add {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
        /// The source's name, the last part of its URL: /v1/intake/NAME.
        #[arg(long)]
        name: String,
        /// The channel of items that do not name one.
        #[arg(long)]
        channel: Option<crate::domain::Channel>,
        /// Send the source's items to this department (default: where routing sends them).
        #[arg(long)]
        department: Option<String>,
        #[command(flatten)]
        key: IntakeKeyArg,
    },
    /// Revoke a source: its secret stops working at once.
    Revoke {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
        #[arg(long)]
        name: String,
    },
    /// List the sources, revoked ones too.
    List {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
    },
}

/// How `earshot audit` prints entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuditFormat {
    /// One line per entry: time, actor, action, object, outcome, detail.
    #[default]
    Text,
    /// One JSON array of entries, as `GET /v1/audit` gives them.
    Json,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long, env = "EARSHOT_DB")]
    pub db: Option<String>,
    /// Only entries by this agent id.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only actions starting with this (`agent.` for every agent action).
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries about this object id (an item, an agent, a department).
    #[arg(long)]
    pub object: Option<String>,
    /// Only entries at or after this time (RFC 3339, e.g. 2025-01-31T09:00:00Z).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many entries (the newest).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds: customers or transactions.
    pub kind: crate::server::customer_data::ImportKind,
    #[arg(long, env = "EARSHOT_DB")]
    pub db: Option<String>,
    /// csv or jsonl (default: from the file's extension, .csv or .jsonl/.ndjson).
    #[arg(long)]
    pub format: Option<crate::server::customer_data::ImportFormat>,
    /// The file to import (`-` for standard input, with --format).
    pub file: PathBuf,
}

/// How the console looks and which keys it takes.
#[derive(Debug, Args, Default, Clone)]
pub struct LookArgs {
    /// Theme: default, light, base16, mono, or a file name under the config dir's themes/.
    #[arg(long)]
    pub theme: Option<String>,
    /// Keymap preset under the user's keymap: default, vim, emacs.
    #[arg(long)]
    pub keymap: Option<String>,
    /// Colour depth: truecolor, 256, 16, none (default: detected from NO_COLOR, COLORTERM, TERM).
    #[arg(long)]
    pub color: Option<crate::tui::ColorDepth>,
    /// Take mouse clicks and the wheel (off by default: capturing the mouse stops the
    /// terminal's own text selection).
    #[arg(long)]
    pub mouse: bool,
    /// Read-only supervision (wallboards, shadowing): everything is shown, the Team screen too,
    /// and nothing that would change data can be done. A token with only the `read` scope
    /// (`earshot agent token --scopes read`) makes the console read-only by itself.
    #[arg(long)]
    pub read_only: bool,
}

#[derive(Debug, Args, Default)]
pub struct ConsoleArgs {
    /// Base URL of the CRM (e.g. https://crm.example.com).
    #[arg(long)]
    pub url: Option<String>,
    /// Bearer token (prefer --token-file or EARSHOT_TOKEN: flags show in `ps`).
    #[arg(long)]
    pub token: Option<String>,
    /// A file holding the token (must not be readable by group or others).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Another config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Allow plain http:// to a host that is not loopback.
    #[arg(long)]
    pub insecure: bool,
    #[command(flatten)]
    pub look: LookArgs,
}

#[derive(Debug, Args, Default)]
pub struct DemoArgs {
    /// Demo database (default: demo.db in the data directory; created on first run, reused after).
    #[arg(long)]
    pub db: Option<String>,
    /// Simulated new feedback per minute.
    #[arg(long, default_value_t = 6.0)]
    pub sim_rate: f64,
    /// Minutes between simulated outage bursts (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub burst_every: f64,
    /// Run the server only, on this address, and print how to connect (headless demos).
    #[arg(long)]
    pub headless: Option<SocketAddr>,
    /// With --headless: how log lines are written to standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub look: LookArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// SQLite file path or postgres:// URL (default: earshot.db in the data directory).
    #[arg(long, env = "EARSHOT_DB")]
    pub db: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seed the demo organisation (when the database is empty) and run the simulator.
    #[arg(long)]
    pub demo: bool,
    /// Routing rules file (default: the embedded rules/routing.toml).
    #[arg(long)]
    pub routing: Option<PathBuf>,
    /// Business rulebook, a file or a directory (default: the embedded rules/default.toml);
    /// reloaded when it changes or on SIGHUP.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Outbound channels (TOML): per-channel webhook URL and `whsec_` secret, retry policy.
    /// Without it, replies stay queued (or, with --demo, go to the loopback sink).
    #[arg(long, env = "EARSHOT_OUTBOUND")]
    pub outbound: Option<PathBuf>,
    /// Simulated new feedback per minute in demo mode.
    #[arg(long, default_value_t = 6.0)]
    pub sim_rate: f64,
    /// Minutes between simulated outage bursts in demo mode (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub burst_every: f64,
    /// Seconds a client gets to send a request head, from its first byte.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a connection may stay open with no request in flight.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Open connections at most (kept below the open-file limit); at the cap the connection
    /// idle longest is closed for a new one.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// Open event streams per token at most (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_streams_per_token: usize,
    /// Seconds a request may take from its head to its response, body included (408 beyond).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub request_timeout: u64,
    /// How log lines are written to standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub intake_key: IntakeKeyArg,
    /// Requests that change data (all but GET and HEAD) handled at once at most; one more
    /// waits up to 20 ms behind at most N others, then is answered 503 with Retry-After
    /// (default: 64 per core).
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Reads (GET, HEAD; event streams not counted) handled at once at most, likewise
    /// (default: 8 per core, at least 16).
    #[arg(long, value_name = "N")]
    pub max_reads_in_flight: Option<usize>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a separate address: bind it to loopback
    /// or your monitoring network; no token is asked for there).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent and print its new token (shown once).
    Add {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
        #[arg(long)]
        name: String,
        /// A department id; repeat for several.
        #[arg(long = "department", required = true)]
        departments: Vec<String>,
        #[arg(long, default_value = "agent")]
        role: crate::domain::AgentRole,
        /// Limit the token to these scopes (read, reply, admin), comma-separated; default: the role's.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<crate::domain::Scope>,
        /// The token stops working after this many days (default: until revoked).
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// Give an existing agent one more token and print it (shown once), e.g. a `read`-only one
    /// for a wallboard or for shadowing: it sees everything the agent sees and changes nothing.
    Token {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
        /// The agent's id (as `agent add` printed it).
        #[arg(long)]
        agent: String,
        /// The token's scopes (read, reply, admin), comma-separated; at most the role's.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<crate::domain::Scope>,
        /// The token stops working after this many days (default: until revoked).
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// Revoke every token of an agent.
    Revoke {
        #[arg(long, env = "EARSHOT_DB")]
        db: Option<String>,
        /// The agent's id (as `agent add` printed it).
        #[arg(long)]
        agent: String,
    },
}

/// `earshot completions SHELL`: the completion script of this command line.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "earshot", out);
}

/// `earshot man`: the main page (which lists every subcommand), to `out`.
pub fn write_man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// `earshot man --out DIR`: earshot.1 and one page per subcommand (earshot-agent-add.1...);
/// returns the files written, sorted.
pub fn write_man_pages(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("earshot") && n.ends_with(".1"))
        })
        .collect();
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_answers_version() {
        let cmd = Cli::command();
        let mut paths: Vec<Vec<String>> = Vec::new();
        for sub in cmd.get_subcommands() {
            paths.push(vec![sub.get_name().to_string()]);
            for subsub in sub.get_subcommands() {
                paths.push(vec![sub.get_name().into(), subsub.get_name().into()]);
            }
        }
        assert!(paths.len() > 10, "{paths:?}");
        for path in paths {
            let args = std::iter::once("earshot".to_string())
                .chain(path.iter().cloned())
                .chain(["--version".to_string()]);
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::DisplayVersion,
                "{path:?}"
            );
            assert!(
                err.to_string().contains(env!("CARGO_PKG_VERSION")),
                "{path:?}: {err}"
            );
        }
    }
}
