//! `earshot`: parse the command line and dispatch. The console never imports the server; this
//! is the one place that wires them together, for the demo.

use clap::Parser;
use earshot::cli::{
    AgentCommand, AuditArgs, AuditFormat, Cli, Command, ConsoleArgs, DemoArgs, DepartmentCommand,
    ImportArgs, IntakeCommand, LogFormat, LookArgs, ServeArgs,
};
use earshot::client::config::{ConfigFlags, ConnectionConfig};
use earshot::client::http::HttpBackend;
use earshot::client::CrmBackend;
use earshot::paths;
use earshot::server::store::{AuditFilter, AuditScope, NewAgent, Store};
use earshot::server::{self, ServerConfig};
use earshot::tui::{self, ConsoleOptions};
use std::process::ExitCode;
use std::sync::Arc;

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
            None => bare().await,
            Some(Command::Demo(args)) => demo(args).await,
            Some(Command::Console(args)) => console(args).await,
            Some(Command::Lint(args)) => {
                Ok(ExitCode::from(earshot::lint::run(&args).clamp(0, 255) as u8))
            }
            Some(Command::CheckConfig { config_dir }) => Ok(check_config(config_dir)),
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Department(cmd)) => department(cmd).await,
            Some(Command::Agent(cmd)) => agent(cmd).await,
            Some(Command::Intake(cmd)) => intake(cmd).await,
            Some(Command::Audit(args)) => audit(args).await,
            Some(Command::Import(args)) => import(args).await,
            Some(Command::Completions { shell }) => {
                earshot::cli::write_completions(shell, &mut std::io::stdout());
                Ok(ExitCode::SUCCESS)
            }
            Some(Command::Man { out }) => man(out),
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

fn log_to_stderr(format: LogFormat) {
    earshot::logging::to_stderr(format);
}

fn log_to_file() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    earshot::logging::to_file(&paths::console_log())
}

fn man(out: Option<std::path::PathBuf>) -> anyhow::Result<ExitCode> {
    match out {
        None => earshot::cli::write_man_page(&mut std::io::stdout())?,
        Some(dir) => {
            let written = earshot::cli::write_man_pages(&dir).map_err(|e| {
                anyhow::anyhow!("cannot write the man pages to {}: {e}", dir.display())
            })?;
            for p in written {
                println!("{}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn console_options(look: LookArgs, config: Option<&ConnectionConfig>) -> ConsoleOptions {
    ConsoleOptions {
        theme: look.theme.or_else(|| config.and_then(|c| c.theme.clone())),
        keymap_preset: look
            .keymap
            .or_else(|| config.and_then(|c| c.keymap.clone())),
        color: look.color,
        mouse: look.mouse || config.is_some_and(|c| c.mouse),
        read_only: look.read_only,
        config_dir: Some(paths::config_dir()),
        data_dir: Some(paths::data_dir()),
    }
}

/// A bare `earshot`: the configured backend if there is one, otherwise the demo.
async fn bare() -> anyhow::Result<ExitCode> {
    match ConnectionConfig::load(&ConfigFlags::default())? {
        Some(_) => console(ConsoleArgs::default()).await,
        None => {
            demo(DemoArgs {
                sim_rate: 6.0,
                burst_every: 10.0,
                ..Default::default()
            })
            .await
        }
    }
}

async fn console(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let flags = ConfigFlags {
        url: args.url,
        token: args.token,
        token_file: args.token_file,
        config: args.config,
        insecure: args.insecure,
    };
    let Some(config) = ConnectionConfig::load(&flags)? else {
        anyhow::bail!("no backend configured: pass --url and --token, set EARSHOT_URL and EARSHOT_TOKEN, or run `earshot demo`");
    };
    for warning in &config.warnings {
        eprintln!("earshot: {warning}");
    }
    let backend = config.connect()?;
    refuse_bad_token(&backend, &config).await?;
    let _guard = log_to_file();
    let options = console_options(args.look, Some(&config));
    let backend = earshot::client::Sanitized::new(backend);
    tui::run_console(Arc::new(backend) as Arc<dyn CrmBackend>, options).await?;
    Ok(ExitCode::SUCCESS)
}

/// A token the backend refuses (401, or 403 for a token without the read scope) would leave a
/// console showing nothing but errors: say so and exit non-zero before taking the terminal. An
/// unreachable backend is no reason to stop (the console works offline and reconnects), so
/// the check waits a few seconds at most.
async fn refuse_bad_token(backend: &HttpBackend, config: &ConnectionConfig) -> anyhow::Result<()> {
    use earshot::client::ClientError;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), backend.me()).await;
    if let Ok(Err(ClientError::Unauthorized(detail))) = answer {
        anyhow::bail!(
            "{} refused the token from the {} ({}): check the token, or ask an admin for a new one (`earshot agent add`)",
            config.url,
            config.token_from,
            earshot::text::sanitize_inline(&detail)
        );
    }
    Ok(())
}

fn check_config(config_dir: Option<std::path::PathBuf>) -> ExitCode {
    let dir = config_dir.unwrap_or_else(paths::config_dir);
    let problems = tui::check_config(&dir);
    if problems.is_empty() {
        println!("{}: no problems", dir.display());
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        println!("{p}");
    }
    ExitCode::from(1)
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    log_to_stderr(args.log_format);
    let db = args.db.unwrap_or_else(paths::default_db);
    let mut config = ServerConfig::new(db.clone(), args.listen);
    config.demo = args.demo;
    config.routing = args.routing;
    config.rules = args.rules;
    if let Some(path) = &args.outbound {
        config.outbound =
            Some(server::delivery::OutboundConfig::load(path).map_err(|e| anyhow::anyhow!(e))?);
    }
    config.sim_per_minute = args.sim_rate;
    config.sim_burst_every_min = args.burst_every;
    config.limits = server::listener::Limits {
        header_read_timeout: std::time::Duration::from_secs(args.header_timeout),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
        max_connections: args.max_connections,
        max_streams_per_token: args.max_streams_per_token,
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        max_in_flight: args
            .max_in_flight
            .unwrap_or_else(server::overload::default_max_in_flight),
        max_reads_in_flight: args
            .max_reads_in_flight
            .unwrap_or_else(server::overload::default_max_reads_in_flight),
    };
    config.intake_key = Some(
        args.intake_key
            .intake_key_file
            .unwrap_or_else(paths::intake_key),
    );
    config.metrics_listen = args.metrics_listen;
    let running = server::start(config).await?;
    println!("earshot server listening on {}", running.url());
    if let Some(at) = running.metrics_addr {
        println!("prometheus metrics at http://{at}/metrics");
    }
    if args.demo {
        print_demo_tokens();
    } else if let Some(steps) =
        server::setup::next_steps(&running.store, &running.routing, &db).await?
    {
        println!("{steps}");
    }
    wait_for_signal().await;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let headless = args.headless.is_some();
    // Headless demos log to stderr like `serve`; with the console, logs go to a file.
    let _guard = if headless {
        log_to_stderr(args.log_format);
        None
    } else {
        log_to_file()
    };
    let db = args.db.unwrap_or_else(paths::demo_db);
    let listen = args
        .headless
        .unwrap_or_else(|| "127.0.0.1:0".parse().expect("valid literal address"));
    let mut config = ServerConfig::new(db.clone(), listen);
    config.demo = true;
    config.sim_per_minute = args.sim_rate;
    config.sim_burst_every_min = args.burst_every;
    if headless {
        println!("earshot: preparing the demo database at {db} (the first run seeds it)...");
    }
    let running = server::start(config).await?;
    if headless {
        println!("earshot demo server listening on {}", running.url());
        print_demo_tokens();
        println!(
            "Connect with: earshot console --url {} --token {}",
            running.url(),
            server::demo::DEMO_CONSOLE_TOKEN
        );
        println!("Press Ctrl-C to stop.");
        wait_for_signal().await;
        running.shutdown().await;
        return Ok(ExitCode::SUCCESS);
    }
    let backend = HttpBackend::new(&running.url(), server::demo::DEMO_CONSOLE_TOKEN)?;
    let backend = earshot::client::Sanitized::new(backend);
    let result = tui::run_console(
        Arc::new(backend) as Arc<dyn CrmBackend>,
        console_options(args.look, None),
    )
    .await;
    running.shutdown().await;
    result?;
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

async fn department(cmd: DepartmentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DepartmentCommand::Add { db, id, name } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let added = store.add_department(None, &id, name.as_deref()).await;
            store.close().await;
            let department = added?;
            println!("department {} ({}) created", department.id, department.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn intake(cmd: IntakeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IntakeCommand::Add {
            db,
            name,
            channel,
            department,
            key,
        } => {
            let path = key.intake_key_file.unwrap_or_else(paths::intake_key);
            let (key, created) =
                server::intake::IntakeKey::load_or_create(&path).map_err(anyhow::Error::msg)?;
            if created {
                eprintln!(
                    "earshot: created the intake key file {} (keep it; servers need it to check signatures)",
                    path.display()
                );
            }
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let added =
                server::intake::add_source(&store, &key, &name, channel, department.as_deref())
                    .await;
            store.close().await;
            let (source, secret) = added?;
            println!(
                "intake source {} created: POST /v1/intake/{} (channel {}, department {})",
                source.id,
                source.name,
                source
                    .channel
                    .map(|c| c.as_str())
                    .unwrap_or("named by each item"),
                source.department.as_deref().unwrap_or("by routing"),
            );
            println!("secret (shown once, keep it safe): {}", secret.to_whsec());
        }
        IntakeCommand::Revoke { db, name } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let revoked = store.revoke_intake_source(&name).await;
            store.close().await;
            if !revoked? {
                eprintln!("earshot: no live intake source named {name}");
                return Ok(ExitCode::from(1));
            }
            println!("intake source {name} revoked");
        }
        IntakeCommand::List { db } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let sources = store.intake_sources().await;
            store.close().await;
            for s in sources? {
                let at = |t: chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                println!(
                    "{}  {}  channel {}  department {}  created {}  {}",
                    s.name,
                    s.id,
                    s.channel.map(|c| c.as_str()).unwrap_or("-"),
                    s.department.as_deref().unwrap_or("-"),
                    at(s.created_at),
                    s.revoked_at
                        .map(|t| format!("revoked {}", at(t)))
                        .unwrap_or_else(|| "live".into()),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    if !(1..=10_000).contains(&args.limit) {
        anyhow::bail!("--limit must be between 1 and 10000");
    }
    let store = Store::open(&args.db.unwrap_or_else(paths::default_db)).await?;
    let filter = AuditFilter {
        actor: args.actor,
        action_prefix: args.action,
        object: args.object,
        since: args.since.map(|t| t.timestamp_micros()),
        until: args.until.map(|t| t.timestamp_micros()),
        before_id: None,
        limit: args.limit,
    };
    let entries = store.audit_log(&AuditScope::All, &filter).await;
    store.close().await;
    let entries = entries?;
    match args.format {
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
        AuditFormat::Text => {
            for e in &entries {
                // The detail may hold text an agent typed: no control characters to the terminal.
                let detail = earshot::text::sanitize_inline(&e.detail);
                println!(
                    "{}  {}  {}  {}  {}  {}",
                    e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    e.actor.as_deref().unwrap_or("-"),
                    e.action,
                    if e.object.is_empty() { "-" } else { &e.object },
                    e.outcome,
                    detail
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn agent(cmd: AgentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AgentCommand::Add {
            db,
            name,
            departments,
            role,
            scopes,
            expires_in_days,
        } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let (agent, token) = store
                .add_agent(NewAgent {
                    name: &name,
                    role,
                    departments: &departments,
                    scopes: (!scopes.is_empty()).then_some(scopes.as_slice()),
                })
                .await?;
            println!(
                "agent {} ({}) created in {}",
                agent.id,
                agent.name,
                departments.join(",")
            );
            if let Some(days) = expires_in_days {
                let at = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
                store.set_token_expiry(&token, at).await?;
                println!("the token expires at {}", at.to_rfc3339());
            }
            println!("token (shown once, keep it safe): {token}");
            store.close().await;
        }
        AgentCommand::Token {
            db,
            agent,
            scopes,
            expires_in_days,
        } => {
            let store = Store::open(&db.unwrap_or_else(paths::default_db)).await?;
            let expires = expires_in_days
                .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let token = store.add_token(&agent, &scopes, expires).await?;
            let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            println!(
                "new token of agent {agent} with scopes {}",
                scopes.join(",")
            );
            if let Some(at) = expires {
                println!("the token expires at {}", at.to_rfc3339());
            }
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

/// `earshot import customers|transactions FILE`: progress on stderr every 10,000 rows, each
/// skipped row on stderr with its line, the totals on stdout.
async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    use earshot::server::customer_data::{self, ImportError, ImportFormat};
    use std::io::Read;
    let stdin = args.file.as_os_str() == "-";
    let Some(format) = args.format.or_else(|| {
        (!stdin)
            .then(|| ImportFormat::from_path(&args.file))
            .flatten()
    }) else {
        anyhow::bail!(
            "cannot tell the format of {}: name it .csv or .jsonl, or pass --format csv|jsonl",
            args.file.display()
        );
    };
    let mut text = String::new();
    if stdin {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        std::fs::File::open(&args.file)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    }
    let store = Store::open(&args.db.unwrap_or_else(paths::default_db)).await?;
    let started = std::time::Instant::now();
    let printed = std::sync::atomic::AtomicU64::new(0);
    let progress = |done: u64| {
        let step = done / 10_000;
        if step > printed.swap(step, std::sync::atomic::Ordering::Relaxed) {
            eprintln!(
                "earshot: {} rows imported ({:.1} s)",
                step * 10_000,
                started.elapsed().as_secs_f64()
            );
        }
    };
    let result = customer_data::import(&store, None, args.kind, format, &text, &progress).await;
    store.close().await;
    let report = match result {
        Ok(r) => r,
        Err(ImportError::File(e)) => anyhow::bail!("{}: {e}", args.file.display()),
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    for p in &report.skipped {
        eprintln!("{}:{}: skipped: {}", args.file.display(), p.line, p.reason);
    }
    println!(
        "{} {}: {} rows, {} created, {} updated, {} unchanged, {} skipped ({:.1} s)",
        args.file.display(),
        report.kind,
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.skipped.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
