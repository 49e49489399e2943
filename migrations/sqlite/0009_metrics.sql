-- The team's measures (issue 14, GET /v1/metrics/summary): when each item was first answered and
-- resolved, and when each identity was first seen and linked, kept on write so that the summary
-- reads ranges of indexes instead of replaying the event log.
ALTER TABLE feedback ADD COLUMN first_reply_at BIGINT;
ALTER TABLE feedback ADD COLUMN resolved_at BIGINT;
ALTER TABLE identities ADD COLUMN first_seen_at BIGINT;
ALTER TABLE identities ADD COLUMN linked_at BIGINT;
-- Backfill. First replies are the outbound messages already stored. No time was kept for earlier
-- resolutions, so items resolved before this migration are left out of resolution times. An
-- identity was first seen with its first post; one linked already counts as linked since then.
UPDATE feedback SET first_reply_at = (SELECT MIN(m.created_at) FROM messages m
    WHERE m.feedback_id = feedback.id AND m.direction = 'outbound');
UPDATE identities SET first_seen_at = (SELECT MIN(f.received_at) FROM feedback f
    WHERE f.author_identity_id = identities.id);
UPDATE identities SET first_seen_at = (SELECT c.created_at FROM customers c WHERE c.id = identities.customer_id)
    WHERE first_seen_at IS NULL;
UPDATE identities SET linked_at = first_seen_at WHERE customer_id IS NOT NULL;
-- Items stored before triage (0006) have no label: the one derived from the score (as the API
-- shows it), so that the summary can count labels in SQL.
UPDATE feedback SET sentiment_label = CASE WHEN sentiment <= -0.05 THEN 'negative'
    WHEN sentiment >= 0.05 THEN 'positive' ELSE 'neutral' END WHERE sentiment_label IS NULL;
-- Covering indexes: each measure over a window is one index range scan.
CREATE INDEX feedback_first_reply ON feedback (first_reply_at, received_at, department, assignee, channel);
CREATE INDEX feedback_resolved ON feedback (resolved_at, received_at, department, assignee, channel);
CREATE INDEX feedback_window ON feedback (received_at, department, assignee, channel, sentiment_label, sentiment, customer_id);
CREATE INDEX feedback_sla ON feedback (status, sla_due_at, department, assignee, channel, first_reply_at, resolved_at);
CREATE INDEX feedback_sla_due ON feedback (sla_due_at, department, assignee, channel, first_reply_at, resolved_at);
CREATE INDEX replies_created ON replies (created_at, feedback_id);
CREATE INDEX identities_first_seen ON identities (first_seen_at);
CREATE INDEX identities_linked ON identities (linked_at);
