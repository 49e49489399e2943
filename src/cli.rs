//! The command line: `earshot [demo]`, `console`, `serve`, `lint`, `agent`, `check-config`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "earshot",
    version,
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
    /// Run the reference CRM server.
    Serve(ServeArgs),
    /// Manage agents and their tokens.
    #[command(subcommand)]
    Agent(AgentCommand),
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
    /// Simulated new feedback per minute in demo mode.
    #[arg(long, default_value_t = 6.0)]
    pub sim_rate: f64,
    /// Minutes between simulated outage bursts in demo mode (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub burst_every: f64,
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
