-- The queue in index order for every role and filter, and full-text search (issue 15).
--
-- Each filter of GET /v1/feedback walks one of these indexes in (received_at, id) order, so a
-- page never sorts the rows below the cursor: a department's queue (with or without a status),
-- every department's (the same), one agent's or the unassigned items, one customer's. Several
-- departments are merged from one walk per department (src/server/store/queue.rs).
CREATE INDEX feedback_queue_status ON feedback (department, status, received_at, id);
CREATE INDEX feedback_status ON feedback (status, received_at, id);
CREATE INDEX feedback_assignee_queue ON feedback (assignee, received_at, id);
DROP INDEX feedback_customer;
CREATE INDEX feedback_customer ON feedback (customer_id, received_at, id);

-- Search: the item's words as src/server/store/search.rs normalises them (lower case, accents
-- removed, one space between words), written by the server with the item; NULL until the
-- server's start-up backfills a row stored before this migration. FTS5 indexes that column
-- through an external-content table kept by the triggers below (the ascii tokenizer splits
-- the normalised text exactly at its spaces). The FTS rowid is the feedback rowid: rebuild the
-- index (INSERT INTO feedback_fts(feedback_fts) VALUES ('rebuild')) after anything that could
-- renumber rowids, such as a VACUUM by hand.
ALTER TABLE feedback ADD COLUMN search_text TEXT;
-- The rows still to backfill, so that a start with none to do finds that out at once.
CREATE INDEX feedback_unsearched ON feedback (id) WHERE search_text IS NULL;
CREATE VIRTUAL TABLE feedback_fts USING fts5(
    search_text, content = 'feedback', content_rowid = 'rowid', tokenize = 'ascii'
);
CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback BEGIN
    INSERT INTO feedback_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback BEGIN
    INSERT INTO feedback_fts (feedback_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER feedback_fts_update AFTER UPDATE OF search_text ON feedback BEGIN
    INSERT INTO feedback_fts (feedback_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO feedback_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
