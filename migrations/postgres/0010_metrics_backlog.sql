-- The present state of the open work at any size (issue 14): items awaiting an answer, in due
-- order, per scope, so that the breached list is one walk of an index (merged per department)
-- and what is not yet due is a short range at its end. SQLite also keeps a tally of items by
-- triggers (its 0010); here the counts are read from these indexes: a tally row shared by
-- concurrent writers would serialise them, and deadlock transactions that move items between
-- two of its rows in opposite orders.
CREATE INDEX feedback_awaiting ON feedback (sla_due_at, id, department, assignee, channel)
    WHERE status IN ('new','open','pending');
CREATE INDEX feedback_awaiting_department ON feedback (department, sla_due_at, id, assignee, channel)
    WHERE status IN ('new','open','pending');
CREATE INDEX feedback_awaiting_assignee ON feedback (assignee, sla_due_at, id, department, channel)
    WHERE status IN ('new','open','pending');
DROP INDEX feedback_sla;
