//! What a bulk (macro) reply did to each item; building and drawing it is in `tui::overlay::bulk_results`.

#[derive(Debug, Clone, PartialEq)]
pub enum BulkOutcome {
    /// Handed to the outbox under `key`; its state follows the outbox entry.
    Sent { key: String },
    /// Not sent, and why (no public thread, not loaded, a rule found here).
    Skipped { why: String },
    /// The server refused it: the rule(s) and its words.
    Refused { rules: Vec<String>, detail: String },
    /// The server could not take it for another reason.
    Failed { why: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkEntry {
    pub feedback_id: String,
    /// Who the item is from (handle), so the list reads without ids.
    pub who: String,
    pub outcome: BulkOutcome,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkReport {
    pub entries: Vec<BulkEntry>,
}
