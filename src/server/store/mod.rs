//! The CRM store: SQLite (embedded default) or PostgreSQL, through sqlx's `Any` driver so that
//! one set of queries serves both. Queries use `$N` placeholders, which both drivers accept.

mod agents;
mod audit_log;
mod backlog;
pub(crate) mod batches;
mod conversation;
mod customer_data;
mod customers;
pub(crate) mod db;
mod deliveries;
mod dialect;
pub(crate) mod error;
mod events;
mod feedback;
mod history;
mod identities;
mod intake;
mod metrics;
mod metrics_mirror;
mod mirror_refresh;
mod multi_row;
mod pooling;
mod queue;
mod replies;
mod reply_queue;
mod rows;
mod scope;
mod search;
mod statistics;
mod time;
mod triage;

pub use crate::domain::recipient::{recipient, ReplyRecipient};
pub use agents::{
    department_id_problem, hash_token, AuthenticatedAgent, NewAgent, SetupState, MAX_DEPARTMENT_ID,
};
pub use audit_log::{AuditFilter, AuditScope};
pub use batches::{Progress, IMPORT_BATCH};
pub use customers::NewCustomer;
pub use db::{new_id, Dialect, Store};
pub use deliveries::{Answers, AttemptStart, PostRef, INTERRUPTED};
pub use error::{StoreError, StoreResult};
pub use events::EventRow;
pub use feedback::{Correction, FeedbackFilter, Intake, PatchPolicy, Via};
pub use intake::{new_source_id, source_name_problem, IntakeSource, NewIntakeSource};
pub use queue::{Plan, Walk, SCAN_BUDGET};
pub use reply_queue::ReplyOutcome;
pub use scope::DepartmentScope;
pub use search::{stored_words, TextQuery};
pub use time::{micros_to_time, now_micros, Clock};
