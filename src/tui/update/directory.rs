//! What the backend says of customers: a profile, its history and transactions, and the link
//! picker's search results and suggestions.

use crate::client::ClientError;
use crate::domain::api::{IdentityMatches, Page};
use crate::domain::{Customer, HistoryEntry, Transaction};
use crate::tui::effect::Effect;
use crate::tui::model::{CustomerView, Load, Model, Overlay};

fn loaded<T, U>(result: Result<T, ClientError>, f: impl FnOnce(T) -> U) -> Load<U> {
    match result {
        Ok(v) => Load::Loaded(f(v)),
        Err(e) => Load::Failed(e.to_string()),
    }
}

#[must_use]
pub(crate) fn on_customer(
    m: &mut Model,
    id: String,
    result: Result<Customer, ClientError>,
) -> Vec<Effect> {
    let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
    v.customer = loaded(result, |c| c);
    m.dirty = true;
    super::marks::relint(m);
    vec![]
}

#[must_use]
pub(crate) fn on_history(
    m: &mut Model,
    id: String,
    result: Result<Page<HistoryEntry>, ClientError>,
) -> Vec<Effect> {
    let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
    v.history = loaded(result, |p| p.items);
    m.dirty = true;
    vec![]
}

#[must_use]
pub(crate) fn on_transactions(
    m: &mut Model,
    id: String,
    result: Result<Page<Transaction>, ClientError>,
) -> Vec<Effect> {
    let v = m.customers.entry(id).or_insert_with(CustomerView::loading);
    v.transactions = loaded(result, |p| p.items);
    m.dirty = true;
    vec![]
}

/// The link picker's search, if it is still the one the picker asked for.
#[must_use]
pub(crate) fn on_search(
    m: &mut Model,
    query: &str,
    result: Result<Page<Customer>, ClientError>,
) -> Vec<Effect> {
    if let Some(Overlay::Link(ls)) = &mut m.overlay {
        if ls.searched.as_deref() == Some(query) {
            ls.results = loaded(result, |p| p.items);
            ls.selected = 0;
            m.dirty = true;
        }
    }
    vec![]
}

/// The server's suggestions for the identity the link picker is open on.
#[must_use]
pub(crate) fn on_matches(
    m: &mut Model,
    identity_id: &str,
    result: Result<IdentityMatches, ClientError>,
) -> Vec<Effect> {
    if let Some(Overlay::Link(ls)) = &mut m.overlay {
        if ls.identity.id == identity_id {
            ls.suggestions = loaded(result, |found| found.candidates);
            ls.selected = 0;
            m.dirty = true;
        }
    }
    vec![]
}
