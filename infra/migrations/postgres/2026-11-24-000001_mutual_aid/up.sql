-- Mutual aid (issue #5): plans as versioned data, enrolments, claims with their lines,
-- documents and timeline, and the idempotency keys that make a retried request answer the
-- same without acting twice. Money is BIGINT fen. JSON is TEXT.

CREATE TABLE mutual_aid_plans (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organisations (id),
    org_path   TEXT NOT NULL COLLATE "C",
    version    INTEGER NOT NULL,
    -- The rules of the latest version (PlanRules as JSON); starts_on copied for ordering.
    rules      TEXT NOT NULL,
    starts_on  DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mutual_aid_plans_scope ON mutual_aid_plans (org_path, starts_on, id);

-- Every saved version, so a claim is judged under the rules it was submitted under.
CREATE TABLE mutual_aid_plan_versions (
    plan_id  TEXT NOT NULL REFERENCES mutual_aid_plans (id),
    version  INTEGER NOT NULL,
    rules    TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at TIMESTAMP NOT NULL,
    PRIMARY KEY (plan_id, version)
);

CREATE TABLE mutual_aid_enrollments (
    id                TEXT PRIMARY KEY,
    plan_id           TEXT NOT NULL REFERENCES mutual_aid_plans (id),
    member_id         TEXT NOT NULL REFERENCES members (id),
    account_id        TEXT NOT NULL REFERENCES workers (id),
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    org_path          TEXT NOT NULL COLLATE "C",
    requested_on      DATE NOT NULL,
    -- The fee payment, once recorded: all set together, or none.
    payment_method    TEXT,
    amount_fen        BIGINT,
    payment_reference TEXT,
    recorded_by       TEXT,
    activated_on      DATE,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
-- Once per plan (a plan is one plan year).
CREATE UNIQUE INDEX mutual_aid_enrollments_member ON mutual_aid_enrollments (plan_id, member_id);
CREATE INDEX mutual_aid_enrollments_account ON mutual_aid_enrollments (account_id);
CREATE INDEX mutual_aid_enrollments_scope ON mutual_aid_enrollments (org_path, requested_on, id);

CREATE TABLE mutual_aid_claims (
    id              TEXT PRIMARY KEY,
    plan_id         TEXT NOT NULL REFERENCES mutual_aid_plans (id),
    plan_version    INTEGER NOT NULL,
    enrollment_id   TEXT NOT NULL REFERENCES mutual_aid_enrollments (id),
    member_id       TEXT NOT NULL REFERENCES members (id),
    account_id      TEXT NOT NULL REFERENCES workers (id),
    org_id          TEXT NOT NULL REFERENCES organisations (id),
    org_path        TEXT NOT NULL COLLATE "C",
    status          TEXT NOT NULL,
    claimed_fen     BIGINT,
    approved_fen    BIGINT,
    paid_fen        BIGINT,
    -- The last computed payout with its breakdown (Payout as JSON).
    breakdown       TEXT,
    first_reviewer  TEXT,
    second_reviewer TEXT,
    return_note     TEXT,
    rejection_code  TEXT,
    rejection_text  TEXT,
    bank_reference  TEXT,
    submitted_at    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX mutual_aid_claims_account ON mutual_aid_claims (account_id, created_at);
CREATE INDEX mutual_aid_claims_queue ON mutual_aid_claims (submitted_at, id, org_path);
CREATE INDEX mutual_aid_claims_enrollment ON mutual_aid_claims (enrollment_id, status);

CREATE TABLE mutual_aid_claim_lines (
    id                TEXT PRIMARY KEY,
    claim_id          TEXT NOT NULL REFERENCES mutual_aid_claims (id),
    position          INTEGER NOT NULL,
    hospital          TEXT NOT NULL,
    invoice_number    TEXT NOT NULL,
    -- hospital (spaces removed, full-width folded) || '|' || invoice number; NULL once the
    -- claim is rejected, which frees the invoice for a new claim.
    invoice_key       TEXT,
    treated_on        DATE NOT NULL,
    kind              TEXT NOT NULL,
    total_fen         BIGINT NOT NULL,
    insurance_fen     BIGINT NOT NULL,
    out_of_pocket_fen BIGINT NOT NULL,
    approved_fen      BIGINT,
    cut_reason        TEXT
);
CREATE UNIQUE INDEX mutual_aid_claim_lines_invoice ON mutual_aid_claim_lines (invoice_key);
CREATE INDEX mutual_aid_claim_lines_claim ON mutual_aid_claim_lines (claim_id, position);

CREATE TABLE mutual_aid_documents (
    id          TEXT PRIMARY KEY,
    claim_id    TEXT NOT NULL REFERENCES mutual_aid_claims (id),
    kind        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    object_key  TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    removed_at  TIMESTAMP
);
CREATE INDEX mutual_aid_documents_claim ON mutual_aid_documents (claim_id, uploaded_at);

CREATE TABLE mutual_aid_claim_events (
    id          TEXT PRIMARY KEY,
    claim_id    TEXT NOT NULL REFERENCES mutual_aid_claims (id),
    action      TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    note        TEXT,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX mutual_aid_claim_events_claim ON mutual_aid_claim_events (claim_id, at, id);

-- A retried request with the same Idempotency-Key (per account and route) answers what the
-- first answered. The row is written before the first request acts (status 0 while it runs).
CREATE TABLE idempotency_keys (
    account_id   TEXT NOT NULL,
    route        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, route, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
