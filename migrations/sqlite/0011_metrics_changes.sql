-- The team's windowed measures (issue 14) are ranked from a copy of the last month's items that
-- each server keeps in memory (src/server/store/metrics_mirror.rs). This log tells every
-- instance which items changed in a way a measure reads: triggers append the item's id in the
-- transaction of the write, whichever path writes. Instances read the log from where they left
-- off; old rows are pruned (an instance behind the pruned part loads its copy whole).
CREATE TABLE metrics_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, feedback_id TEXT NOT NULL);
-- An item's replies, read again with the item.
CREATE INDEX replies_feedback ON replies (feedback_id, created_at);
CREATE TRIGGER metrics_changes_insert AFTER INSERT ON feedback BEGIN
    INSERT INTO metrics_changes (feedback_id) VALUES (NEW.id);
END;
CREATE TRIGGER metrics_changes_delete AFTER DELETE ON feedback BEGIN
    INSERT INTO metrics_changes (feedback_id) VALUES (OLD.id);
END;
CREATE TRIGGER metrics_changes_update AFTER UPDATE OF received_at, first_reply_at, resolved_at,
    sla_due_at, sentiment, sentiment_label, department, assignee, channel, customer_id ON feedback
    WHEN OLD.received_at IS NOT NEW.received_at OR OLD.first_reply_at IS NOT NEW.first_reply_at
        OR OLD.resolved_at IS NOT NEW.resolved_at OR OLD.sla_due_at IS NOT NEW.sla_due_at
        OR OLD.sentiment IS NOT NEW.sentiment OR OLD.sentiment_label IS NOT NEW.sentiment_label
        OR OLD.department IS NOT NEW.department OR OLD.assignee IS NOT NEW.assignee
        OR OLD.channel IS NOT NEW.channel OR OLD.customer_id IS NOT NEW.customer_id
BEGIN
    INSERT INTO metrics_changes (feedback_id) VALUES (NEW.id);
END;
CREATE TRIGGER metrics_changes_reply AFTER INSERT ON replies BEGIN
    INSERT INTO metrics_changes (feedback_id) VALUES (NEW.feedback_id);
END;
CREATE TRIGGER metrics_changes_reply_delete AFTER DELETE ON replies BEGIN
    INSERT INTO metrics_changes (feedback_id) VALUES (OLD.feedback_id);
END;
