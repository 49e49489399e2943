-- A real organisation (issue 11, set-up half): agents say whether they take new work, items
-- remember why routing could not assign them, and the audit log can be read back by time.
ALTER TABLE agents ADD COLUMN availability TEXT NOT NULL DEFAULT 'available';
ALTER TABLE feedback ADD COLUMN unassigned_reason TEXT;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_agent ON audit_log (agent_id, id);
