-- Customer data brought in from elsewhere, and identity resolution.
-- external_id: the customer's id in the organisation's own systems (imports are idempotent by it).
ALTER TABLE customers ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX customers_external_id ON customers (external_id);
-- Normalised addresses (case-folded email, E.164 phone) for matching authors to customers;
-- kept by the server from customers.emails and customers.phones.
CREATE TABLE customer_contacts (
    customer_id TEXT NOT NULL REFERENCES customers(id), kind TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (customer_id, kind, value)
);
CREATE INDEX customer_contacts_value ON customer_contacts (kind, value);
-- Imported transactions are idempotent by (customer, kind, reference).
CREATE INDEX transactions_reference ON transactions (customer_id, kind, reference);
-- A merged-away customer: its id answers 404 naming the survivor, and its external id keeps
-- finding the survivor on re-import.
CREATE TABLE customer_merges (
    from_id TEXT PRIMARY KEY, into_id TEXT NOT NULL, from_external_id TEXT, at BIGINT NOT NULL
);
CREATE INDEX customer_merges_external ON customer_merges (from_external_id);
