//! Customers (the CRM record), their social identities, transactions and history.

use super::db::{audit_in, new_id, require_customer, Store};
use super::error::{StoreError, StoreResult};
use super::history::{derive_roles, refresh_roles};
use super::rows::{self, get};
use super::scope::DepartmentScope;
use crate::domain::*;
use sqlx::{Any, Transaction as SqlTx};

/// A customer to create (the demo seed, an import).
pub struct NewCustomer {
    pub id: String,
    /// The id in the organisation's own systems (unique).
    pub external_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub tier: String,
    pub lifetime_value: Money,
    pub preferences: Preferences,
    pub tags: Vec<String>,
    pub created_at: i64,
}

/// How many of a customer's latest feedback items make the sentiment trend.
const TREND_LEN: i64 = 20;

pub(crate) fn search_text(first: &str, last: &str, emails: &[String], phones: &[String]) -> String {
    format!(
        "{} {} {} {}",
        first,
        last,
        emails.join(" "),
        phones.join(" ")
    )
    .to_lowercase()
}

pub(crate) async fn insert_customer(
    tx: &mut SqlTx<'static, Any>,
    c: &NewCustomer,
) -> StoreResult<()> {
    let search = search_text(&c.first_name, &c.last_name, &c.emails, &c.phones);
    // A new record has no orders nor feedback yet: its roles follow from its lifetime value.
    let roles = derive_roles(0, c.lifetime_value.amount, 0, 0, 0);
    sqlx::query(
        "INSERT INTO customers (id, first_name, last_name, emails, phones, tier, ltv_amount, ltv_currency, \
         language, preferred_channel, consent_email, consent_sms, consent_whatsapp, consent_social_dm, tags, roles, \
         search, created_at, external_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
    )
    .bind(&c.id)
    .bind(&c.first_name)
    .bind(&c.last_name)
    .bind(serde_json::to_string(&c.emails).unwrap_or_default())
    .bind(serde_json::to_string(&c.phones).unwrap_or_default())
    .bind(&c.tier)
    .bind(c.lifetime_value.amount.to_string())
    .bind(&c.lifetime_value.currency)
    .bind(&c.preferences.language)
    .bind(c.preferences.preferred_channel.as_str())
    .bind(c.preferences.consents.email as i64)
    .bind(c.preferences.consents.sms as i64)
    .bind(c.preferences.consents.whatsapp as i64)
    .bind(c.preferences.consents.social_dm as i64)
    .bind(serde_json::to_string(&c.tags).unwrap_or_default())
    .bind(serde_json::to_string(&roles).unwrap_or_default())
    .bind(search)
    .bind(c.created_at)
    .bind(&c.external_id)
    .execute(&mut **tx)
    .await?;
    write_contacts(tx, &c.id, &c.emails, &c.phones, false).await
}

/// Stores the normalised addresses of a customer (what identity resolution matches on),
/// replacing the old ones when `replace`.
pub(crate) async fn write_contacts(
    tx: &mut SqlTx<'static, Any>,
    customer_id: &str,
    emails: &[String],
    phones: &[String],
    replace: bool,
) -> StoreResult<()> {
    use crate::server::customer_data::{normalise_email, normalise_phone};
    if replace {
        sqlx::query("DELETE FROM customer_contacts WHERE customer_id = $1")
            .bind(customer_id)
            .execute(&mut **tx)
            .await?;
    }
    let mut contacts: Vec<(&str, String)> = Vec::new();
    for e in emails.iter().filter_map(|e| normalise_email(e)) {
        contacts.push(("email", e));
    }
    for p in phones.iter().filter_map(|p| normalise_phone(p)) {
        contacts.push(("phone", p));
    }
    contacts.sort();
    contacts.dedup();
    if contacts.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..contacts.len())
        .map(|i| format!("($1,${},${})", 2 + 2 * i, 3 + 2 * i))
        .collect();
    let sql = format!(
        "INSERT INTO customer_contacts (customer_id, kind, value) VALUES {}",
        values.join(",")
    );
    let mut query = sqlx::query(&sql).bind(customer_id);
    for (kind, value) in contacts {
        query = query.bind(kind).bind(value);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

pub(crate) async fn insert_transaction(
    tx: &mut SqlTx<'static, Any>,
    t: &Transaction,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO transactions (id, customer_id, kind, reference, description, amount, currency, occurred_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&t.id)
    .bind(&t.customer_id)
    .bind(t.kind.as_str())
    .bind(&t.reference)
    .bind(&t.description)
    .bind(t.amount.amount.to_string())
    .bind(&t.amount.currency)
    .bind(t.occurred_at.timestamp_micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The identity with this handle on this network, created (unverified) if new. An email or
/// phone author not yet linked whose address belongs to exactly one customer is linked to that
/// customer (audited as `identity.autolink`); the ids of the earlier items that joined the
/// customer with it are returned too.
pub(crate) async fn find_or_create_identity(
    tx: &mut SqlTx<'static, Any>,
    network: Channel,
    handle: &str,
    display_name: &str,
    customer_id: Option<&str>,
    now: i64,
) -> StoreResult<(Identity, Vec<String>)> {
    let existing = sqlx::query("SELECT * FROM identities WHERE network = $1 AND handle = $2")
        .bind(network.as_str())
        .bind(handle)
        .fetch_optional(&mut **tx)
        .await?;
    let automatic = match (&existing, customer_id) {
        (None, None) => super::identities::auto_link_target(tx, network, handle).await?,
        _ => None,
    };
    if let Some(row) = existing {
        let mut identity = rows::identity(&row, "")?;
        if identity.customer_id.is_some() || customer_id.is_some() {
            return Ok((identity, Vec::new()));
        }
        let Some(target) = super::identities::auto_link_target(tx, network, handle).await? else {
            return Ok((identity, Vec::new()));
        };
        let moved = super::identities::attach_identity(tx, &identity, &target, now).await?;
        audit_in(tx, None, "identity.autolink", &identity.id, "ok", &target).await?;
        identity.customer_id = Some(target);
        return Ok((identity, moved));
    }
    let identity = Identity {
        id: new_id("id"),
        network,
        handle: handle.to_string(),
        display_name: display_name.to_string(),
        verified: false,
        customer_id: customer_id.map(str::to_string).or(automatic.clone()),
    };
    insert_identity(tx, &identity, now).await?;
    if let Some(target) = &automatic {
        audit_in(tx, None, "identity.autolink", &identity.id, "ok", target).await?;
    }
    Ok((identity, Vec::new()))
}

/// Stores a new identity, first seen (and linked, if it has a customer) at `now`.
pub(crate) async fn insert_identity(
    tx: &mut SqlTx<'static, Any>,
    i: &Identity,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO identities (id, network, handle, display_name, verified, customer_id, first_seen_at, linked_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
        .bind(&i.id)
        .bind(i.network.as_str())
        .bind(&i.handle)
        .bind(&i.display_name)
        .bind(i.verified as i64)
        .bind(&i.customer_id)
        .bind(now)
        .bind(i.customer_id.as_ref().map(|_| now))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// The full profile: record, identities and sentiment trend.
    pub async fn customer(&self, id: &str) -> StoreResult<Customer> {
        let Some(row) = sqlx::query("SELECT * FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?
        else {
            return Err(self.customer_not_found(id).await);
        };
        let mut customer = rows::customer(&row)?;
        let ids =
            sqlx::query("SELECT * FROM identities WHERE customer_id = $1 ORDER BY network, handle")
                .bind(id)
                .fetch_all(self.reader())
                .await?;
        customer.identities = ids
            .iter()
            .map(|r| rows::identity(r, ""))
            .collect::<StoreResult<_>>()?;
        let mut trend: Vec<f64> = sqlx::query_scalar(
            "SELECT sentiment FROM feedback WHERE customer_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
        )
        .bind(id)
        .bind(TREND_LEN)
        .fetch_all(self.reader())
        .await?;
        trend.reverse();
        customer.sentiment_trend = trend;
        Ok(customer)
    }

    /// Customers whose name, email or phone contains `q` (case-insensitive), at most `limit`.
    pub async fn search_customers(&self, q: &str, limit: i64) -> StoreResult<Vec<Customer>> {
        let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM customers WHERE search LIKE $1 ORDER BY last_name, first_name, id LIMIT $2")
            .bind(pattern)
            .bind(limit)
            .fetch_all(self.reader())
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.customer(&id).await?);
        }
        Ok(out)
    }

    /// A customer's timeline, newest first; `before` is a cursor (microseconds). Entries tied to
    /// an item (its post, the replies to it, overrides on it) are only shown to a `scope` that
    /// sees the item's department; entries tied to no item are shared.
    pub async fn history(
        &self,
        customer_id: &str,
        scope: &DepartmentScope,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryEntry>> {
        self.customer_exists(customer_id).await?;
        let (visible, departments) = scope.sql("f.department", 4);
        let sql = format!(
            "SELECT h.at, h.kind, h.channel, h.summary, h.feedback_id, h.sentiment FROM history h \
             LEFT JOIN feedback f ON f.id = h.feedback_id \
             WHERE h.customer_id = $1 AND h.at < $2 AND (h.feedback_id IS NULL OR {visible}) \
             ORDER BY h.at DESC, h.id DESC LIMIT $3"
        );
        let mut query = sqlx::query(&sql)
            .bind(customer_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit);
        for d in departments {
            query = query.bind(d);
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: rows::time(r, "at")?,
                    kind: rows::parse(r, "kind")?,
                    channel: rows::parse(r, "channel")?,
                    summary: get(r, "summary")?,
                    feedback_id: get(r, "feedback_id")?,
                    sentiment: get(r, "sentiment")?,
                })
            })
            .collect()
    }

    pub async fn transactions(
        &self,
        customer_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Transaction>> {
        self.customer_exists(customer_id).await?;
        let rows = sqlx::query(
            "SELECT * FROM transactions WHERE customer_id = $1 AND occurred_at < $2 ORDER BY occurred_at DESC, id DESC LIMIT $3",
        )
        .bind(customer_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(rows::transaction).collect()
    }

    async fn customer_exists(&self, id: &str) -> StoreResult<()> {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(self.customer_not_found(id).await),
        }
    }

    /// "Not found", naming the survivor when the customer was merged into another.
    pub(crate) async fn customer_not_found(&self, id: &str) -> StoreError {
        let into: Option<String> =
            sqlx::query_scalar("SELECT into_id FROM customer_merges WHERE from_id = $1")
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .ok()
                .flatten();
        match into {
            Some(into) => StoreError::NotFound(format!("customer {id} (merged into {into})")),
            None => StoreError::NotFound(format!("customer {id}")),
        }
    }

    pub async fn identity(&self, id: &str) -> StoreResult<Identity> {
        let row = sqlx::query("SELECT * FROM identities WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("identity {id}")))?;
        rows::identity(&row, "")
    }

    /// Links a social identity to a CRM customer; the identity's past feedback joins the
    /// customer's history, so social and traditional data become one record. The caller must
    /// see the identity: in `scope`, it wrote at least one item (an identity known only to
    /// another department is "not found").
    pub async fn link_identity(
        &self,
        agent_id: &str,
        identity_id: &str,
        customer_id: &str,
        scope: &DepartmentScope,
    ) -> StoreResult<Identity> {
        let mut tx = self.begin_write().await?;
        let mut identity =
            super::identities::changeable_identity(&mut tx, identity_id, scope).await?;
        require_customer(&mut tx, customer_id).await?;
        if let Some(other) = identity
            .customer_id
            .as_deref()
            .filter(|c| *c != customer_id)
        {
            return Err(StoreError::Conflict(format!(
                "identity is already linked to customer {other}"
            )));
        }
        let items =
            super::identities::attach_identity(&mut tx, &identity, customer_id, self.now()).await?;
        refresh_roles(&mut tx, customer_id).await?;
        audit_in(
            &mut tx,
            Some(agent_id),
            "identity.link",
            identity_id,
            "ok",
            customer_id,
        )
        .await?;
        identity.customer_id = Some(customer_id.to_string());
        let last =
            super::identities::append_link_changed(&mut tx, self.dialect(), customer_id, &items)
                .await?;
        self.commit(tx, Some(last)).await?;
        Ok(identity)
    }

    /// Creates customers, identities and transactions in one transaction (demo seed, imports).
    pub async fn import_customers(
        &self,
        customers: &[NewCustomer],
        identities: &[Identity],
        transactions: &[Transaction],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for c in customers {
            insert_customer(&mut tx, c).await?;
        }
        let now = self.now();
        for i in identities {
            insert_identity(&mut tx, i, now).await?;
        }
        for t in transactions {
            insert_transaction(&mut tx, t).await?;
        }
        for c in customers {
            refresh_roles(&mut tx, &c.id).await?;
        }
        audit_in(
            &mut tx,
            None,
            "customers.import",
            "customers",
            "ok",
            &format!("{} customers", customers.len()),
        )
        .await?;
        self.commit(tx, None).await
    }

    pub async fn customer_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(self.reader())
            .await?)
    }
}
