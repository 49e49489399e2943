-- The queue in index order for every role and filter, and full-text search (issue 15); see
-- migrations/sqlite/0008_queue_search.sql for the why of each index.
CREATE INDEX feedback_queue_status ON feedback (department, status, received_at, id);
CREATE INDEX feedback_status ON feedback (status, received_at, id);
CREATE INDEX feedback_assignee_queue ON feedback (assignee, received_at, id);
DROP INDEX feedback_customer;
CREATE INDEX feedback_customer ON feedback (customer_id, received_at, id);

-- Search: the item's words as src/server/store/search.rs normalises them, NULL until the
-- server's start-up backfills an older row. The tsvector takes those words verbatim
-- (array_to_tsvector: no parser, no dictionary), so it holds exactly the words SQLite's FTS5
-- index holds; a GIN index answers `search @@ 'word':* & ...`.
ALTER TABLE feedback ADD COLUMN search_text TEXT;
-- The rows still to backfill, so that a start with none to do finds that out at once.
CREATE INDEX feedback_unsearched ON feedback (id) WHERE search_text IS NULL;
ALTER TABLE feedback ADD COLUMN search tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(COALESCE(search_text, ''), ' '))) STORED;
CREATE INDEX feedback_search ON feedback USING GIN (search);
