//! Identity resolution: which customer is behind an identity. An email or phone author whose
//! normalised address belongs to exactly one customer is linked at intake; otherwise the
//! candidates are ranked with their reasons for an agent to choose. Linking, unlinking and
//! matching need the identity to be seen in the caller's departments.

use super::db::{audit_in, Store};
use super::error::{StoreError, StoreResult};
use super::events::append;
use super::history::{add_history, refresh_roles, summary};
use super::rows::{self, get};
use super::scope::DepartmentScope;
use crate::domain::api::{IdentityMatches, MatchCandidate};
use crate::domain::*;
use crate::server::customer_data::{normalise_email, normalise_phone};
use sqlx::{Any, Transaction as SqlTx};

/// How many candidates `GET /v1/identities/{id}/matches` returns.
const MAX_CANDIDATES: usize = 10;
/// Jaro-Winkler similarity from which names and handles count as similar.
const SIMILAR: f64 = 0.85;

/// The identity, if the caller sees it: in `scope`, it wrote at least one item (an identity
/// known only to another department is "not found").
pub(crate) async fn visible_identity(
    conn: &mut sqlx::AnyConnection,
    identity_id: &str,
    scope: &DepartmentScope,
) -> StoreResult<Identity> {
    let not_found = || StoreError::NotFound(format!("identity {identity_id}"));
    let row = sqlx::query("SELECT * FROM identities WHERE id = $1")
        .bind(identity_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(not_found)?;
    if *scope != DepartmentScope::All {
        let (visible, departments) = scope.sql("department", 2);
        let sql =
            format!("SELECT id FROM feedback WHERE author_identity_id = $1 AND {visible} LIMIT 1");
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(identity_id);
        for d in departments {
            query = query.bind(d);
        }
        if query.fetch_optional(&mut *conn).await?.is_none() {
            return Err(not_found());
        }
    }
    rows::identity(&row, "")
}

/// The identity, if the caller may change who it belongs to: it is visible (see
/// [`visible_identity`]) and, unless the caller sees every department, it wrote nothing outside
/// the caller's departments. Otherwise an agent could post under a handle seen elsewhere (which
/// makes the identity "seen" in their department) and then relink another department's items.
pub(crate) async fn changeable_identity(
    conn: &mut sqlx::AnyConnection,
    identity_id: &str,
    scope: &DepartmentScope,
) -> StoreResult<Identity> {
    let identity = visible_identity(conn, identity_id, scope).await?;
    if let DepartmentScope::Only(_) = scope {
        let (visible, departments) = scope.sql("department", 2);
        let sql = format!(
            "SELECT id FROM feedback WHERE author_identity_id = $1 AND NOT ({visible}) LIMIT 1"
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(identity_id);
        for d in departments {
            query = query.bind(d);
        }
        if query.fetch_optional(&mut *conn).await?.is_some() {
            return Err(StoreError::Conflict(
                "this identity also wrote to departments outside yours; an admin links or unlinks it"
                    .into(),
            ));
        }
    }
    Ok(identity)
}

/// The events of a link or unlink: `customer.updated` for the customer, then `feedback.updated`
/// for each item that joined or left it; returns the last sequence number.
pub(crate) async fn append_link_changed(
    tx: &mut SqlTx<'static, Any>,
    dialect: super::db::Dialect,
    customer_id: &str,
    items: &[String],
) -> StoreResult<i64> {
    let last = append(
        tx,
        dialect,
        EventName::CustomerUpdated,
        None,
        &serde_json::json!({ "customer_id": customer_id }),
    )
    .await?;
    append_items_updated(tx, dialect, items, last).await
}

/// Appends `feedback.updated` for each item (their consoles show the new customer) after
/// `last`, and returns the last sequence number.
pub(crate) async fn append_items_updated(
    tx: &mut SqlTx<'static, Any>,
    dialect: super::db::Dialect,
    items: &[String],
    mut last: i64,
) -> StoreResult<i64> {
    for fid in items {
        let f = super::rows::load_feedback(tx, fid).await?;
        last = append(
            tx,
            dialect,
            EventName::FeedbackUpdated,
            Some(&f.department),
            &f,
        )
        .await?;
    }
    Ok(last)
}

/// Links `identity` to `customer_id`: its items without a customer join the customer and its
/// history. Returns those items' ids (their consoles need a `feedback.updated`).
pub(crate) async fn attach_identity(
    tx: &mut SqlTx<'static, Any>,
    identity: &Identity,
    customer_id: &str,
    now: i64,
) -> StoreResult<Vec<String>> {
    // Linked since `now`, unless it was linked to this customer already.
    sqlx::query(
        "UPDATE identities SET linked_at = CASE WHEN customer_id = $1 THEN COALESCE(linked_at, $3) ELSE $3 END, \
         customer_id = $1 WHERE id = $2",
    )
        .bind(customer_id)
        .bind(&identity.id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let items: Vec<(String, String, String, i64, f64)> = sqlx::query_as(
        "SELECT id, channel, text, received_at, sentiment FROM feedback WHERE author_identity_id = $1 AND customer_id IS NULL",
    )
    .bind(&identity.id)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("UPDATE feedback SET customer_id = $1, version = version + 1 WHERE author_identity_id = $2 AND customer_id IS NULL")
        .bind(customer_id)
        .bind(&identity.id)
        .execute(&mut **tx)
        .await?;
    for (fid, channel, text, at, sentiment) in &items {
        let channel: Channel = channel.parse().unwrap_or(identity.network);
        add_history(
            tx,
            customer_id,
            HistoryKind::Feedback,
            channel,
            &summary(text),
            Some(fid),
            Some(*sentiment),
            *at,
        )
        .await?;
    }
    Ok(items.into_iter().map(|(id, ..)| id).collect())
}

/// The normalised address an author on `network` writes from, as stored in
/// `customer_contacts`: (`email`, case-folded address) or (`phone`, E.164).
fn contact_of(network: Channel, handle: &str) -> Option<(&'static str, String)> {
    match network {
        Channel::Email => normalise_email(handle).map(|e| ("email", e)),
        Channel::Phone | Channel::Sms | Channel::Whatsapp => {
            normalise_phone(handle).map(|p| ("phone", p))
        }
        _ => None,
    }
}

/// The one customer whose address is exactly this author's, if there is exactly one.
pub(crate) async fn auto_link_target(
    tx: &mut SqlTx<'static, Any>,
    network: Channel,
    handle: &str,
) -> StoreResult<Option<String>> {
    let Some((kind, value)) = contact_of(network, handle) else {
        return Ok(None);
    };
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2 LIMIT 2",
    )
    .bind(kind)
    .bind(value)
    .fetch_all(&mut **tx)
    .await?;
    Ok(match owners.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// Lower-case letters and digits only: how handles and names are compared.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn words(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The reasons `customer` may be the person behind `identity`, with a score for each.
// An email handle that matches no email must not fall through to the phone arm: the nested
// `if`s are the semantics, not a style.
#[allow(clippy::collapsible_match)]
fn reasons(identity: &Identity, customer: &Customer) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    match contact_of(identity.network, &identity.handle) {
        Some(("email", e)) => {
            if customer
                .emails
                .iter()
                .any(|c| normalise_email(c).as_deref() == Some(&e))
            {
                out.push((format!("same email {e}"), 1.0));
            }
        }
        Some((_, p)) => {
            if customer
                .phones
                .iter()
                .any(|c| normalise_phone(c).as_deref() == Some(&p))
            {
                out.push((format!("same phone {p}"), 1.0));
            }
        }
        None => {}
    }
    let name = words(&customer.full_name());
    let shown = words(&identity.display_name);
    if !shown.is_empty() && !name.is_empty() {
        if shown == name {
            out.push(("same name".to_string(), 0.8));
        } else {
            let sim = strsim::jaro_winkler(&shown, &name);
            if sim >= SIMILAR {
                out.push((format!("similar name ({sim:.2})"), 0.7 * sim));
            }
        }
    }
    let handle = squash(identity.handle.split('@').next().unwrap_or_default());
    let handle = if handle.is_empty() {
        squash(&identity.handle)
    } else {
        handle
    };
    if handle.len() >= 3 && contact_of(identity.network, &identity.handle).is_none() {
        let locals: Vec<String> = customer
            .emails
            .iter()
            .map(|e| squash(e.split('@').next().unwrap_or_default()))
            .collect();
        if locals.contains(&handle) {
            out.push(("handle is the email's name".to_string(), 0.75));
        } else {
            let (first, last) = (squash(&customer.first_name), squash(&customer.last_name));
            let forms = [
                format!("{first}{last}"),
                format!("{last}{first}"),
                first.clone(),
                format!("{}{last}", first.chars().next().unwrap_or_default()),
            ];
            let best = forms
                .iter()
                .chain(locals.iter())
                .filter(|f| !f.is_empty())
                .map(|f| strsim::jaro_winkler(&handle, f))
                .fold(0.0, f64::max);
            if best >= SIMILAR {
                out.push((format!("similar handle ({best:.2})"), 0.6 * best));
            }
        }
    }
    out
}

impl Store {
    /// Customers who may be behind an identity, best first, each with a score and its reasons
    /// (same email or phone, same or similar name, similar handle).
    pub async fn identity_matches(
        &self,
        identity_id: &str,
        scope: &DepartmentScope,
    ) -> StoreResult<IdentityMatches> {
        let mut conn = self.reader().acquire().await?;
        let identity = visible_identity(&mut conn, identity_id, scope).await?;
        let mut ids: Vec<String> = Vec::new();
        if let Some((kind, value)) = contact_of(identity.network, &identity.handle) {
            let owners: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2 LIMIT 50",
            )
            .bind(kind)
            .bind(value)
            .fetch_all(&mut *conn)
            .await?;
            ids.extend(owners);
        }
        // Candidates by name: any customer whose name, email or phone holds a word of the
        // display name or the handle.
        let mut tokens: Vec<String> = format!(
            "{} {}",
            identity.display_name,
            identity.handle.split('@').next().unwrap_or_default()
        )
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
        tokens.sort();
        tokens.dedup();
        for token in tokens.iter().take(6) {
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM customers WHERE search LIKE $1 ORDER BY id LIMIT 50",
            )
            .bind(format!("%{token}%"))
            .fetch_all(&mut *conn)
            .await?;
            ids.extend(found);
        }
        ids.sort();
        ids.dedup();
        let mut scored: Vec<(f64, String, Vec<String>)> = Vec::new();
        if !ids.is_empty() {
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT * FROM customers WHERE id IN ({})", marks.join(","));
            let mut query = sqlx::query(&sql);
            for id in &ids {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let customer = rows::customer(&row)?;
                let mut found = reasons(&identity, &customer);
                if found.is_empty() {
                    continue;
                }
                found.sort_by(|a, b| b.1.total_cmp(&a.1));
                let score = (found[0].1 + 0.1 * (found.len() - 1) as f64).min(1.0);
                let id: String = get(&row, "id")?;
                scored.push((score, id, found.into_iter().map(|(r, _)| r).collect()));
            }
        }
        drop(conn);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.truncate(MAX_CANDIDATES);
        let mut candidates = Vec::with_capacity(scored.len());
        for (score, id, reasons) in scored {
            candidates.push(MatchCandidate {
                customer: self.customer(&id).await?,
                score: (score * 100.0).round() / 100.0,
                reasons,
            });
        }
        Ok(IdentityMatches {
            identity,
            candidates,
        })
    }

    /// Detaches an identity from its customer: its items leave the customer and its history,
    /// and the customer's roles are derived again.
    pub async fn unlink_identity(
        &self,
        agent_id: &str,
        identity_id: &str,
        scope: &DepartmentScope,
    ) -> StoreResult<Identity> {
        let mut tx = self.begin_write().await?;
        let mut identity = changeable_identity(&mut tx, identity_id, scope).await?;
        let Some(customer_id) = identity.customer_id.clone() else {
            return Err(StoreError::Conflict(
                "the identity is not linked to a customer".into(),
            ));
        };
        let items: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM feedback WHERE author_identity_id = $1 AND customer_id = $2",
        )
        .bind(identity_id)
        .bind(&customer_id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("UPDATE identities SET customer_id = NULL, linked_at = NULL WHERE id = $1")
            .bind(identity_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM history WHERE customer_id = $1 AND feedback_id IN \
             (SELECT id FROM feedback WHERE author_identity_id = $2 AND customer_id = $1)",
        )
        .bind(&customer_id)
        .bind(identity_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE feedback SET customer_id = NULL, version = version + 1 WHERE author_identity_id = $1 AND customer_id = $2")
            .bind(identity_id)
            .bind(&customer_id)
            .execute(&mut *tx)
            .await?;
        refresh_roles(&mut tx, &customer_id).await?;
        audit_in(
            &mut tx,
            Some(agent_id),
            "identity.unlink",
            identity_id,
            "ok",
            &customer_id,
        )
        .await?;
        let last = append_link_changed(&mut tx, self.dialect(), &customer_id, &items).await?;
        self.commit(tx, Some(last)).await?;
        identity.customer_id = None;
        Ok(identity)
    }
}
