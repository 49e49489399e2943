//! A refused rulebook, located as `file:line:col`. Its own module so that the parser and the
//! compilers that produce it need not import `Rulebook`.

use std::fmt;
use std::path::Path;

/// A refused rulebook. Displays as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulebookError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for RulebookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for RulebookError {}

impl RulebookError {
    pub(super) fn io(path: &Path, err: &std::io::Error) -> Self {
        RulebookError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {err}"),
        }
    }
}
