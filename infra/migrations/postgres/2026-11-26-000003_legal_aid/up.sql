-- Legal-aid applications (法律援助申请, issue #6): a worker asks for mediation, document
-- drafting or representation; an official accepts (assigning a lawyer) or rejects; the lawyer
-- or an official closes it with the outcome. Money is BIGINT fen.

CREATE TABLE legal_aid_applications (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES workers (id),
    org_id           TEXT NOT NULL REFERENCES organisations (id),
    org_path         TEXT NOT NULL,
    consultation_id  TEXT REFERENCES consultations (id),
    applicant        TEXT NOT NULL,
    phone            TEXT NOT NULL,
    counterparty     TEXT NOT NULL,
    summary          TEXT NOT NULL,
    amount_fen       BIGINT,
    -- The aid asked for: kind codes, comma-separated, in the order asked.
    aid              TEXT NOT NULL,
    held             BOOLEAN NOT NULL,
    status           TEXT NOT NULL,
    lawyer_id        TEXT REFERENCES lawyers (account_id),
    rejection_reason TEXT,
    outcome          TEXT,
    decided_by       TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX legal_aid_by_worker ON legal_aid_applications (account_id, created_at);
CREATE INDEX legal_aid_scope ON legal_aid_applications (org_path, created_at, id);
CREATE INDEX legal_aid_by_lawyer ON legal_aid_applications (lawyer_id, created_at, id);
