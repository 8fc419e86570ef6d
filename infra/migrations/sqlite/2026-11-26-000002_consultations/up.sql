-- Online consultation (issue #6): the threads between a worker and a lawyer, and their
-- messages. Times are UTC; the SLA deadlines are computed by the category's clock.

CREATE TABLE consultations (
    id                      TEXT PRIMARY KEY,
    account_id              TEXT NOT NULL REFERENCES workers (id),
    -- The union that handles it: the worker's own as a member, else the root.
    org_id                  TEXT NOT NULL REFERENCES organisations (id),
    org_path                TEXT NOT NULL,
    category_code           TEXT NOT NULL REFERENCES consultation_categories (code),
    title                   TEXT NOT NULL,
    employer                TEXT,
    status                  TEXT NOT NULL,
    chosen_lawyer_id        TEXT REFERENCES lawyers (account_id),
    reserved_until          TIMESTAMP,
    lawyer_id               TEXT REFERENCES lawyers (account_id),
    first_response_due      TIMESTAMP,
    first_response_at       TIMESTAMP,
    resolution_due          TIMESTAMP,
    -- While pending: what the resolution clock had left, seconds.
    resolution_left_seconds BIGINT,
    resolved_at             TIMESTAMP,
    rating_stars            INTEGER,
    rating_comment          TEXT,
    rated_at                TIMESTAMP,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);
CREATE INDEX consultations_by_worker ON consultations (account_id, created_at);
CREATE INDEX consultations_by_lawyer ON consultations (lawyer_id, status, created_at);
CREATE INDEX consultations_pool ON consultations (status, category_code, created_at);
CREATE INDEX consultations_scope ON consultations (org_path, created_at, id);

CREATE TABLE consultation_messages (
    id              TEXT PRIMARY KEY,
    consultation_id TEXT NOT NULL REFERENCES consultations (id),
    -- worker, lawyer, official or system
    author          TEXT NOT NULL,
    author_id       TEXT,
    body            TEXT NOT NULL,
    held            BOOLEAN NOT NULL,
    trace_id        TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX consultation_messages_thread ON consultation_messages (consultation_id, id);
