//! What the console knows of a customer: the profile, the history, the transactions.

use super::load::Load;
use crate::domain::{Customer, HistoryEntry, Transaction};

/// A customer's profile and its parts, each loaded on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerView {
    pub customer: Load<Customer>,
    pub history: Load<Vec<HistoryEntry>>,
    pub transactions: Load<Vec<Transaction>>,
}

impl CustomerView {
    pub fn loading() -> Self {
        CustomerView {
            customer: Load::Loading,
            history: Load::Loading,
            transactions: Load::Loading,
        }
    }
}
