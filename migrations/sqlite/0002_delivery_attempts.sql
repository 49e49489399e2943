-- Every attempt to hand an outbound message to its channel (webhook POSTs, retries included).
-- An attempt is recorded when it starts (http_status and error both NULL while in flight) and
-- completed when it ends; one still open after a restart was interrupted by the server stopping.
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL REFERENCES messages(id),
    attempt BIGINT NOT NULL, at BIGINT NOT NULL, http_status BIGINT, error TEXT,
    duration_us BIGINT, UNIQUE (message_id, attempt)
);
CREATE INDEX messages_delivery ON messages (direction, delivery_status);
