-- A signed intake for listening tools (issue 12). External ids were unique across every channel,
-- so a Facebook post reusing an X post's id was dropped as a repeat: they are now unique per
-- intake source (NULL for items logged over POST /v1/feedback) and channel.
ALTER TABLE feedback ADD COLUMN intake_source TEXT;
ALTER TABLE feedback DROP CONSTRAINT IF EXISTS feedback_external_id_key;
CREATE UNIQUE INDEX feedback_external ON feedback ((COALESCE(intake_source, '')), channel, external_id);
-- An intake source: a listening tool that posts signed webhooks to /v1/intake/{name}. Its secret
-- is not stored: it is derived from the server's intake key (a file outside the database) and
-- the salt; secret_hash (SHA-256 of the secret) tells a wrong key file from a bad signature.
CREATE TABLE intake_sources (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, channel TEXT, department TEXT REFERENCES departments(id),
    salt TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT
);
CREATE UNIQUE INDEX intake_sources_live_name ON intake_sources (name) WHERE revoked_at IS NULL;
-- The webhook ids a source has delivered, and the item each made: a repeat returns that item.
CREATE TABLE intake_webhooks (
    source TEXT NOT NULL, webhook_id TEXT NOT NULL, feedback_id TEXT NOT NULL REFERENCES feedback(id),
    at BIGINT NOT NULL, PRIMARY KEY (source, webhook_id)
);
