-- Triage (issue 13): the care model's label, confidence, kind, urgency and deciding cues on each
-- item; agents' corrections as training examples; each organisation's learned model.
-- Items stored before this migration keep a NULL label: it is derived from the score, as before.
ALTER TABLE feedback ADD COLUMN sentiment_label TEXT;
ALTER TABLE feedback ADD COLUMN sentiment_confidence REAL NOT NULL DEFAULT 0;
ALTER TABLE feedback ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
ALTER TABLE feedback ADD COLUMN urgency TEXT NOT NULL DEFAULT '';
ALTER TABLE feedback ADD COLUMN cues TEXT NOT NULL DEFAULT '[]';
ALTER TABLE feedback ADD COLUMN corrected BIGINT NOT NULL DEFAULT 0;
CREATE TABLE triage_corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at BIGINT NOT NULL, org TEXT NOT NULL, feedback_id TEXT NOT NULL REFERENCES feedback(id),
    agent_id TEXT NOT NULL, text TEXT NOT NULL, predicted_label TEXT NOT NULL, label TEXT NOT NULL,
    predicted_kind TEXT NOT NULL, kind TEXT NOT NULL
);
CREATE INDEX triage_corrections_org ON triage_corrections (org, id);
CREATE TABLE triage_models (
    org TEXT PRIMARY KEY, version BIGINT NOT NULL, state TEXT NOT NULL, updated_at BIGINT NOT NULL
);
