//! `earshot`: parse the command line and dispatch. The console never imports the server; this
//! is the one place that wires them together, for the demo.

use clap::Parser;
use earshot::cli::{AgentCommand, Cli, Command, DemoArgs, ServeArgs};
use earshot::paths;
use earshot::server::store::{NewAgent, Store};
use earshot::server::{self, ServerConfig};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("earshot: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            None => {
                demo(DemoArgs {
                    sim_rate: 6.0,
                    burst_every: 10.0,
                    ..Default::default()
                })
                .await
            }
            Some(Command::Demo(args)) => demo(args).await,
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Agent(cmd)) => agent(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("earshot: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs for server commands go to stderr; the console's go to a file (see `log_to_file`).
fn log_to_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EARSHOT_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    log_to_stderr();
    let mut config = ServerConfig::new(args.db.unwrap_or_else(paths::default_db), args.listen);
    config.demo = args.demo;
    config.routing = args.routing;
    config.sim_per_minute = args.sim_rate;
    config.sim_burst_every_min = args.burst_every;
    let running = server::start(config).await?;
    println!("earshot server listening on {}", running.url());
    if args.demo {
        print_demo_tokens();
    }
    wait_for_signal().await;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    log_to_stderr();
    let db = args.db.unwrap_or_else(paths::demo_db);
    let listen = args
        .headless
        .unwrap_or_else(|| "127.0.0.1:0".parse().expect("valid literal address"));
    let mut config = ServerConfig::new(db.clone(), listen);
    config.demo = true;
    config.sim_per_minute = args.sim_rate;
    config.sim_burst_every_min = args.burst_every;
    println!("earshot: preparing the demo database at {db} (the first run seeds it)...");
    let running = server::start(config).await?;
    println!("earshot demo server listening on {}", running.url());
    print_demo_tokens();
    println!("Press Ctrl-C to stop.");
    wait_for_signal().await;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn print_demo_tokens() {
    println!("demo agents (token: name, role, departments):");
    for (_, name, role, departments, token) in server::demo::AGENTS {
        println!("  {token}: {name}, {role}, {}", departments.join(","));
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn agent(cmd: AgentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AgentCommand::Add {
            db,
            name,
            departments,
            role,
        } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let (agent, token) = store
                .add_agent(NewAgent {
                    name: &name,
                    role,
                    departments: &departments,
                })
                .await?;
            println!(
                "agent {} ({}) created in {}",
                agent.id,
                agent.name,
                departments.join(",")
            );
            println!("token (shown once, keep it safe): {token}");
            store.close().await;
        }
        AgentCommand::Revoke { db, agent } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let n = store.revoke_agent_tokens(&agent).await?;
            if n == 0 {
                eprintln!("earshot: agent {agent} has no active token");
                return Ok(ExitCode::from(1));
            }
            println!("revoked {n} token(s) of agent {agent}");
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
