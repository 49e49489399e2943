//! Writing customer data: single records (`POST`/`PATCH /v1/customers`), bulk imports of
//! customers and transactions (idempotent by external id), and merging two records.
//!
//! Rows reach the store validated (see `server::customer_data`); an import writes them in
//! batches, each batch one transaction, so a row is written whole or not at all and an
//! interrupted import can simply be run again.

use super::batches::{Progress, IMPORT_BATCH};
use super::customers::{insert_customer, search_text, write_contacts, NewCustomer};
use super::db::{audit_in, new_id, Store};
use super::error::{StoreError, StoreResult};
use super::events::append;
use super::history::refresh_roles;
use super::rows::{self, get};
use super::time::now_micros;
use crate::domain::api::{CustomerFields, ImportReport, MergeConflict, MergeMoved, MergeResult};
use crate::domain::*;
use crate::server::customer_data::TransactionRow;
use sqlx::{Any, Transaction as SqlTx};
use std::collections::{BTreeSet, HashMap};

/// The fields of a customer that callers write.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    external_id: Option<String>,
    first_name: String,
    last_name: String,
    emails: Vec<String>,
    phones: Vec<String>,
    tier: String,
    lifetime_value: Money,
    preferences: Preferences,
    tags: Vec<String>,
}

impl Record {
    fn empty() -> Record {
        Record {
            external_id: None,
            first_name: String::new(),
            last_name: String::new(),
            emails: Vec::new(),
            phones: Vec::new(),
            tier: "standard".into(),
            lifetime_value: Money {
                amount: rust_decimal::Decimal::ZERO,
                currency: "EUR".into(),
            },
            preferences: Preferences {
                language: "en".into(),
                preferred_channel: Channel::Email,
                // No consent unless the organisation's data says so.
                consents: Consents {
                    email: false,
                    sms: false,
                    whatsapp: false,
                    social_dm: false,
                },
            },
            tags: Vec::new(),
        }
    }

    fn of(c: &Customer) -> Record {
        Record {
            external_id: c.external_id.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            emails: c.emails.clone(),
            phones: c.phones.clone(),
            tier: c.tier.clone(),
            lifetime_value: c.lifetime_value.clone(),
            preferences: c.preferences.clone(),
            tags: c.tags.clone(),
        }
    }

    fn apply(&mut self, f: &CustomerFields) {
        let set = |to: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *to = v.clone();
            }
        };
        if f.external_id.is_some() {
            self.external_id = f.external_id.clone();
        }
        set(&mut self.first_name, &f.first_name);
        set(&mut self.last_name, &f.last_name);
        set(&mut self.tier, &f.tier);
        set(&mut self.preferences.language, &f.language);
        if let Some(v) = &f.emails {
            self.emails = v.clone();
        }
        if let Some(v) = &f.phones {
            self.phones = v.clone();
        }
        if let Some(v) = &f.tags {
            self.tags = v.clone();
        }
        if let Some(v) = &f.lifetime_value {
            self.lifetime_value = v.clone();
        }
        if let Some(v) = f.preferred_channel {
            self.preferences.preferred_channel = v;
        }
        if let Some(c) = &f.consents {
            let to = &mut self.preferences.consents;
            for (slot, v) in [
                (&mut to.email, c.email),
                (&mut to.sms, c.sms),
                (&mut to.whatsapp, c.whatsapp),
                (&mut to.social_dm, c.social_dm),
            ] {
                if let Some(v) = v {
                    *slot = v;
                }
            }
        }
    }

    fn new_customer(self, id: String) -> NewCustomer {
        NewCustomer {
            id,
            external_id: self.external_id,
            first_name: self.first_name,
            last_name: self.last_name,
            emails: self.emails,
            phones: self.phones,
            tier: self.tier,
            lifetime_value: self.lifetime_value,
            preferences: self.preferences,
            tags: self.tags,
            created_at: now_micros(),
        }
    }
}

/// Writes a changed record over the stored one (and its normalised addresses if they changed).
async fn update_record(
    tx: &mut SqlTx<'static, Any>,
    id: &str,
    before: &Record,
    r: &Record,
) -> StoreResult<()> {
    let search = search_text(&r.first_name, &r.last_name, &r.emails, &r.phones);
    sqlx::query(
        "UPDATE customers SET external_id = $1, first_name = $2, last_name = $3, emails = $4, phones = $5, \
         tier = $6, ltv_amount = $7, ltv_currency = $8, language = $9, preferred_channel = $10, \
         consent_email = $11, consent_sms = $12, consent_whatsapp = $13, consent_social_dm = $14, tags = $15, \
         search = $16 WHERE id = $17",
    )
    .bind(&r.external_id)
    .bind(&r.first_name)
    .bind(&r.last_name)
    .bind(serde_json::to_string(&r.emails).unwrap_or_default())
    .bind(serde_json::to_string(&r.phones).unwrap_or_default())
    .bind(&r.tier)
    .bind(r.lifetime_value.amount.to_string())
    .bind(&r.lifetime_value.currency)
    .bind(&r.preferences.language)
    .bind(r.preferences.preferred_channel.as_str())
    .bind(r.preferences.consents.email as i64)
    .bind(r.preferences.consents.sms as i64)
    .bind(r.preferences.consents.whatsapp as i64)
    .bind(r.preferences.consents.social_dm as i64)
    .bind(serde_json::to_string(&r.tags).unwrap_or_default())
    .bind(search)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if before.emails != r.emails || before.phones != r.phones {
        write_contacts(tx, id, &r.emails, &r.phones, true).await?;
    }
    Ok(())
}

/// `$first,...` placeholders for `n` values.
fn marks(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored customers (by id) and which customer each external id names now: the record
/// holding it, or the survivor of the record that held it before a merge.
async fn by_external_ids(
    tx: &mut SqlTx<'static, Any>,
    external_ids: &[&str],
) -> StoreResult<(HashMap<String, String>, HashMap<String, Customer>)> {
    let mut owner = HashMap::new();
    let mut customers = HashMap::new();
    if external_ids.is_empty() {
        return Ok((owner, customers));
    }
    let sql = format!(
        "SELECT from_external_id, into_id FROM customer_merges WHERE from_external_id IN ({})",
        marks(1, external_ids.len())
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for e in external_ids {
        query = query.bind(*e);
    }
    let merged = query.fetch_all(&mut **tx).await?;
    let sql = format!(
        "SELECT * FROM customers WHERE external_id IN ({})",
        marks(1, external_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for e in external_ids {
        query = query.bind(*e);
    }
    for row in query.fetch_all(&mut **tx).await? {
        let c = rows::customer(&row)?;
        if let Some(e) = &c.external_id {
            owner.insert(e.clone(), c.id.clone());
        }
        customers.insert(c.id.clone(), c);
    }
    for (ext, into) in merged {
        if owner.contains_key(&ext) {
            continue;
        }
        let row = sqlx::query("SELECT * FROM customers WHERE id = $1")
            .bind(&into)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = row {
            customers.insert(into.clone(), rows::customer(&row)?);
            owner.insert(ext, into);
        }
    }
    Ok((owner, customers))
}

impl Store {
    /// Creates one customer (`POST /v1/customers`); fields are validated by the caller.
    pub async fn create_customer(
        &self,
        agent_id: &str,
        fields: &CustomerFields,
    ) -> StoreResult<Customer> {
        let mut tx = self.begin_write().await?;
        if let Some(ext) = &fields.external_id {
            let (owner, _) = by_external_ids(&mut tx, &[ext.as_str()]).await?;
            if let Some(id) = owner.get(ext) {
                return Err(StoreError::Taken(format!(
                    "customer {id} has this external_id already"
                )));
            }
        }
        let mut record = Record::empty();
        record.apply(fields);
        let id = new_id("cu");
        insert_customer(&mut tx, &record.new_customer(id.clone())).await?;
        audit_in(&mut tx, Some(agent_id), "customer.create", &id, "ok", "").await?;
        let last = append(
            &mut tx,
            self.dialect(),
            EventName::CustomerUpdated,
            None,
            &serde_json::json!({ "customer_id": id }),
        )
        .await?;
        self.commit(tx, Some(last)).await?;
        self.customer(&id).await
    }

    /// Changes the given fields of a customer (`PATCH /v1/customers/{id}`); nothing changes,
    /// nothing is audited, for a patch that changes nothing.
    pub async fn patch_customer(
        &self,
        agent_id: &str,
        id: &str,
        fields: &CustomerFields,
    ) -> StoreResult<Customer> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT * FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Err(self.customer_not_found(id).await);
        };
        let before = Record::of(&rows::customer(&row)?);
        let mut after = before.clone();
        after.apply(fields);
        if after == before {
            tx.rollback().await?;
            return self.customer(id).await;
        }
        if let Some(ext) = after
            .external_id
            .as_deref()
            .filter(|e| Some(*e) != before.external_id.as_deref())
        {
            let (owner, _) = by_external_ids(&mut tx, &[ext]).await?;
            if let Some(other) = owner.get(ext).filter(|o| o.as_str() != id) {
                return Err(StoreError::Taken(format!(
                    "customer {other} has this external_id already"
                )));
            }
        }
        update_record(&mut tx, id, &before, &after).await?;
        refresh_roles(&mut tx, id).await?;
        let detail = serde_json::to_string(fields).unwrap_or_default();
        audit_in(&mut tx, Some(agent_id), "customer.patch", id, "ok", &detail).await?;
        let last = append(
            &mut tx,
            self.dialect(),
            EventName::CustomerUpdated,
            None,
            &serde_json::json!({ "customer_id": id }),
        )
        .await?;
        self.commit(tx, Some(last)).await?;
        self.customer(id).await
    }

    /// Imports validated customer rows (line, fields): a row whose `external_id` is known
    /// updates that customer (or the survivor it was merged into), any other creates one.
    /// Rows refused here (a new customer without a name) are added to `report.skipped`.
    pub async fn import_customer_rows(
        &self,
        rows: &[(u64, CustomerFields)],
        report: &mut ImportReport,
        progress: Progress<'_>,
    ) -> StoreResult<()> {
        let mut done = 0u64;
        for batch in rows.chunks(IMPORT_BATCH) {
            let mut tx = self.begin_write().await?;
            let mut exts: Vec<&str> = batch
                .iter()
                .filter_map(|(_, f)| f.external_id.as_deref())
                .collect();
            exts.sort_unstable();
            exts.dedup();
            let (mut owner, mut stored) = by_external_ids(&mut tx, &exts).await?;
            let mut counts = (0u64, 0u64, 0u64);
            let mut problems = Vec::new();
            for (line, fields) in batch {
                let Some(ext) = fields.external_id.as_deref() else {
                    problems.push((*line, "external_id is missing".to_string()));
                    continue;
                };
                match owner.get(ext).and_then(|id| stored.get(id)).cloned() {
                    Some(current) => {
                        let before = Record::of(&current);
                        let mut after = before.clone();
                        after.apply(fields);
                        // A merged-away external id keeps finding the survivor, whose own
                        // external id stays.
                        after.external_id = before.external_id.clone();
                        if after == before {
                            counts.2 += 1;
                            continue;
                        }
                        update_record(&mut tx, &current.id, &before, &after).await?;
                        refresh_roles(&mut tx, &current.id).await?;
                        let mut updated = current.clone();
                        updated.emails = after.emails.clone();
                        updated.phones = after.phones.clone();
                        updated.first_name = after.first_name.clone();
                        updated.last_name = after.last_name.clone();
                        updated.tier = after.tier.clone();
                        updated.lifetime_value = after.lifetime_value.clone();
                        updated.preferences = after.preferences.clone();
                        updated.tags = after.tags.clone();
                        stored.insert(current.id.clone(), updated);
                        counts.1 += 1;
                    }
                    None => {
                        let mut record = Record::empty();
                        record.apply(fields);
                        if record.first_name.is_empty() && record.last_name.is_empty() {
                            problems.push((*line, "a new customer needs a name".to_string()));
                            continue;
                        }
                        let id = new_id("cu");
                        let new = record.new_customer(id.clone());
                        insert_customer(&mut tx, &new).await?;
                        let row = sqlx::query("SELECT * FROM customers WHERE id = $1")
                            .bind(&id)
                            .fetch_one(&mut *tx)
                            .await
                            .map(|r| rows::customer(&r));
                        if let Ok(Ok(c)) = row {
                            stored.insert(id.clone(), c);
                        }
                        owner.insert(ext.to_string(), id);
                        counts.0 += 1;
                    }
                }
            }
            done += batch.len() as u64;
            self.end_batch(tx, report, counts, problems, done, progress)
                .await?;
        }
        report.skipped.sort_by_key(|p| p.line);
        Ok(())
    }

    /// Imports validated transaction rows: a row with the same customer, kind and reference as
    /// a stored transaction updates it, any other adds one; an unknown customer is a skipped row.
    pub async fn import_transaction_rows(
        &self,
        rows: &[(u64, TransactionRow)],
        report: &mut ImportReport,
        progress: Progress<'_>,
    ) -> StoreResult<()> {
        let mut done = 0u64;
        for batch in rows.chunks(IMPORT_BATCH) {
            let mut tx = self.begin_write().await?;
            let mut exts: Vec<&str> = batch
                .iter()
                .filter(|(_, t)| !t.by_id)
                .map(|(_, t)| t.customer.as_str())
                .collect();
            exts.sort_unstable();
            exts.dedup();
            let (owner, _) = by_external_ids(&mut tx, &exts).await?;
            let mut counts = (0u64, 0u64, 0u64);
            let mut problems = Vec::new();
            let mut touched = BTreeSet::new();
            for (line, t) in batch {
                let customer_id = if t.by_id {
                    let found: Option<String> =
                        sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
                            .bind(&t.customer)
                            .fetch_optional(&mut *tx)
                            .await?;
                    match found {
                        Some(id) => Some(id),
                        None => {
                            sqlx::query_scalar(
                                "SELECT into_id FROM customer_merges WHERE from_id = $1",
                            )
                            .bind(&t.customer)
                            .fetch_optional(&mut *tx)
                            .await?
                        }
                    }
                } else {
                    owner.get(&t.customer).cloned()
                };
                let Some(customer_id) = customer_id else {
                    let column = if t.by_id {
                        "customer_id"
                    } else {
                        "customer_external_id"
                    };
                    problems.push((*line, format!("{column}: no customer '{}'", t.customer)));
                    continue;
                };
                let existing = sqlx::query(
                    "SELECT * FROM transactions WHERE customer_id = $1 AND kind = $2 AND reference = $3 ORDER BY id LIMIT 1",
                )
                .bind(&customer_id)
                .bind(t.kind.as_str())
                .bind(&t.reference)
                .fetch_optional(&mut *tx)
                .await?;
                let new = Transaction {
                    id: new_id("tx"),
                    customer_id: customer_id.clone(),
                    kind: t.kind,
                    reference: t.reference.clone(),
                    description: t.description.clone(),
                    amount: t.amount.clone(),
                    occurred_at: t.occurred_at,
                };
                match existing {
                    Some(row) => {
                        let old = rows::transaction(&row)?;
                        let same = old.description == new.description
                            && old.amount == new.amount
                            && old.occurred_at.timestamp_micros()
                                == new.occurred_at.timestamp_micros();
                        if same {
                            counts.2 += 1;
                            continue;
                        }
                        sqlx::query("UPDATE transactions SET description = $1, amount = $2, currency = $3, occurred_at = $4 WHERE id = $5")
                            .bind(&new.description)
                            .bind(new.amount.amount.to_string())
                            .bind(&new.amount.currency)
                            .bind(new.occurred_at.timestamp_micros())
                            .bind(&old.id)
                            .execute(&mut *tx)
                            .await?;
                        counts.1 += 1;
                    }
                    None => {
                        super::customers::insert_transaction(&mut tx, &new).await?;
                        touched.insert(customer_id);
                        counts.0 += 1;
                    }
                }
            }
            for c in &touched {
                refresh_roles(&mut tx, c).await?;
            }
            done += batch.len() as u64;
            self.end_batch(tx, report, counts, problems, done, progress)
                .await?;
        }
        report.skipped.sort_by_key(|p| p.line);
        Ok(())
    }

    /// Merges customer `from` into `into`: identities, feedback, history and transactions move
    /// to `into`; emails, phones and tags are united; where single values differ the
    /// survivor's are kept and listed; `from` is retired (404 naming the survivor afterwards,
    /// and its external id finds the survivor on re-import). Audited as `customer.merge`.
    pub async fn merge_customers(
        &self,
        agent_id: &str,
        into: &str,
        from: &str,
    ) -> StoreResult<MergeResult> {
        if into == from {
            return Err(StoreError::InvalidField(
                "/from",
                "a customer cannot be merged into itself".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let mut customers = Vec::new();
        for id in [into, from] {
            let row = sqlx::query("SELECT * FROM customers WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                Some(row) => customers.push(rows::customer(&row)?),
                None if id == from => {
                    tx.rollback().await?;
                    let e = self.customer_not_found(id).await;
                    return Err(StoreError::InvalidField("/from", e.to_string()));
                }
                None => {
                    tx.rollback().await?;
                    return Err(self.customer_not_found(id).await);
                }
            }
        }
        let (survivor, retired) = (&customers[0], &customers[1]);
        let before = Record::of(survivor);
        let mut after = before.clone();
        let mut conflicts = Vec::new();
        let mut single = |field: &str, kept: &mut String, other: &str| {
            if other.is_empty() || kept == other {
                return;
            }
            if kept.is_empty() {
                *kept = other.to_string();
                return;
            }
            conflicts.push(MergeConflict {
                field: field.to_string(),
                kept: kept.clone(),
                dropped: other.to_string(),
            });
        };
        single("first_name", &mut after.first_name, &retired.first_name);
        single("last_name", &mut after.last_name, &retired.last_name);
        single("tier", &mut after.tier, &retired.tier);
        single(
            "preferences.language",
            &mut after.preferences.language,
            &retired.preferences.language,
        );
        let mut channel = after.preferences.preferred_channel.as_str().to_string();
        single(
            "preferences.preferred_channel",
            &mut channel,
            retired.preferences.preferred_channel.as_str(),
        );
        let flags = [
            (
                "email",
                after.preferences.consents.email,
                retired.preferences.consents.email,
            ),
            (
                "sms",
                after.preferences.consents.sms,
                retired.preferences.consents.sms,
            ),
            (
                "whatsapp",
                after.preferences.consents.whatsapp,
                retired.preferences.consents.whatsapp,
            ),
            (
                "social_dm",
                after.preferences.consents.social_dm,
                retired.preferences.consents.social_dm,
            ),
        ];
        for (name, kept, other) in flags {
            let mut k = kept.to_string();
            single(
                &format!("preferences.consents.{name}"),
                &mut k,
                &other.to_string(),
            );
        }
        let mut ext = after.external_id.clone().unwrap_or_default();
        single(
            "external_id",
            &mut ext,
            retired.external_id.as_deref().unwrap_or_default(),
        );
        let ltv = &retired.lifetime_value;
        if ltv.currency == after.lifetime_value.currency {
            after.lifetime_value.amount += ltv.amount;
        } else if !ltv.amount.is_zero() {
            single(
                "lifetime_value",
                &mut format!(
                    "{} {}",
                    after.lifetime_value.amount, after.lifetime_value.currency
                ),
                &format!("{} {}", ltv.amount, ltv.currency),
            );
        }
        let unite = |mine: &mut Vec<String>, theirs: &[String]| {
            for t in theirs {
                if !mine.iter().any(|m| m.eq_ignore_ascii_case(t)) {
                    mine.push(t.clone());
                }
            }
        };
        unite(&mut after.emails, &retired.emails);
        unite(&mut after.phones, &retired.phones);
        unite(&mut after.tags, &retired.tags);
        // The retired record's external id is freed first (it is unique), then the survivor
        // takes it if it had none.
        sqlx::query("UPDATE customers SET external_id = NULL WHERE id = $1")
            .bind(from)
            .execute(&mut *tx)
            .await?;
        if after.external_id.is_none() && !ext.is_empty() {
            after.external_id = Some(ext);
        }
        let mut moved = MergeMoved::default();
        let items: Vec<(String, String)> =
            sqlx::query_as("SELECT id, department FROM feedback WHERE customer_id = $1")
                .bind(from)
                .fetch_all(&mut *tx)
                .await?;
        moved.feedback = items.len() as u64;
        for (table, count) in [
            ("identities", &mut moved.identities),
            ("transactions", &mut moved.transactions),
            ("history", &mut moved.history),
        ] {
            let r = sqlx::query(&format!(
                "UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"
            ))
            .bind(into)
            .bind(from)
            .execute(&mut *tx)
            .await?;
            *count = r.rows_affected();
        }
        sqlx::query(
            "UPDATE feedback SET customer_id = $1, version = version + 1 WHERE customer_id = $2",
        )
        .bind(into)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM customer_contacts WHERE customer_id = $1")
            .bind(from)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO customer_merges (from_id, into_id, from_external_id, at) VALUES ($1,$2,$3,$4)",
        )
        .bind(from)
        .bind(into)
        .bind(&retired.external_id)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        // Earlier merges into the retired record now lead to the survivor.
        sqlx::query("UPDATE customer_merges SET into_id = $1 WHERE into_id = $2")
            .bind(into)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customers WHERE id = $1")
            .bind(from)
            .execute(&mut *tx)
            .await?;
        update_record(&mut tx, into, &before, &after).await?;
        refresh_roles(&mut tx, into).await?;
        let detail = serde_json::json!({ "from": from, "conflicts": conflicts, "moved": moved });
        audit_in(
            &mut tx,
            Some(agent_id),
            "customer.merge",
            into,
            "ok",
            &detail.to_string(),
        )
        .await?;
        let mut last = 0;
        for id in [into, from] {
            last = append(
                &mut tx,
                self.dialect(),
                EventName::CustomerUpdated,
                None,
                &serde_json::json!({ "customer_id": id, "merged_into": (id == from).then_some(into) }),
            )
            .await?;
        }
        let moved_items: Vec<String> = items.iter().map(|(fid, _)| fid.clone()).collect();
        let last =
            super::identities::append_items_updated(&mut tx, self.dialect(), &moved_items, last)
                .await?;
        self.commit(tx, Some(last)).await?;
        Ok(MergeResult {
            customer: self.customer(into).await?,
            retired: from.to_string(),
            conflicts,
            moved,
        })
    }

    /// Indexes the addresses of customers stored before identity resolution existed (run at
    /// start; a no-op once every customer with an address has its rows).
    pub(crate) async fn backfill_contacts(&self) -> StoreResult<()> {
        let rows = sqlx::query(
            "SELECT id, emails, phones FROM customers c WHERE (emails <> '[]' OR phones <> '[]') \
             AND NOT EXISTS (SELECT 1 FROM customer_contacts k WHERE k.customer_id = c.id)",
        )
        .fetch_all(self.reader())
        .await?;
        for chunk in rows.chunks(IMPORT_BATCH) {
            let mut tx = self.begin_write().await?;
            for row in chunk {
                let id: String = get(row, "id")?;
                let emails: Vec<String> = rows::json(row, "emails")?;
                let phones: Vec<String> = rows::json(row, "phones")?;
                write_contacts(&mut tx, &id, &emails, &phones, true).await?;
            }
            self.commit(tx, None).await?;
        }
        Ok(())
    }
}

/// Adds one committed batch's counts (created, updated, unchanged) and skipped rows to the report.
fn record_batch(report: &mut ImportReport, counts: (u64, u64, u64), problems: Vec<(u64, String)>) {
    report.created += counts.0;
    report.updated += counts.1;
    report.unchanged += counts.2;
    report.skipped.extend(
        problems
            .into_iter()
            .map(|(line, reason)| crate::domain::api::ImportProblem { line, reason }),
    );
}

impl Store {
    /// Ends one batch of an import: commits it, adds what it did to the report, and tells the
    /// caller that `done` rows are done.
    async fn end_batch(
        &self,
        tx: SqlTx<'static, Any>,
        report: &mut ImportReport,
        counts: (u64, u64, u64),
        problems: Vec<(u64, String)>,
        done: u64,
        progress: Progress<'_>,
    ) -> StoreResult<()> {
        self.commit(tx, None).await?;
        record_batch(report, counts, problems);
        progress(done);
        Ok(())
    }
}
