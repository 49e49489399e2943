-- Earshot reference CRM schema (PostgreSQL). Timestamps are microseconds since the Unix epoch (UTC);
-- money is a decimal string with its currency; booleans are 0/1; lists are JSON text.
CREATE TABLE departments (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE agents (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE agent_departments (
    agent_id TEXT NOT NULL REFERENCES agents(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    PRIMARY KEY (agent_id, department_id)
);
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id), scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT
);
CREATE TABLE customers (
    id TEXT PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, emails TEXT NOT NULL,
    phones TEXT NOT NULL, tier TEXT NOT NULL, ltv_amount TEXT NOT NULL, ltv_currency TEXT NOT NULL,
    language TEXT NOT NULL, preferred_channel TEXT NOT NULL, consent_email BIGINT NOT NULL,
    consent_sms BIGINT NOT NULL, consent_whatsapp BIGINT NOT NULL, consent_social_dm BIGINT NOT NULL,
    tags TEXT NOT NULL, roles TEXT NOT NULL, search TEXT NOT NULL, created_at BIGINT NOT NULL
);
CREATE TABLE identities (
    id TEXT PRIMARY KEY, network TEXT NOT NULL, handle TEXT NOT NULL, display_name TEXT NOT NULL,
    verified BIGINT NOT NULL, customer_id TEXT REFERENCES customers(id), UNIQUE (network, handle)
);
CREATE INDEX identities_customer ON identities (customer_id);
CREATE TABLE transactions (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id), kind TEXT NOT NULL,
    reference TEXT NOT NULL, description TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX transactions_customer ON transactions (customer_id, occurred_at);
CREATE TABLE feedback (
    id TEXT PRIMARY KEY, channel TEXT NOT NULL, origin TEXT NOT NULL,
    author_identity_id TEXT NOT NULL REFERENCES identities(id), customer_id TEXT REFERENCES customers(id),
    text TEXT NOT NULL, thread_id TEXT NOT NULL, url TEXT, external_id TEXT UNIQUE,
    received_at BIGINT NOT NULL, sentiment DOUBLE PRECISION NOT NULL, department TEXT NOT NULL,
    assignee TEXT REFERENCES agents(id), status TEXT NOT NULL, priority TEXT NOT NULL,
    sla_due_at BIGINT NOT NULL, version BIGINT NOT NULL
);
CREATE INDEX feedback_queue ON feedback (department, received_at, id);
CREATE INDEX feedback_received ON feedback (received_at, id);
CREATE INDEX feedback_assignee ON feedback (assignee, status);
CREATE INDEX feedback_customer ON feedback (customer_id, received_at);
CREATE TABLE messages (
    id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, feedback_id TEXT REFERENCES feedback(id),
    direction TEXT NOT NULL, visibility TEXT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL,
    author TEXT NOT NULL, body TEXT NOT NULL, delivery_status TEXT NOT NULL, status_reason TEXT,
    reply_id TEXT, created_at BIGINT NOT NULL
);
CREATE INDEX messages_thread ON messages (thread_id, created_at);
CREATE TABLE replies (
    id TEXT PRIMARY KEY, feedback_id TEXT NOT NULL REFERENCES feedback(id),
    agent_id TEXT NOT NULL REFERENCES agents(id), idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL, response TEXT NOT NULL, created_at BIGINT NOT NULL,
    UNIQUE (agent_id, idempotency_key)
);
CREATE TABLE history (
    id BIGSERIAL PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
    at BIGINT NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL, summary TEXT NOT NULL,
    feedback_id TEXT, sentiment DOUBLE PRECISION
);
CREATE INDEX history_customer ON history (customer_id, at);
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, department TEXT,
    data TEXT NOT NULL, created_at BIGINT NOT NULL
);
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, agent_id TEXT, action TEXT NOT NULL,
    target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL
);
