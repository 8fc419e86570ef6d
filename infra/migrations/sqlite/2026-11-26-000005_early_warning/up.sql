-- Employer early warning (issue #6): consultations name their employer by credit code or
-- by name; the key the warning compares (`credit:{code}` or `name:{normalised name}`) is
-- kept beside them. One rule (threshold within a window of days) and the alerts raised.

ALTER TABLE consultations ADD COLUMN employer_credit_code TEXT;
ALTER TABLE consultations ADD COLUMN employer_key TEXT;
CREATE INDEX consultations_by_employer ON consultations (employer_key, created_at);

-- One row: the rule in force (5 consultations within 7 days, the issue's example).
CREATE TABLE early_warning_rule (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    threshold   INTEGER NOT NULL,
    window_days INTEGER NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
INSERT INTO early_warning_rule (id, threshold, window_days, updated_at)
VALUES (1, 5, 7, CURRENT_TIMESTAMP);

CREATE TABLE employer_alerts (
    id              TEXT PRIMARY KEY,
    employer_key    TEXT NOT NULL,
    -- The employer's name as the latest consultation counted wrote it (or its code).
    employer        TEXT NOT NULL,
    -- The branch that holds every consultation counted.
    org_id          TEXT NOT NULL REFERENCES organisations (id),
    org_path        TEXT NOT NULL,
    consultations   INTEGER NOT NULL,
    threshold       INTEGER NOT NULL,
    window_days     INTEGER NOT NULL,
    first_at        TIMESTAMP NOT NULL,
    last_at         TIMESTAMP NOT NULL,
    -- open or acknowledged
    status          TEXT NOT NULL,
    acknowledged_by TEXT REFERENCES officials (id),
    acknowledged_at TIMESTAMP,
    note            TEXT,
    created_at      TIMESTAMP NOT NULL
);
-- At most one open alert an employer.
CREATE UNIQUE INDEX employer_alerts_one_open ON employer_alerts (employer_key) WHERE status = 'open';
CREATE INDEX employer_alerts_by_employer ON employer_alerts (employer_key, created_at);
CREATE INDEX employer_alerts_scope ON employer_alerts (org_path, created_at, id);
