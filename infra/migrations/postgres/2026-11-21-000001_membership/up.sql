-- Membership (issue #3): applications with their decision history, members, transfers.
-- Personal data: resident ID numbers are stored sealed (AES-256-GCM, `*_kid` names the key)
-- with an HMAC-SHA256 blind index beside them for uniqueness and lookup, and a masked form
-- for display. Every personal column is nullable so the retention task can erase it
-- (`erased_at` says when) while the record of what happened stays.

-- City, for workers choosing where to join; code, the member-number prefix; member_seq, the
-- last member number issued.
ALTER TABLE organisations ADD COLUMN city TEXT;
ALTER TABLE organisations ADD COLUMN code TEXT;
ALTER TABLE organisations ADD COLUMN member_seq BIGINT NOT NULL DEFAULT 0;
UPDATE organisations SET code = UPPER(SUBSTR(id, 29, 8));
CREATE UNIQUE INDEX organisations_code ON organisations (code);
CREATE INDEX organisations_city ON organisations (city);

CREATE TABLE membership_applications (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES workers (id),
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    org_path          TEXT NOT NULL COLLATE "C",
    status            TEXT NOT NULL,
    real_name         TEXT,
    id_number_kid     TEXT,
    id_number_sealed  TEXT,
    id_number_index   TEXT,
    id_number_masked  TEXT,
    birth_date        DATE,
    sex               TEXT,
    phone             TEXT,
    employer_name     TEXT,
    credit_code       TEXT,
    industry          TEXT,
    employment_form   TEXT NOT NULL,
    city              TEXT,
    consent_version   TEXT NOT NULL,
    consented_at      TIMESTAMP NOT NULL,
    -- The last (re)submission: the reviewers' waiting clock starts here.
    submitted_at      TIMESTAMP NOT NULL,
    decided_at        TIMESTAMP,
    decided_by        TEXT,
    reason_code       TEXT,
    reason            TEXT,
    missing           TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    erased_at         TIMESTAMP
);
-- One open application per person, whichever account it comes from.
CREATE UNIQUE INDEX membership_applications_open_person ON membership_applications (id_number_index)
    WHERE status IN ('submitted', 'returned');
CREATE INDEX membership_applications_account ON membership_applications (account_id, created_at);
-- The reviewers' queue, oldest first, with or without a status filter.
CREATE INDEX membership_applications_queue ON membership_applications (status, submitted_at, id);
CREATE INDEX membership_applications_by_age ON membership_applications (submitted_at, id);

CREATE TABLE membership_application_events (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES membership_applications (id),
    action         TEXT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT,
    reason_code    TEXT,
    reason         TEXT,
    missing        TEXT,
    at             TIMESTAMP NOT NULL
);
CREATE INDEX membership_application_events_application ON membership_application_events (application_id, at);

CREATE TABLE members (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES workers (id),
    application_id   TEXT NOT NULL REFERENCES membership_applications (id),
    member_number    TEXT NOT NULL UNIQUE,
    org_id           TEXT NOT NULL REFERENCES organisations (id),
    org_path         TEXT NOT NULL COLLATE "C",
    status           TEXT NOT NULL,
    real_name        TEXT,
    id_number_kid    TEXT,
    id_number_sealed TEXT,
    id_number_index  TEXT,
    id_number_masked TEXT,
    phone            TEXT,
    employment_form  TEXT NOT NULL,
    joined_on        DATE NOT NULL,
    ended_at         TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    erased_at        TIMESTAMP
);
-- One membership per person and per account.
CREATE UNIQUE INDEX members_active_person ON members (id_number_index) WHERE status = 'active';
CREATE UNIQUE INDEX members_active_account ON members (account_id) WHERE status = 'active';
CREATE INDEX members_org_path ON members (org_path, member_number);

-- Where a member belonged and when: joining, each transfer, the end.
CREATE TABLE membership_history (
    id          TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members (id),
    event       TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    from_org_id TEXT REFERENCES organisations (id),
    at          TIMESTAMP NOT NULL
);
CREATE INDEX membership_history_member ON membership_history (member_id, at);

CREATE TABLE membership_transfers (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL REFERENCES members (id),
    from_org_id     TEXT NOT NULL REFERENCES organisations (id),
    to_org_id       TEXT NOT NULL REFERENCES organisations (id),
    to_org_path     TEXT NOT NULL COLLATE "C",
    status          TEXT NOT NULL,
    reason          TEXT,
    requested_at    TIMESTAMP NOT NULL,
    decided_at      TIMESTAMP,
    decided_by      TEXT,
    decision_reason TEXT
);
-- One pending transfer per member.
CREATE UNIQUE INDEX membership_transfers_pending ON membership_transfers (member_id) WHERE status = 'requested';
CREATE INDEX membership_transfers_queue ON membership_transfers (status, requested_at, id);
