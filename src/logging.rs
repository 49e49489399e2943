//! Where log lines go. Server commands log to standard error, as text (colours only when it is
//! a terminal and `NO_COLOR` is unset, so a file or a collector never gets escape codes) or as
//! JSON, one object per line. The console draws on the terminal, so its logs (and the
//! in-process demo server's) go to a file in the state directory, never to the screen; the
//! file is the user's alone (0600): log lines can name customers.

use crate::cli::LogFormat;
use std::path::Path;

/// `EARSHOT_LOG` (tracing's filter syntax), or info with sqlx's per-query lines turned down.
fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("EARSHOT_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into())
}

/// Logs of server commands, to standard error.
pub fn to_stderr(format: LogFormat) {
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Logs of the console, appended to `path` (0600). `None`, with a line on stderr before the
/// terminal is taken, when the file cannot be opened: the console runs without a log.
pub fn to_file(path: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let file = match open_private(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("earshot: no log file: cannot open {}: {e}", path.display());
            return None;
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(false)
        .with_writer(writer)
        .try_init()
        .ok()?;
    Some(guard)
}

/// Opens `path` for appending, its directory created; the file is 0600 whether new or not
/// (a log left readable by an older version is closed up).
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_log_file_is_private_new_or_old() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/earshot/earshot.log");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        writeln!(open_private(&path).unwrap(), "one").unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        writeln!(open_private(&path).unwrap(), "two").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }
}
