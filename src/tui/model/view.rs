//! Where the agent is: the focused pane, the view of the stream, the connection.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Stream,
    Profile,
    Composer,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Stream => Focus::Profile,
            Focus::Profile => Focus::Composer,
            Focus::Composer => Focus::Stream,
        }
    }
    pub fn prev(self) -> Focus {
        match self {
            Focus::Stream => Focus::Composer,
            Focus::Profile => Focus::Stream,
            Focus::Composer => Focus::Profile,
        }
    }
}

/// Which items the stream shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// Assigned to me.
    Mine,
    /// Routed to one of my departments.
    Dept,
    /// Nobody is assigned (in my departments, as the server scopes them).
    Unassigned,
    All,
}

impl ViewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::Mine => "mine",
            ViewKind::Dept => "dept",
            ViewKind::Unassigned => "unassigned",
            ViewKind::All => "all",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            ViewKind::Mine => "my queue",
            ViewKind::Dept => "my department",
            ViewKind::Unassigned => "unassigned",
            ViewKind::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<ViewKind> {
        match s {
            "mine" | "me" | "queue" => Some(ViewKind::Mine),
            "dept" | "department" => Some(ViewKind::Dept),
            "unassigned" | "none" => Some(ViewKind::Unassigned),
            "all" => Some(ViewKind::All),
            _ => None,
        }
    }
    pub fn next(self) -> ViewKind {
        match self {
            ViewKind::Mine => ViewKind::Dept,
            ViewKind::Dept => ViewKind::Unassigned,
            ViewKind::Unassigned => ViewKind::All,
            ViewKind::All => ViewKind::Mine,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Connected,
    Disconnected { reason: String, retry_in_ms: u64 },
}
