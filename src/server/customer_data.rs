//! Customer data from the organisation's other systems: the import formats (CSV with a header
//! row, or JSON Lines), validation of customer fields (shared with `POST`/`PATCH
//! /v1/customers`), and the normalised forms of addresses that identity resolution compares
//! (case-folded email, E.164 phone).
//!
//! Parsing is pure: every row becomes a validated record or the reason it is refused, with its
//! line in the file; the store writes only validated records (`Store::import_*`).

use crate::domain::api::{ConsentsPatch, CustomerFields, ImportProblem, ImportReport};
use crate::domain::{Channel, Money, TransactionKind};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// What an import brings in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    Customers,
    Transactions,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Customers => "customers",
            ImportKind::Transactions => "transactions",
        }
    }
}

/// How an import file is written.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Comma-separated values with a header row naming the columns.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ImportFormat {
    /// From a file name: `.csv`, or `.jsonl` / `.ndjson`.
    pub fn from_path(path: &std::path::Path) -> Option<ImportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(ImportFormat::Csv),
            "jsonl" | "ndjson" => Some(ImportFormat::Jsonl),
            _ => None,
        }
    }

    /// From a Content-Type: `text/csv`, or `application/jsonl`, `application/x-ndjson`...
    pub fn from_content_type(ct: &str) -> Option<ImportFormat> {
        let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "text/csv" | "application/csv" => Some(ImportFormat::Csv),
            "application/jsonl"
            | "application/x-jsonl"
            | "application/x-ndjson"
            | "application/ndjson"
            | "application/json-lines" => Some(ImportFormat::Jsonl),
            _ => None,
        }
    }
}

/// A whole file refused (not one row): a CSV header naming an unknown column, say.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// A transaction row, validated; `customer` is an external id (or, with `by_id`, a customer id).
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionRow {
    pub customer: String,
    pub by_id: bool,
    pub kind: TransactionKind,
    pub reference: String,
    pub description: String,
    pub amount: Money,
    pub occurred_at: DateTime<Utc>,
}

pub type Parsed<T> = Vec<(u64, Result<T, String>)>;

const CUSTOMER_COLUMNS: &[&str] = &[
    "external_id",
    "name",
    "first_name",
    "last_name",
    "email",
    "emails",
    "phone",
    "phones",
    "tier",
    "language",
    "preferred_channel",
    "consent_email",
    "consent_sms",
    "consent_whatsapp",
    "consent_social_dm",
    "tags",
    "lifetime_value",
    "currency",
];

const TRANSACTION_COLUMNS: &[&str] = &[
    "customer_external_id",
    "customer_id",
    "kind",
    "reference",
    "description",
    "amount",
    "currency",
    "occurred_at",
];

/// Longest accepted value of a name, tier, tag and so on.
const MAX_FIELD: usize = 200;
const MAX_LIST: usize = 20;

/// One row as column name to cell text (empty cells and JSON nulls left out).
type Row = BTreeMap<String, String>;

/// The rows of a file with their line numbers, each parsed or with why not.
type NumberedRows = Vec<(u64, Result<Row, String>)>;

/// Reads the rows of a file: (line, row or why the line is unreadable).
fn rows(text: &str, format: ImportFormat, columns: &[&str]) -> Result<NumberedRows, FileError> {
    match format {
        ImportFormat::Csv => csv_rows(text, columns),
        ImportFormat::Jsonl => Ok(jsonl_rows(text, columns)),
    }
}

/// The line a record starting at `byte` is on. The csv crate's own line number for a record
/// counts from before the blank lines it skipped, so a bad row after a blank line would be
/// reported a line too early.
fn record_line(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut at = usize::try_from(byte)
        .unwrap_or(bytes.len())
        .min(bytes.len());
    while at < bytes.len() && (bytes[at] == b'\n' || bytes[at] == b'\r') {
        at += 1;
    }
    1 + bytes[..at].iter().filter(|b| **b == b'\n').count() as u64
}

fn csv_rows(text: &str, columns: &[&str]) -> Result<NumberedRows, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| FileError(format!("line 1: the header row is unreadable: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(FileError("the file has no header row".into()));
    }
    for h in &header {
        if !columns.contains(&h.as_str()) {
            return Err(FileError(format!(
                "line 1: unknown column '{h}' (known: {})",
                columns.join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record
                    .position()
                    .map_or(line, |p| record_line(text, p.byte()));
                if record.iter().all(str::is_empty) {
                    continue;
                }
                if record.len() != header.len() {
                    out.push((
                        line,
                        Err(format!(
                            "{} fields where the header has {}",
                            record.len(),
                            header.len()
                        )),
                    ));
                    continue;
                }
                let row = header
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(h, v)| (h.clone(), v.to_string()))
                    .collect();
                out.push((line, Ok(row)));
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                out.push((line, Err(format!("unreadable CSV: {e}"))));
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn jsonl_rows(text: &str, columns: &[&str]) -> Vec<(u64, Result<Row, String>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.push((n, jsonl_row(line, columns)));
    }
    out
}

fn jsonl_row(line: &str, columns: &[&str]) -> Result<Row, String> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("each line must be a JSON object".into());
    };
    let mut row = Row::new();
    for (k, v) in map {
        if !columns.contains(&k.as_str()) {
            return Err(format!("unknown field '{k}'"));
        }
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => parts.push(s),
                        Value::Number(n) => parts.push(n.to_string()),
                        _ => return Err(format!("{k}: a list holds strings only")),
                    }
                }
                parts.join(";")
            }
            Value::Object(_) => return Err(format!("{k}: an object is not a value here")),
        };
        let text = text.trim().to_string();
        if !text.is_empty() {
            row.insert(k, text);
        }
    }
    Ok(row)
}

/// Customer rows of a file, validated.
pub fn parse_customers(
    text: &str,
    format: ImportFormat,
) -> Result<Parsed<CustomerFields>, FileError> {
    Ok(rows(text, format, CUSTOMER_COLUMNS)?
        .into_iter()
        .map(|(line, row)| (line, row.and_then(customer_row)))
        .collect())
}

/// Transaction rows of a file, validated.
pub fn parse_transactions(
    text: &str,
    format: ImportFormat,
) -> Result<Parsed<TransactionRow>, FileError> {
    Ok(rows(text, format, TRANSACTION_COLUMNS)?
        .into_iter()
        .map(|(line, row)| (line, row.and_then(transaction_row)))
        .collect())
}

fn list(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn boolean(column: &str, s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(format!("{column}: '{s}' is not true/false")),
    }
}

fn customer_row(mut row: Row) -> Result<CustomerFields, String> {
    let mut take = |k: &str| row.remove(k);
    let external_id = take("external_id").ok_or("external_id is missing")?;
    let (mut first_name, mut last_name) = (take("first_name"), take("last_name"));
    if let Some(name) = take("name") {
        if first_name.is_some() || last_name.is_some() {
            return Err("give name or first_name/last_name, not both".into());
        }
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        match name.rsplit_once(' ') {
            Some((first, last)) => {
                first_name = Some(first.to_string());
                last_name = Some(last.to_string());
            }
            None => first_name = Some(name),
        }
    }
    let joined = |a: Option<String>, b: Option<String>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(
            [a, b]
                .into_iter()
                .flatten()
                .flat_map(|s| list(&s))
                .collect::<Vec<_>>(),
        ),
    };
    let emails = joined(take("email"), take("emails"));
    let phones = joined(take("phone"), take("phones"));
    let consent = |k: &str, v: Option<String>| v.map(|v| boolean(k, &v)).transpose();
    let consents = ConsentsPatch {
        email: consent("consent_email", take("consent_email"))?,
        sms: consent("consent_sms", take("consent_sms"))?,
        whatsapp: consent("consent_whatsapp", take("consent_whatsapp"))?,
        social_dm: consent("consent_social_dm", take("consent_social_dm"))?,
    };
    let preferred_channel = take("preferred_channel")
        .map(|c| {
            Channel::from_str(&c).map_err(|_| format!("preferred_channel: unknown channel '{c}'"))
        })
        .transpose()?;
    let lifetime_value = match (take("lifetime_value"), take("currency")) {
        (None, None) => None,
        (Some(amount), currency) => Some(money(
            "lifetime_value",
            &amount,
            currency.as_deref().unwrap_or("EUR"),
        )?),
        (None, Some(_)) => return Err("currency without lifetime_value".into()),
    };
    let mut fields = CustomerFields {
        external_id: Some(external_id),
        first_name,
        last_name,
        emails,
        phones,
        tier: take("tier"),
        language: take("language"),
        preferred_channel,
        consents: (consents != ConsentsPatch::default()).then_some(consents),
        tags: take("tags").map(|t| list(&t)),
        lifetime_value,
    };
    validate_customer(&mut fields, false).map_err(|errors| {
        errors
            .into_iter()
            .map(|(pointer, detail)| format!("{}: {detail}", pointer.trim_start_matches('/')))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok(fields)
}

fn money(column: &str, amount: &str, currency: &str) -> Result<Money, String> {
    let amount = Decimal::from_str(amount)
        .map_err(|_| format!("{column}: '{amount}' is not a decimal amount"))?;
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("currency: '{currency}' is not a three-letter code"));
    }
    Ok(Money { amount, currency })
}

fn transaction_row(mut row: Row) -> Result<TransactionRow, String> {
    let mut take = |k: &str| row.remove(k);
    let (customer, by_id) = match (take("customer_external_id"), take("customer_id")) {
        (Some(e), None) => (e, false),
        (None, Some(id)) => (id, true),
        (Some(_), Some(_)) => {
            return Err("give customer_external_id or customer_id, not both".into())
        }
        (None, None) => return Err("customer_external_id is missing".into()),
    };
    let kind = take("kind").ok_or("kind is missing")?;
    let kind = TransactionKind::from_str(&kind)
        .map_err(|_| format!("kind: '{kind}' is not order, refund or subscription"))?;
    let reference = take("reference").ok_or("reference is missing")?;
    let amount = take("amount").ok_or("amount is missing")?;
    let currency = take("currency").ok_or("currency is missing")?;
    let amount = money("amount", &amount, &currency)?;
    let occurred_at = take("occurred_at").ok_or("occurred_at is missing")?;
    let occurred_at = parse_time(&occurred_at)?;
    let description = take("description").unwrap_or_default();
    for (name, v) in [
        ("customer_external_id", &customer),
        ("reference", &reference),
        ("description", &description),
    ] {
        check_text(
            name,
            v,
            if name == "description" {
                500
            } else {
                MAX_FIELD
            },
        )?;
    }
    Ok(TransactionRow {
        customer,
        by_id,
        kind,
        reference,
        description,
        amount,
        occurred_at,
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "occurred_at: '{s}' is not an RFC 3339 time or a YYYY-MM-DD date"
    ))
}

fn check_text(name: &str, v: &str, max: usize) -> Result<(), String> {
    if v.contains('\0') || v.chars().any(|c| c.is_control()) {
        return Err(format!("{name}: contains a control character"));
    }
    if v.len() > max {
        return Err(format!("{name}: longer than {max} bytes"));
    }
    Ok(())
}

/// Case-folded email address, if `s` is one.
pub fn normalise_email(s: &str) -> Option<String> {
    let s = s.trim();
    email_address::EmailAddress::is_valid(s).then(|| s.to_lowercase())
}

/// E.164 form of a phone number in international form (`+44 7700 900123` is `+447700900123`).
/// Any number that parses is normalised, so that stored data matches however it was written;
/// new input must also be a valid number ([`valid_phone`]).
pub fn normalise_phone(s: &str) -> Option<String> {
    let n = phonenumber::parse(None, s.trim()).ok()?;
    Some(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// A phone number in international form that is valid for its country (libphonenumber's
/// metadata).
pub fn valid_phone(s: &str) -> bool {
    phonenumber::parse(None, s.trim()).is_ok_and(|n| phonenumber::is_valid(&n))
}

/// Checks and tidies customer fields (trims, de-duplicates lists). `creating`: a new record
/// needs a name. Errors are (JSON pointer, reason).
pub fn validate_customer(
    f: &mut CustomerFields,
    creating: bool,
) -> Result<(), Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut text = |pointer: &str, v: &mut Option<String>, max: usize, required: bool| {
        if let Some(s) = v {
            *s = s.trim().to_string();
            if let Err(e) = check_text("", s, max) {
                errors.push((pointer.to_string(), e.trim_start_matches(": ").to_string()));
            } else if required && s.is_empty() {
                errors.push((pointer.to_string(), "may not be empty".to_string()));
            }
        }
    };
    text("/external_id", &mut f.external_id, 128, true);
    text("/first_name", &mut f.first_name, MAX_FIELD, false);
    text("/last_name", &mut f.last_name, MAX_FIELD, false);
    text("/tier", &mut f.tier, 64, true);
    text("/language", &mut f.language, 16, true);
    if creating
        && f.first_name.as_deref().unwrap_or("").is_empty()
        && f.last_name.as_deref().unwrap_or("").is_empty()
    {
        errors.push(("/first_name".into(), "a customer needs a name".into()));
    }
    let mut each = |name: &str, list: &mut Option<Vec<String>>, check: &dyn Fn(&str) -> bool| {
        let Some(items) = list else { return };
        for s in items.iter_mut() {
            *s = s.trim().to_string();
        }
        let mut seen = std::collections::HashSet::new();
        items.retain(|s| !s.is_empty() && seen.insert(s.to_lowercase()));
        if items.len() > MAX_LIST {
            errors.push((format!("/{name}"), format!("at most {MAX_LIST} entries")));
        }
        for (i, s) in items.iter().enumerate() {
            if check_text("", s, MAX_FIELD).is_err() || !check(s) {
                let what = match name {
                    "emails" => "not an email address",
                    "phones" => "not a valid phone number in international form (+44 20 7946 0958)",
                    _ => "not a valid tag",
                };
                errors.push((format!("/{name}/{i}"), format!("'{s}' is {what}")));
            }
        }
    };
    each("emails", &mut f.emails, &|s| normalise_email(s).is_some());
    each("phones", &mut f.phones, &valid_phone);
    each("tags", &mut f.tags, &|s| s.len() <= 64);
    if let Some(m) = &mut f.lifetime_value {
        m.currency = m.currency.trim().to_ascii_uppercase();
        if m.currency.len() != 3 || !m.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push((
                "/lifetime_value/currency".into(),
                "not a three-letter currency code".into(),
            ));
        }
        if m.amount.is_sign_negative() {
            errors.push((
                "/lifetime_value/amount".into(),
                "may not be negative".into(),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Adds the rows refused while parsing to a report, in line order.
pub fn add_refused<T>(report: &mut ImportReport, parsed: &Parsed<T>) {
    for (line, r) in parsed {
        if let Err(reason) = r {
            report.skipped.push(ImportProblem {
                line: *line,
                reason: reason.clone(),
            });
        }
    }
    report.skipped.sort_by_key(|p| p.line);
}

/// Why an import stopped before its rows were looked at.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error(transparent)]
    Store(#[from] crate::server::store::error::StoreError),
}

/// Imports a whole file of `kind` (the CLI and `POST /v1/customers/import`): refused rows are
/// reported with their lines and skipped, the others written in batches of
/// [`IMPORT_BATCH`](crate::server::store::IMPORT_BATCH) rows, one transaction each; the import is
/// audited as `customers.import` or `transactions.import`.
pub async fn import(
    store: &crate::server::store::db::Store,
    agent_id: Option<&str>,
    kind: ImportKind,
    format: ImportFormat,
    text: &str,
    progress: crate::server::store::batches::Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport {
        kind: kind.as_str().to_string(),
        ..Default::default()
    };
    match kind {
        ImportKind::Customers => {
            let parsed = parse_customers(text, format)?;
            report.rows = parsed.len() as u64;
            add_refused(&mut report, &parsed);
            let good: Vec<(u64, CustomerFields)> = parsed
                .into_iter()
                .filter_map(|(line, r)| r.ok().map(|f| (line, f)))
                .collect();
            store
                .import_customer_rows(&good, &mut report, progress)
                .await?;
        }
        ImportKind::Transactions => {
            let parsed = parse_transactions(text, format)?;
            report.rows = parsed.len() as u64;
            add_refused(&mut report, &parsed);
            let good: Vec<(u64, TransactionRow)> = parsed
                .into_iter()
                .filter_map(|(line, r)| r.ok().map(|t| (line, t)))
                .collect();
            store
                .import_transaction_rows(&good, &mut report, progress)
                .await?;
        }
    }
    let detail = format!(
        "{} rows: {} created, {} updated, {} unchanged, {} skipped",
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.skipped.len()
    );
    store
        .audit(
            agent_id,
            &format!("{}.import", kind.as_str()),
            kind.as_str(),
            "ok",
            &detail,
        )
        .await?;
    // After the audit entry: the import is recorded even if the request ends meanwhile.
    if report.created + report.updated > 0 {
        store.refresh_statistics().await;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(
            normalise_email(" Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(normalise_email("not an email"), None);
        assert_eq!(
            normalise_phone("+44 7700 900123").as_deref(),
            Some("+447700900123")
        );
        assert_eq!(normalise_phone("hello"), None);
    }

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let text = "external_id,name,email,phone,tier\n\
                    c1,Ann Lee,ann@example.com,+44 20 7946 0958,gold\n\
                    \n\
                    c2,Bob,not-an-email,,\n\
                    c3,\"Multi\nLine\",c@example.com;d@example.com,,\n";
        let rows = parse_customers(text, ImportFormat::Csv).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].0, 2);
        let ann = rows[0].1.as_ref().unwrap();
        assert_eq!(ann.first_name.as_deref(), Some("Ann"));
        assert_eq!(ann.last_name.as_deref(), Some("Lee"));
        assert_eq!(rows[1].0, 4);
        assert!(rows[1].1.as_ref().unwrap_err().contains("not an email"));
        assert_eq!(rows[2].0, 5);
        assert_eq!(
            rows[2].1.as_ref().unwrap().emails.as_ref().unwrap().len(),
            2
        );
    }

    #[test]
    fn an_unknown_column_refuses_the_file() {
        let e = parse_customers("external_id,emial\nx,y\n", ImportFormat::Csv).unwrap_err();
        assert!(e.0.contains("emial"));
    }
}
