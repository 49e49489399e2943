-- The team's windowed measures (issue 14) are ranked from a copy of the last month's items that
-- each server keeps in memory (src/server/store/metrics_mirror.rs). This log tells every
-- instance which items changed in a way a measure reads: triggers append the item's id in the
-- transaction of the write, whichever path writes. Write transactions hold the event lock
-- (store/mod.rs), so sequence numbers become visible in order. Instances read the log from where
-- they left off; old rows are pruned (an instance behind the pruned part loads its copy whole).
CREATE TABLE metrics_changes (seq BIGSERIAL PRIMARY KEY, feedback_id TEXT NOT NULL);
-- An item's replies, read again with the item.
CREATE INDEX replies_feedback ON replies (feedback_id, created_at);
CREATE FUNCTION metrics_note_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO metrics_changes (feedback_id) VALUES (OLD.id);
    ELSE
        INSERT INTO metrics_changes (feedback_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION metrics_note_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO metrics_changes (feedback_id) VALUES (OLD.feedback_id);
    ELSE
        INSERT INTO metrics_changes (feedback_id) VALUES (NEW.feedback_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metrics_changes_insert AFTER INSERT OR DELETE ON feedback
    FOR EACH ROW EXECUTE FUNCTION metrics_note_item();
CREATE TRIGGER metrics_changes_update AFTER UPDATE ON feedback FOR EACH ROW
    WHEN (OLD.received_at IS DISTINCT FROM NEW.received_at
        OR OLD.first_reply_at IS DISTINCT FROM NEW.first_reply_at
        OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at
        OR OLD.sla_due_at IS DISTINCT FROM NEW.sla_due_at
        OR OLD.sentiment IS DISTINCT FROM NEW.sentiment
        OR OLD.sentiment_label IS DISTINCT FROM NEW.sentiment_label
        OR OLD.department IS DISTINCT FROM NEW.department
        OR OLD.assignee IS DISTINCT FROM NEW.assignee
        OR OLD.channel IS DISTINCT FROM NEW.channel
        OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION metrics_note_item();
CREATE TRIGGER metrics_changes_reply AFTER INSERT OR DELETE ON replies
    FOR EACH ROW EXECUTE FUNCTION metrics_note_reply();
