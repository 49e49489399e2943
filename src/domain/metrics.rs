//! The team's measures (`GET /v1/metrics/summary`): real-time response, how fully social data
//! is integrated with customer data, and how customers feel over time. Shared by the server
//! that computes them and the console's Team screen that draws them.
//!
//! Durations are whole seconds; shares are fractions in 0..=1, `None` when nothing was counted.

use super::*;

string_enum!(
    /// The window a summary covers, ending now.
    MetricsWindow default Day { Hour = "1h", Day = "24h", Week = "7d", Month = "30d" }
);

impl MetricsWindow {
    pub fn seconds(self) -> i64 {
        match self {
            MetricsWindow::Hour => 3_600,
            MetricsWindow::Day => 86_400,
            MetricsWindow::Week => 7 * 86_400,
            MetricsWindow::Month => 30 * 86_400,
        }
    }

    /// The length of one slice of [`MetricsSummary::response_trend`]: 12, 24, 28 or 30 slices.
    pub fn trend_slice_seconds(self) -> i64 {
        match self {
            MetricsWindow::Hour => 300,
            MetricsWindow::Day => 3_600,
            MetricsWindow::Week => 6 * 3_600,
            MetricsWindow::Month => 86_400,
        }
    }
}

/// The query of `GET /v1/metrics/summary`. Every filter narrows every measure of items (`agent`:
/// the items assigned to that agent, and the agents listed); the linked-identity share is the
/// organisation's, as identities are shared by every department like customer records.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    #[serde(default)]
    pub window: MetricsWindow,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// `GET /v1/metrics/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsSummary {
    pub window: MetricsWindow,
    /// The window is `[since, generated_at)`.
    pub since: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// From an item's arrival to the first reply sent on it, over items first answered in the
    /// window.
    pub first_response: Latency,
    /// From an item's arrival to its resolution, over items resolved in the window.
    pub resolution: Latency,
    /// Every department in scope, with nothing counted too.
    pub by_department: Vec<GroupLatency>,
    /// The items' assignees with something counted.
    pub by_agent: Vec<GroupLatency>,
    /// Channels with something counted.
    pub by_channel: Vec<GroupLatency>,
    /// Median first-response time per department in scope and slice of the window (from
    /// `since`, each `trend_slice_secs` long), over the items first answered in the slice.
    pub trend_slice_secs: i64,
    pub response_trend: Vec<DepartmentTrend>,
    pub sla: SlaSummary,
    /// Open work (every status but `resolved`) by status and priority, in the order of the
    /// statuses and priorities; zero counts left out.
    pub queue: Vec<QueueCount>,
    /// Feedback in and replies out per hour of the window (from `since`), oldest first, every hour
    /// present.
    pub volume: Vec<HourVolume>,
    /// The linked-identity share at the end of each day of the window (`since` + 1, 2... days,
    /// the last at `generated_at`), oldest first.
    pub linked: Vec<LinkedShare>,
    /// Sentiment of the feedback received per day of the window (from `since`) and channel,
    /// oldest first; a day or channel without feedback is left out.
    pub sentiment: Vec<DaySentiment>,
    /// Customers with the role, by items in the window, most active first (at most 10).
    pub detractors: Vec<ActiveCustomer>,
    pub helpers: Vec<ActiveCustomer>,
    /// Agents (not admins) of the departments in scope with their open load and availability,
    /// by name.
    pub agents: Vec<AgentLoad>,
}

/// Percentiles of a duration in seconds (nearest-rank), over `count` samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Latency {
    pub count: u64,
    pub p50_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

/// Latencies of one department, agent or channel (`key` is its id or wire name; `name` the
/// department's or agent's name, the channel's wire name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupLatency {
    pub key: String,
    pub name: String,
    pub first_response: Latency,
    pub resolution: Latency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DepartmentTrend {
    pub department: String,
    /// One value per slice, oldest first; `None` where nothing was first answered.
    pub p50_secs: Vec<Option<i64>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlaSummary {
    /// Open items (awaiting an answer: new, open, pending), and how many of them are past due
    /// now.
    pub open: u64,
    pub breached_now: u64,
    /// Open items not yet due, by time left: under 1 hour, 1 to 4 hours, more.
    pub due_within_1h: u64,
    pub due_within_4h: u64,
    pub due_later: u64,
    /// Of the items whose SLA fell due in the window, the share answered (replied to or
    /// resolved) late or not at all.
    pub breach_share: Option<f64>,
    /// Open items past due now, the most overdue first (at most 50).
    pub breached: Vec<BreachedItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BreachedItem {
    pub feedback_id: String,
    pub department: String,
    pub assignee: Option<String>,
    pub channel: Channel,
    pub priority: Priority,
    pub sla_due_at: DateTime<Utc>,
    pub author_handle: String,
    /// The start of the post, at most 80 characters.
    pub excerpt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueCount {
    pub status: FeedbackStatus,
    pub priority: Priority,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HourVolume {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub inbound: u64,
    pub replies: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkedShare {
    /// The end of the day (exclusive) at which the shares were taken.
    pub at: DateTime<Utc>,
    /// Social identities linked to a customer record by then, of all identities first seen by
    /// then (an identity unlinked since counts as never linked).
    pub identities: Option<f64>,
    /// Of the feedback received that day, the share whose author is linked to a customer now.
    pub feedback: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DaySentiment {
    /// The start of the day of the window (`since` + whole days).
    pub day: DateTime<Utc>,
    pub channel: Channel,
    pub negative: u64,
    pub neutral: u64,
    pub positive: u64,
    /// Mean of the items' scores (-1..=1).
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActiveCustomer {
    pub customer_id: String,
    pub name: String,
    /// Feedback items by this customer in the window.
    pub items: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentLoad {
    pub agent_id: String,
    pub name: String,
    pub availability: Availability,
    /// Items assigned to the agent awaiting an answer (new, open, pending), as routing counts
    /// load.
    pub open: u64,
    /// Of those, how many are past due.
    pub breached: u64,
}
