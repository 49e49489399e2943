//! The command line as a Unix user meets it: `--version` everywhere, shell completions that
//! the shell accepts, man pages naming every command, `check-config` on config.toml, log lines
//! without escape codes when stderr is not a terminal (or as JSON), and a console that stops
//! with a clear message when the backend refuses its token. The real binary throughout.

mod common;

use common::*;
use std::process::{Command, Stdio};

/// Every subcommand and sub-subcommand, as clap knows them (`agent add`...).
fn command_paths() -> Vec<Vec<String>> {
    use clap::CommandFactory;
    let cmd = earshot::cli::Cli::command();
    let mut paths = Vec::new();
    for sub in cmd.get_subcommands() {
        paths.push(vec![sub.get_name().to_string()]);
        for subsub in sub.get_subcommands() {
            paths.push(vec![
                sub.get_name().to_string(),
                subsub.get_name().to_string(),
            ]);
        }
    }
    paths
}

#[test]
fn every_subcommand_prints_the_version() {
    let want = format!("{}\n", env!("CARGO_PKG_VERSION"));
    for path in command_paths() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--version");
        let (code, out, err) = earshot(&args);
        assert_eq!(code, 0, "{path:?}: {err}");
        assert!(out.ends_with(&want), "{path:?}: {out}");
    }
}

#[test]
fn bash_accepts_the_completion_script_and_it_knows_every_command() {
    let (code, script, err) = earshot(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("earshot.bash");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Sourced, it registers a completion function for `earshot`.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p earshot", file.display()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sourced.stdout).contains("earshot"),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    for path in command_paths() {
        let name = path.last().unwrap();
        assert!(script.contains(name.as_str()), "{name} not in the script");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script, err) = earshot(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(script.contains("check-config"), "{shell}: {script}");
    }
    let (code, _, err) = earshot(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("possible values"), "{err}");
}

#[test]
fn the_man_pages_name_every_command() {
    let (code, page, err) = earshot(&["man"]);
    assert_eq!(code, 0, "{err}");
    // roff escapes the hyphens of names.
    let page = page.replace("\\-", "-");
    assert!(
        page.starts_with(".ie") || page.contains(".TH earshot 1"),
        "{page}"
    );
    for path in command_paths().iter().filter(|p| p.len() == 1) {
        assert!(
            page.contains(path[0].as_str()),
            "{} not in earshot.1",
            path[0]
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let (code, listed, err) = earshot(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for path in command_paths() {
        let file = out.join(format!("earshot-{}.1", path.join("-")));
        assert!(
            file.exists(),
            "{} missing; listed:\n{listed}",
            file.display()
        );
        assert!(listed.contains(file.to_str().unwrap()), "{listed}");
    }
    assert!(out.join("earshot.1").exists());
    // man(1) itself can format one.
    if Command::new("man").arg("--version").output().is_ok() {
        let shown = Command::new("man")
            .arg("-l")
            .arg(out.join("earshot-lint.1"))
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&shown.stdout).contains("rulebook"),
            "{}",
            String::from_utf8_lossy(&shown.stderr)
        );
    }
}

#[cfg(unix)]
#[test]
fn check_config_reports_config_toml_problems_with_lines_and_the_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "es_x\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "url = \"https://crm.example\"\ntoken_file = \"token\"\n\ncolour = \"red\"\n",
    )
    .unwrap();
    let (code, out, _) = earshot(&["check-config", "--config-dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("config.toml:4: unknown key `colour`"), "{out}");
    assert!(
        out.contains(&format!("run `chmod 600 {}`", token.display())),
        "{out}"
    );
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "url = \"https://crm.example\"\ntoken_file = \"token\"\n",
    )
    .unwrap();
    let (code, out, _) = earshot(&["check-config", "--config-dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no problems"), "{out}");
}

/// Text logs to a pipe carry no escape codes; `--log-format json` gives one object a line.
#[tokio::test]
async fn server_logs_to_a_pipe_are_plain_text_or_json() {
    for (format, json) in [("text", false), ("json", true)] {
        let db = sqlite_db();
        let listen = free_address();
        let child = Command::new(env!("CARGO_BIN_EXE_earshot"))
            .args([
                "serve",
                "--db",
                &db.url,
                "--listen",
                &listen,
                "--log-format",
                format,
            ])
            .env("EARSHOT_LOG", "info")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let base = format!("http://{listen}");
        let mut up = false;
        for _ in 0..200 {
            if reqwest::get(format!("{base}/v1/health")).await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        sigterm(&child);
        let out = child.wait_with_output().unwrap();
        assert!(up, "server did not come up");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(!log.trim().is_empty(), "no log lines");
        assert!(!log.contains('\u{1b}'), "escape codes in {log:?}");
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            let parsed = serde_json::from_str::<serde_json::Value>(line);
            assert_eq!(parsed.is_ok(), json, "{format}: {line}");
            if json {
                let v = parsed.unwrap();
                assert!(
                    v["level"].is_string() && v["timestamp"].is_string(),
                    "{line}"
                );
            }
        }
    }
}

/// SIGTERM, so the server shuts down (and flushes its log) as it would under a supervisor.
fn sigterm(child: &std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

// Multi-threaded: the server answers from this process while the test waits on the console.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_exits_non_zero_when_the_backend_refuses_its_token() {
    let s = start().await;
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args([
            "console",
            "--url",
            &s.base,
            "--token",
            "es_not_a_real_token",
        ])
        .env("EARSHOT_LOG", "error")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused the token from the command line"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
    s.stop().await;
}
