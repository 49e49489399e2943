-- The present state of the open work at any size (issue 14's target): the summary's SLA counts,
-- breached list, queue and agents' load read a few rows instead of every open item.
--
-- Items awaiting an answer, in due order, per scope: the breached list is one walk of an index
-- (merged per department), and what is not yet due is a short range at its end.
CREATE INDEX feedback_awaiting ON feedback (sla_due_at, id, department, assignee, channel)
    WHERE status IN ('new','open','pending');
CREATE INDEX feedback_awaiting_department ON feedback (department, sla_due_at, id, assignee, channel)
    WHERE status IN ('new','open','pending');
CREATE INDEX feedback_awaiting_assignee ON feedback (assignee, sla_due_at, id, department, channel)
    WHERE status IN ('new','open','pending');
-- Read as three runs by status and sorted whole, the cause of the 4 s breached list.
DROP INDEX feedback_sla;
-- Items by every column the summary filters or counts by (assignee '' for none: a key column
-- must not be NULL for the upsert to find its row), kept by triggers in the transaction of
-- each write, whichever path writes. SQLite has one writer, so no two transactions contend for
-- a row of it; PostgreSQL counts the items themselves (store/backlog.rs).
CREATE TABLE feedback_tally (
    department TEXT NOT NULL, assignee TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    priority TEXT NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (department, assignee, channel, status, priority)
);
INSERT INTO feedback_tally (department, assignee, channel, status, priority, n)
    SELECT department, COALESCE(assignee, ''), channel, status, priority, COUNT(*) FROM feedback
    GROUP BY department, COALESCE(assignee, ''), channel, status, priority;
CREATE TRIGGER feedback_tally_insert AFTER INSERT ON feedback BEGIN
    INSERT INTO feedback_tally (department, assignee, channel, status, priority, n)
        VALUES (NEW.department, COALESCE(NEW.assignee, ''), NEW.channel, NEW.status, NEW.priority, 1)
        ON CONFLICT (department, assignee, channel, status, priority) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER feedback_tally_delete AFTER DELETE ON feedback BEGIN
    UPDATE feedback_tally SET n = n - 1 WHERE department = OLD.department
        AND assignee = COALESCE(OLD.assignee, '') AND channel = OLD.channel
        AND status = OLD.status AND priority = OLD.priority;
END;
CREATE TRIGGER feedback_tally_update AFTER UPDATE OF department, assignee, channel, status, priority
    ON feedback
    WHEN OLD.department IS NOT NEW.department OR OLD.assignee IS NOT NEW.assignee
        OR OLD.channel IS NOT NEW.channel OR OLD.status IS NOT NEW.status
        OR OLD.priority IS NOT NEW.priority
BEGIN
    UPDATE feedback_tally SET n = n - 1 WHERE department = OLD.department
        AND assignee = COALESCE(OLD.assignee, '') AND channel = OLD.channel
        AND status = OLD.status AND priority = OLD.priority;
    INSERT INTO feedback_tally (department, assignee, channel, status, priority, n)
        VALUES (NEW.department, COALESCE(NEW.assignee, ''), NEW.channel, NEW.status, NEW.priority, 1)
        ON CONFLICT (department, assignee, channel, status, priority) DO UPDATE SET n = n + 1;
END;
